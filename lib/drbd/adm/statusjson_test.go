package adm

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestStatusJSONMerge: the replies of several resources print as one
// JSON array; a reply that is not an array is an error.
func TestStatusJSONMerge(t *testing.T) {
	r := &runner{}
	for _, text := range []string{`[{"name":"r0","role":"Primary"}]`, "[\n  {\"name\": \"r1\"}\n]"} {
		if err := r.collectStatus(text); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	if err := r.flushStatus(&b); err != nil {
		t.Fatal(err)
	}
	var v []map[string]any
	if err := json.Unmarshal([]byte(b.String()), &v); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if len(v) != 2 || v[0]["name"] != "r0" || v[1]["name"] != "r1" || v[0]["role"] != "Primary" {
		t.Errorf("merged: %v", v)
	}
	if err := r.collectStatus("r0 role:Primary"); err == nil {
		t.Error("text reply accepted as JSON")
	}
	b.Reset()
	(&runner{}).flushStatus(&b)
	if b.Len() != 0 {
		t.Errorf("nothing collected printed %q", b.String())
	}
}
