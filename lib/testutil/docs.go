package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// CheckDocs checks that every flag of a program's kong command line is in
// its man page (man/PROGRAM.8) and its bash, zsh and fish completions,
// and that the completions are valid scripts for each shell installed
// (make test installs bash, zsh and fish).
func CheckDocs(t *testing.T, cli any, program string) {
	t.Helper()
	k, err := kong.New(cli, kong.Name(program))
	if err != nil {
		t.Fatal(err)
	}
	root := moduleRoot()
	files := map[string]string{
		"man":  filepath.Join(root, "man", program+".8"),
		"bash": filepath.Join(root, "completions", "bash", program),
		"zsh":  filepath.Join(root, "completions", "zsh", "_"+program),
		"fish": filepath.Join(root, "completions", "fish", program+".fish"),
	}
	text := map[string]string{}
	for kind, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text[kind] = strings.ReplaceAll(string(b), "\\-", "-")
	}
	for _, fl := range k.Model.Flags {
		if fl.Name == "help" {
			continue
		}
		for kind, s := range text {
			want := "--" + fl.Name
			if kind == "fish" {
				want = "-l " + fl.Name
			}
			if !strings.Contains(s, want) {
				t.Errorf("%s: flag --%s is not documented", files[kind], fl.Name)
			}
		}
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if _, err := exec.LookPath(sh); err != nil {
			t.Logf("%s is not installed: %s not syntax-checked", sh, files[sh])
			continue
		}
		if out, err := exec.Command(sh, "-n", files[sh]).CombinedOutput(); err != nil {
			t.Errorf("%s -n %s: %v\n%s", sh, files[sh], err, out)
		}
	}
}
