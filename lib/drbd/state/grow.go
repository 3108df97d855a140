package state

// ResyncAfterGrow starts the resync of the area an online resize added
// (DRBD's resync_after_online_grow): the node that resyncs from its data
// (the Primary) becomes SyncSource, the other waits for the sync UUID.
// Both have already set the new area's bits. Only from Connected.
type ResyncAfterGrow struct{ Source bool }

func (ResyncAfterGrow) event() {}

func (m *Machine) resyncAfterGrow(e ResyncAfterGrow) Result {
	s := m.S
	if s.Conn != Connected || !hasLdev(s) {
		return NothingToDo
	}
	m.logf("Resync of new storage after online grow")
	ns := s
	ns.Conn = WFSyncUUID
	if e.Source {
		ns.Conn = SyncSource
	}
	return m.set(ns, true, true)
}
