package main

import (
	"os/exec"

	"fmt"
	"github.com/alecthomas/kong"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/linux-ha-go/ha/lib/lrm/lrmcli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"hb-lrmd": func() { os.Exit(int(lrmcli.Main(os.Args[1:]))) },
	})
}

func TestScripts(t *testing.T) {
	td, err := filepath.Abs("../../lib/lrm/agents/testdata")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(e *testscript.Env) error {
			e.Setenv("HA_RUNDIR", filepath.Join(e.WorkDir, "run"))
			e.Setenv("HA_CONFDIR", filepath.Join(td))
			e.Setenv("OCF_ROOT", filepath.Join(td, "ocf"))
			e.Setenv("AGENTS", td)
			e.Setenv("FENCE", filepath.Join(td, "../../../../contrib/fence"))
			e.Setenv("COMP", filepath.Join(td, "../../../../completions"))
			return nil
		},
		// [file:PATH] holds when PATH exists
		Condition: func(cond string) (bool, error) {
			if p, ok := strings.CutPrefix(cond, "file:"); ok {
				_, err := os.Stat(p)
				return err == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// waitsock PATH: wait until a daemon answers on a socket
			"waitsock": func(ts *testscript.TestScript, neg bool, args []string) {
				deadline := time.Now().Add(10 * time.Second)
				for {
					c, err := net.Dial("unix", ts.MkAbs(args[0]))
					if err == nil {
						c.Close()
						return
					}
					if time.Now().After(deadline) {
						ts.Fatalf("nothing answers on %s: %v", args[0], err)
					}
					time.Sleep(10 * time.Millisecond)
				}
			},
		},
	})
}

// Every subcommand is in the man page and in each shell's completion.
func TestDocsCoverCommands(t *testing.T) {
	k, err := kong.New(&lrmcli.CLI{})
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"../../man/hb-lrmd.8", "../../completions/bash/hb-lrmd", "../../completions/zsh/_hb-lrmd", "../../completions/fish/hb-lrmd.fish"}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range k.Model.Children {
			if !strings.Contains(string(b), c.Name) {
				t.Errorf("%s does not mention the subcommand %s", f, c.Name)
			}
			for _, fl := range c.Flags {
				mention := "--" + fl.Name
				if strings.HasSuffix(f, ".fish") {
					mention = "-l " + fl.Name
				}
				if strings.HasSuffix(f, ".8") {
					mention = `\-\-` + strings.ReplaceAll(fl.Name, "-", `\-`)
				}
				if fl.Name != "help" && !strings.Contains(string(b), mention) {
					t.Errorf("%s does not mention %s --%s", f, c.Name, fl.Name)
				}
			}
		}
	}
	if _, err := exec.LookPath("mandoc"); err == nil {
		out, err := exec.Command("mandoc", "-Tlint", "-Wwarning", files[0]).CombinedOutput()
		if err != nil {
			t.Errorf("mandoc -Tlint: %v\n%s", err, out)
		}
	}
}

// The systemd unit passes systemd-analyze verify.
func TestSystemdUnit(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("no systemd-analyze (Debian package systemd)")
	}
	b, err := os.ReadFile("../../contrib/systemd/hb-lrmd.service")
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	unit := filepath.Join(t.TempDir(), "hb-lrmd.service")
	os.WriteFile(unit, []byte(strings.ReplaceAll(string(b), "/usr/local/sbin/hb-lrmd", self)), 0o644)
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", unit).CombinedOutput()
	if err != nil || strings.Contains(string(out), "hb-lrmd.service:") {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, want := range []string{"Type=notify", "KillMode=process", "WatchdogSec=", "RuntimeDirectory=heartbeat"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("unit lacks %s", want)
		}
	}
}
