package cib

import (
	"os"
	"strings"
	"testing"
)

// The pair in testdata was written by Pacemaker 2.1.5's cibadmin on the
// live CIB path (CIB_file=/var/lib/pacemaker/cib/cib.xml), which writes
// cib.xml.sig with calculate_on_disk_digest.
func TestDigestMatchesPacemaker(t *testing.T) {
	c, err := ParseFile("testdata/pacemaker-live.xml")
	if err != nil {
		t.Fatal(err)
	}
	sig, err := os.ReadFile("testdata/pacemaker-live.xml.sig")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Digest(), strings.TrimSpace(string(sig)); got != want {
		t.Fatalf("digest %s, Pacemaker wrote %s\ncanonical: %q", got, want, Canonical(c.Root()))
	}
}
