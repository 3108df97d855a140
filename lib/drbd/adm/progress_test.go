package adm

import "testing"

const syncingJSON = `[{"name":"r0","connections":[{"peer_devices":[
 {"volume":0,"out-of-sync":0,"has-sync-details":false},
 {"volume":1,"out-of-sync":3000,"has-sync-details":true,"godrbd-resync-total":8000}]}]}]`

// TestParseProgress: the volume's resync total and rest come from
// status --json; a volume that does not resync reports no progress.
func TestParseProgress(t *testing.T) {
	p, err := parseProgress(syncingJSON, 1)
	if err != nil || !p.ok || p.total != 8000 || p.left != 3000 {
		t.Errorf("volume 1: %+v %v", p, err)
	}
	if p, err := parseProgress(syncingJSON, 0); err != nil || p.ok {
		t.Errorf("volume 0 (not syncing): %+v %v", p, err)
	}
	// Bits set by writes after the start may exceed the total.
	p, _ = parseProgress(`[{"connections":[{"peer_devices":[{"volume":0,"out-of-sync":9,"has-sync-details":true,"godrbd-resync-total":4}]}]}]`, 0)
	if p.left != 4 {
		t.Errorf("left %d > total 4", p.left)
	}
	if _, err := parseProgress("r0 role:Primary", 0); err == nil {
		t.Error("text accepted")
	}
}

func FuzzParseProgress(f *testing.F) {
	f.Add(syncingJSON, 1)
	f.Add(`[]`, 0)
	f.Add(`[{"connections":null}]`, 0)
	f.Fuzz(func(t *testing.T, text string, vnr int) {
		p, err := parseProgress(text, vnr)
		if err == nil && p.left > p.total {
			t.Errorf("left %d > total %d", p.left, p.total)
		}
	})
}
