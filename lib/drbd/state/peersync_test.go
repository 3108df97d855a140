package state

import "testing"

// connectedPair returns a machine Connected to a peer, with the given
// role and disk states, the peer's UUIDs equal to ours.
func connectedPair(role Role, disk, pdsk Disk) *Machine {
	var n uint64
	m := NewMachine(Config{}, Policies{}, func() uint64 { n++; return n << 12 })
	m.UUID = UUIDs{Current: 0xABC0}
	m.peerUUIDs = m.UUID
	m.Env.HasNetConf = true
	m.S = State{Role: role, Peer: Secondary, Conn: Connected, Disk: disk, PDsk: pdsk}
	return m
}

// TestPeerStartsSync: a Connected node follows the peer's invalidate and
// invalidate-remote only when the sync source has UpToDate data; a
// refusal sets no bit and drops the connection.
func TestPeerStartsSync(t *testing.T) {
	cases := []struct {
		name              string
		role              Role
		disk, pdsk        Disk
		peerDisk          Disk
		peerConn          Conn
		want              Conn // the connection state afterwards
		wantRV            Result
		setsBits, dropped bool
	}{
		// (a) a lying peer: Inconsistent, yet sync source.
		{"primary, peer Inconsistent claims StartingSyncS", Primary, UpToDate, UpToDate, Inconsistent, StartingSyncS, StandAlone, NoUpToDateDisk, false, true},
		{"secondary, peer Outdated claims StartingSyncS", Secondary, UpToDate, UpToDate, Outdated, StartingSyncS, StandAlone, NoUpToDateDisk, false, true},
		{"secondary, peer Consistent claims StartingSyncS", Secondary, UpToDate, Consistent, Consistent, StartingSyncS, StandAlone, NoUpToDateDisk, false, true},
		// (b) the peer ran invalidate-remote with UpToDate data.
		{"secondary, peer UpToDate StartingSyncS", Secondary, UpToDate, UpToDate, UpToDate, StartingSyncS, StartingSyncT, Success, true, false},
		{"primary, peer UpToDate StartingSyncS", Primary, UpToDate, UpToDate, UpToDate, StartingSyncS, StartingSyncT, Success, true, false},
		{"inconsistent secondary, peer UpToDate StartingSyncS", Secondary, Inconsistent, UpToDate, UpToDate, StartingSyncS, StartingSyncT, Success, true, false},
		// (c) the peer ran invalidate.
		{"uptodate, peer StartingSyncT", Secondary, UpToDate, UpToDate, Outdated, StartingSyncT, StartingSyncS, Success, true, false},
		{"uptodate primary, peer StartingSyncT", Primary, UpToDate, UpToDate, Inconsistent, StartingSyncT, StartingSyncS, Success, true, false},
		{"inconsistent, peer StartingSyncT", Secondary, Inconsistent, UpToDate, Outdated, StartingSyncT, StandAlone, NoUpToDateDisk, false, true},
		{"outdated, peer StartingSyncT", Secondary, Outdated, UpToDate, Inconsistent, StartingSyncT, StandAlone, NoUpToDateDisk, false, true},
		{"uptodate, diskless peer claims StartingSyncT", Primary, UpToDate, Diskless, Diskless, StartingSyncT, StandAlone, NoRemoteDisk, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := connectedPair(c.role, c.disk, c.pdsk)
			rv, acts, log := m.Step(PeerState{Role: Secondary, Disk: c.peerDisk, Conn: c.peerConn, UUIDs: m.UUID})
			if rv != c.wantRV {
				t.Errorf("result %v, want %v; log %q", rv, c.wantRV, log)
			}
			if m.S.Conn != c.want {
				t.Errorf("state %s, want cs:%s", m.S, c.want)
			}
			if m.S.Role != c.role {
				t.Errorf("role changed: %s", m.S)
			}
			var sets, drops bool
			for _, a := range acts {
				sets = sets || a.Kind == ActSetBitmap
				drops = drops || a.Kind == ActDropNet
			}
			if sets != c.setsBits {
				t.Errorf("set-all-bits %v, want %v (actions %v)", sets, c.setsBits, acts)
			}
			if drops != c.dropped {
				t.Errorf("drop-connection %v, want %v (actions %v)", drops, c.dropped, acts)
			}
			if c.dropped && m.S.Disk != c.disk {
				t.Errorf("a refusal changed the local disk: %s", m.S)
			}
		})
	}
}
