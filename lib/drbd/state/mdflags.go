package state

// Meta-data flag bits (MDF_*), as lib/drbd/meta stores them.
const (
	MDFConsistent     uint32 = 0x01
	MDFPrimaryInd     uint32 = 0x02
	MDFConnectedInd   uint32 = 0x04
	MDFFullSync       uint32 = 0x08
	MDFWasUpToDate    uint32 = 0x10
	MDFPeerOutDated   uint32 = 0x20
	MDFCrashedPrimary uint32 = 0x40
	MDFALClean        uint32 = 0x80
)

// MDFlags returns the super block flags for state s, from the old flags,
// as DRBD recomputes them on every state change (__drbd_set_state):
// AL_CLEAN is cleared (the device is in use), the state flags follow s,
// other bits (FULL_SYNC, AL_DISABLED) are kept.
func MDFlags(s State, old uint32, crashedPrimary bool) uint32 {
	f := old &^ (MDFConsistent | MDFPrimaryInd | MDFConnectedInd | MDFWasUpToDate | MDFPeerOutDated | MDFCrashedPrimary | MDFALClean)
	if crashedPrimary {
		f |= MDFCrashedPrimary
	}
	if s.Role == Primary || (s.PDsk < Inconsistent && s.Peer == Primary) {
		f |= MDFPrimaryInd
	}
	if s.Conn > WFReportParams {
		f |= MDFConnectedInd
	}
	if s.Disk > Inconsistent {
		f |= MDFConsistent
	}
	if s.Disk > Outdated {
		f |= MDFWasUpToDate
	}
	if s.PDsk <= Outdated && s.PDsk >= Inconsistent {
		f |= MDFPeerOutDated
	}
	return f
}

// AttachFrom is the Attach event for meta data with these flags.
func AttachFrom(flags uint32) Attach {
	return Attach{
		Consistent:   flags&MDFConsistent != 0,
		WasUpToDate:  flags&MDFWasUpToDate != 0,
		PeerOutdated: flags&MDFPeerOutDated != 0,
		PrimaryInd:   flags&MDFPrimaryInd != 0,
	}
}
