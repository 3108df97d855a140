package state

import (
	"testing"

	"github.com/linux-ha-go/ha/lib/drbd/meta"
)

// The flag bits here and in lib/drbd/meta are the same on-disk bits.
func TestMDFlagsMatchMeta(t *testing.T) {
	pairs := [][2]uint32{
		{MDFConsistent, meta.FlagConsistent}, {MDFPrimaryInd, meta.FlagPrimaryInd},
		{MDFConnectedInd, meta.FlagConnectedInd}, {MDFFullSync, meta.FlagFullSync},
		{MDFWasUpToDate, meta.FlagWasUpToDate}, {MDFPeerOutDated, meta.FlagPeerOutDated},
		{MDFCrashedPrimary, meta.FlagCrashedPrimary}, {MDFALClean, meta.FlagALClean},
	}
	for _, p := range pairs {
		if p[0] != p[1] {
			t.Errorf("flag 0x%x here, 0x%x in meta", p[0], p[1])
		}
	}
	if JustCreated != meta.JustCreated {
		t.Error("JustCreated differs")
	}
}
