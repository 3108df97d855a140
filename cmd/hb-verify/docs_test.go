package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/linux-ha-go/ha/lib/cibverify"
)

// Every flag of the command line is in the man page and in the bash,
// zsh and fish completions, and the completions are valid scripts.
func TestDocsAndCompletions(t *testing.T) {
	k, err := kong.New(&cibverify.CLI{}, kong.Name("hb-verify"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"man":  "../../man/hb-verify.8",
		"bash": "../../completions/bash/hb-verify",
		"zsh":  "../../completions/zsh/_hb-verify",
		"fish": "../../completions/fish/hb-verify.fish",
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
	for sh, f := range map[string]string{"bash": files["bash"], "zsh": files["zsh"], "fish": files["fish"]} {
		if _, err := exec.LookPath(sh); err != nil {
			continue
		}
		if out, err := exec.Command(sh, "-n", f).CombinedOutput(); err != nil {
			t.Errorf("%s -n %s: %v\n%s", sh, f, err, out)
		}
	}
}
