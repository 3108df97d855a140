package logging

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFilesAndLevels(t *testing.T) {
	dir := t.TempDir()
	var console bytes.Buffer
	log, closeLog, err := New(Options{Program: "hb-test", Stderr: &console, ForceConsole: true,
		Logfile: filepath.Join(dir, "ha-log"), Debugfile: filepath.Join(dir, "ha-debug")})
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("debug line", "node", "node1")
	log.Warn("node node2: is dead", "node", "node2")
	if err := closeLog(); err != nil {
		t.Fatal(err)
	}
	logf, _ := os.ReadFile(filepath.Join(dir, "ha-log"))
	debugf, _ := os.ReadFile(filepath.Join(dir, "ha-debug"))
	if strings.Contains(string(logf), "debug line") || !strings.Contains(string(logf), `msg="node node2: is dead" node=node2`) {
		t.Errorf("logfile:\n%s", logf)
	}
	if !strings.Contains(string(debugf), "debug line") || !strings.Contains(string(debugf), "is dead") {
		t.Errorf("debugfile:\n%s", debugf)
	}
	if strings.Contains(console.String(), "debug line") || !strings.Contains(console.String(), "is dead") {
		t.Errorf("console:\n%s", console.String())
	}
}

func TestBadFacilityAndFile(t *testing.T) {
	if _, _, err := New(Options{Program: "x", Facility: "bogus", Stderr: &bytes.Buffer{}, ForceConsole: true}); err == nil || !strings.Contains(err.Error(), `log facility "bogus" is not valid`) {
		t.Fatalf("bogus facility: %v", err)
	}
	if _, _, err := New(Options{Program: "x", Logfile: "/nonexistent/dir/log", Stderr: &bytes.Buffer{}, ForceConsole: true}); err == nil {
		t.Fatal("unwritable logfile accepted")
	}
}
