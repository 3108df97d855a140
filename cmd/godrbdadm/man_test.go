package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestManPages: the man pages format without warnings and document every
// visible command.
func TestManPages(t *testing.T) {
	if _, err := exec.LookPath("groff"); err != nil {
		t.Skip("groff (Debian package groff-base) is not installed")
	}
	for _, page := range []string{"godrbdadm.8", "drbd.conf.5"} {
		p := filepath.Join("..", "..", "man", page)
		cmd := exec.Command("groff", "-man", "-Tutf8", "-ww", "-z", p)
		cmd.Env = append(cmd.Environ(), "LC_ALL=C")
		out, err := cmd.CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("%s: groff: %v\n%s", page, err, out)
		}
	}
	src, err := os.ReadFile(filepath.Join("..", "..", "man", "godrbdadm.8"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(src), "\\-", "-")
	for _, c := range []string{"up", "down", "primary", "secondary", "connect", "disconnect", "create-md", "dump", "dump-xml", "sh-resources", "status", "wait-connect", "new-current-uuid", "proc"} {
		if !strings.Contains(text, c) {
			t.Errorf("godrbdadm(8) does not mention %s", c)
		}
	}
}
