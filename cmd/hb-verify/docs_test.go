package main

import (
	"testing"

	"github.com/linux-ha-go/ha/lib/cibverify"
	"github.com/linux-ha-go/ha/lib/testutil"
)

// Every flag of the command line is in the man page and in the bash,
// zsh and fish completions, and the completions are valid scripts.
func TestDocsAndCompletions(t *testing.T) {
	testutil.CheckDocs(t, &cibverify.CLI{}, "hb-verify")
}
