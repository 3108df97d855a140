package state

// afterDisklessPeer is the part of after_state_ch that concerns a peer
// without a disk (drbd_state.c, "Became primary while diskless"): this
// node holds the only disk of the pair, so when the diskless peer
// becomes Primary the data is about to change without a second copy, and
// this node starts a new data generation (the old current UUID becomes
// the bitmap UUID; the blocks the peer writes are marked out of sync
// here). A disk that attaches on the peer later is then resynced instead
// of being taken as equal. When the diskless peer becomes Secondary
// again the bitmap goes to disk.
func (m *Machine) afterDisklessPeer(os, ns State) {
	if ns.PDsk >= Inconsistent || !hasLdev(ns) {
		return
	}
	if os.Peer == Secondary && ns.Peer == Primary && m.UUID.Bitmap == 0 && ns.Disk >= UpToDate {
		m.UUID = m.UUID.NewCurrent(m.Rand(), ns.Role == Primary)
		m.logf("new current UUID %s", m.UUID)
		m.act(ActWriteMeta, "")
		m.act(ActSendUUIDs, "")
	}
	if os.Peer == Primary && ns.Peer == Secondary {
		m.act(ActWriteBitmap, "")
	}
}

// PeerReadable reports whether a volume in state s can serve application
// I/O through its peer: connected (or syncing) to a peer whose disk is
// UpToDate. Reads of blocks that are not UpToDate here go to the peer
// (P_DATA_REQUEST) and writes need the peer's acknowledgement.
func PeerReadable(s State) bool {
	return s.Conn >= Connected && s.PDsk == UpToDate
}

// NoDataReason says, in a sentence an administrator can act on, why a
// Primary in state s cannot serve I/O, or "" when it can: its local
// data is UpToDate, or its peer's is and the peer is reachable.
func NoDataReason(s State) string {
	if s.Role != Primary || s.Disk == UpToDate || PeerReadable(s) {
		return ""
	}
	switch {
	case s.Disk == Diskless && s.Conn < Connected:
		return "Diskless Primary without a connection: no UpToDate data in reach, I/O fails until the peer reconnects or a disk is attached"
	case s.Disk == Diskless:
		return "Diskless Primary and the peer's disk is " + s.PDsk.String() + ": I/O fails"
	case s.Conn < Connected:
		return "local disk " + s.Disk.String() + " and no connection to an UpToDate peer: I/O to blocks not in sync fails until the peer reconnects"
	}
	return "local disk " + s.Disk.String() + " and the peer's disk " + s.PDsk.String() + ": no UpToDate data, I/O fails"
}
