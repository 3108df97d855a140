package daemon

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/linux-ha-go/ha/lib/drbd/state"
)

// Status is a resource in `drbdsetup status --json`'s layout.
type Status struct {
	Name      string `json:"name"`
	NodeID    int    `json:"node-id"`
	Role      string `json:"role"`
	Suspended bool   `json:"suspended"`
	// SuspendedWhy is why IO is frozen, in the words of drbdsetup
	// status: user, no-data, fencing (godrbd's own field).
	SuspendedWhy []string           `json:"godrbd-suspended,omitempty"`
	WriteOrder   string             `json:"write-ordering"`
	Devices      []DeviceStatus     `json:"devices"`
	Connections  []ConnectionStatus `json:"connections"`
}

// DeviceStatus is one volume.
type DeviceStatus struct {
	Volume      int    `json:"volume"`
	Minor       int    `json:"minor"`
	DiskState   string `json:"disk-state"`
	Client      bool   `json:"client"`
	Quorum      bool   `json:"quorum"`
	Size        int64  `json:"size"`
	Read        uint64 `json:"read"`
	Written     uint64 `json:"written"`
	ALWrites    uint64 `json:"al-writes"`
	BMWrites    uint64 `json:"bm-writes"`
	UpperPend   int    `json:"upper-pending"`
	LowerPend   int    `json:"lower-pending"`
	ALSuspended bool   `json:"al-suspended"`
	Blocked     string `json:"blocked"`
	// NoData says why a Primary without UpToDate data in reach fails
	// I/O (godrbd's own field; peerread.go).
	NoData string `json:"godrbd-no-data,omitempty"`
	// Frozen says why application IO is frozen and what thaws it
	// (godrbd's own field).
	Frozen string `json:"godrbd-frozen,omitempty"`
}

// ConnectionStatus is the peer.
type ConnectionStatus struct {
	PeerNodeID       int                `json:"peer-node-id"`
	Name             string             `json:"name"`
	ConnectionState  string             `json:"connection-state"`
	Congested        bool               `json:"congested"`
	PeerRole         string             `json:"peer-role"`
	APInFlight       int                `json:"ap-in-flight"`
	RSInFlight       int                `json:"rs-in-flight"`
	PeerDevices      []PeerDeviceStatus `json:"peer_devices"`
	ConnectionStateC string             `json:"-"`
	// LastError is why this node last dropped the connection, while it
	// is not connected (godrbd's own field).
	LastError string `json:"godrbd-last-error,omitempty"`
}

// PeerDeviceStatus is the peer's side of a volume. Received and Sent
// are KiB; ResyncBlocksSent/Received count 4 KiB blocks moved by resync
// (godrbd's own fields).
type PeerDeviceStatus struct {
	Volume               int     `json:"volume"`
	ReplicationState     string  `json:"replication-state"`
	PeerDiskState        string  `json:"peer-disk-state"`
	PeerClient           bool    `json:"peer-client"`
	ResyncSuspended      string  `json:"resync-suspended"`
	Received             uint64  `json:"received"`
	Sent                 uint64  `json:"sent"`
	OutOfSync            uint64  `json:"out-of-sync"`
	Pending              int     `json:"pending"`
	Unacked              int     `json:"unacked"`
	HasSyncDetails       bool    `json:"has-sync-details"`
	HasOnlineVerify      bool    `json:"has-online-verify-details"`
	PercentInSync        float64 `json:"percent-in-sync"`
	ResyncBlocksSent     uint64  `json:"godrbd-resync-blocks-sent"`
	ResyncBlocksReceived uint64  `json:"godrbd-resync-blocks-received"`
	BarriersReceived     uint64  `json:"godrbd-barriers-received"`
	ResyncTotal          uint64  `json:"godrbd-resync-total,omitempty"` // KiB to resync when the resync started
	ResyncSameCsum       uint64  `json:"godrbd-resync-same-csum"`       // 4 KiB blocks csums-alg found equal
	ResyncWant           int64   `json:"godrbd-resync-want,omitempty"`  // the resync controller's rate on the sync target, KiB/s (/proc/drbd's want:)
}

// connName maps 8.4 connection states to DRBD 9's names, as
// drbdsetup-84 status does.
func connName(c state.Conn) string {
	switch {
	case c == state.WFConnection || c == state.WFReportParams || c == state.Unconnected:
		return "Connecting"
	case c >= state.Connected:
		return "Connected"
	}
	return c.String()
}

func (r *Resource) status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := Status{Name: r.name, Role: "Secondary", WriteOrder: "flush"}
	var vnrs []int
	for n := range r.vols {
		vnrs = append(vnrs, n)
	}
	sort.Ints(vnrs)
	peerName := "peer"
	if r.cfg.Peer != nil && r.cfg.Peer.Node != "" {
		peerName = strings.Fields(r.cfg.Peer.Node)[0]
	}
	cs := ConnectionStatus{PeerNodeID: 1, Name: peerName, ConnectionState: "StandAlone", PeerRole: "Unknown"}
	for _, n := range vnrs {
		v := r.vols[n]
		s := v.m.S
		if s.Role == state.Primary {
			st.Role = "Primary"
		}
		st.Suspended = st.Suspended || s.Suspended()
		for _, why := range []struct {
			on   bool
			name string
		}{{s.Susp, "user"}, {s.SuspNod, "no-data"}, {s.SuspFen, "fencing"}} {
			if why.on && !slices.Contains(st.SuspendedWhy, why.name) {
				st.SuspendedWhy = append(st.SuspendedWhy, why.name)
			}
		}
		st.Devices = append(st.Devices, DeviceStatus{Volume: n, Minor: v.minor, DiskState: s.Disk.String(), Quorum: true,
			Size: v.size / 1024, Read: v.dr.Load(), Written: v.dw.Load(), ALWrites: v.alWrites.Load(), BMWrites: v.bmWrites.Load(), Blocked: "no", NoData: v.noDataReason(), Frozen: v.frozenText()})
		cs.ConnectionState = connName(s.Conn)
		if s.Conn >= state.Connected {
			cs.PeerRole = s.Peer.String()
		} else if e := v.lastErr; e != nil && cs.LastError == "" {
			cs.LastError = e.at.UTC().Format(time.RFC3339) + " " + e.reason
		}
		pd := PeerDeviceStatus{Volume: n, ReplicationState: s.Conn.String(), PeerDiskState: s.PDsk.String(),
			ResyncSuspended: "no", Received: v.nr.Load(), Sent: v.ns.Load(), OutOfSync: v.bits() * 4,
			ResyncBlocksSent: v.rsBlocksSent.Load(), ResyncBlocksReceived: v.rsBlocksRecv.Load(), BarriersReceived: v.barriers.Load(), PercentInSync: 100,
			ResyncSameCsum: v.rsSameCsum.Load()}
		if s.Conn == state.Connected {
			pd.ReplicationState = "Established"
		}
		if s.Conn < state.Connected {
			pd.ReplicationState = "Off"
		}
		if v.bm != nil && v.bm.Len() > 0 {
			pd.PercentInSync = 100 * float64(v.bm.Len()-v.bm.Count()) / float64(v.bm.Len())
		}
		if v.syncing() {
			pd.HasSyncDetails = true
			pd.ResyncTotal = v.rsTotal * 4
			pd.ResyncWant = v.pace.want.Load()
		}
		var sus []string
		if s.UserIsp {
			sus = append(sus, "user")
		}
		if s.PeerIsp {
			sus = append(sus, "peer")
		}
		if s.AftrIsp {
			sus = append(sus, "dependency")
		}
		if len(sus) > 0 {
			pd.ResyncSuspended = strings.Join(sus, ",")
		}
		cs.PeerDevices = append(cs.PeerDevices, pd)
	}
	st.Connections = []ConnectionStatus{cs}
	return st
}

// frozenText says why application IO is frozen and what thaws it
// (r.mu held); empty when it is not.
func (v *Volume) frozenText() string {
	s := v.m.S
	var why []string
	if s.SuspFen {
		if v.fencing > 0 {
			why = append(why, "fence-peer is running; I/O resumes when it has outdated the peer or when the peer comes back")
		} else {
			why = append(why, fmt.Sprintf("fence-peer failed (exit %d); I/O resumes when the peer comes back, or, once the peer is known to be down or outdated: godrbdadm resume-io %s", v.fenceExit, v.r.name))
		}
	}
	if s.SuspNod {
		why = append(why, fmt.Sprintf("no UpToDate data in reach; I/O resumes when the peer comes back or a disk with UpToDate data is attached (godrbdadm resume-io %s fails the waiting requests)", v.r.name))
	}
	if s.Susp {
		why = append(why, fmt.Sprintf("by suspend-io; godrbdadm resume-io %s resumes it", v.r.name))
	}
	return strings.Join(why, "; ")
}

// doneOf is the resync progress in percent for a volume (r.mu held).
func (v *Volume) doneOf() float64 {
	if v.rsTotal == 0 || v.bm == nil {
		return 100
	}
	left := v.bm.Count()
	return 100 * float64(v.rsTotal-min(left, v.rsTotal)) / float64(v.rsTotal)
}

func (r *Resource) statusText(asJSON bool) string {
	st := r.status()
	if asJSON {
		b, _ := json.MarshalIndent([]Status{st}, "", "  ")
		return string(b)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s role:%s", st.Name, st.Role)
	if st.Suspended {
		b.WriteString(" suspended:" + strings.Join(st.SuspendedWhy, ","))
	}
	b.WriteString("\n")
	multi := len(st.Devices) > 1
	for _, d := range st.Devices {
		if multi || d.Volume != 0 {
			fmt.Fprintf(&b, "  volume:%d disk:%s\n", d.Volume, d.DiskState)
		} else {
			fmt.Fprintf(&b, "  disk:%s\n", d.DiskState)
		}
		if d.NoData != "" {
			fmt.Fprintf(&b, "    no-data: %s\n", d.NoData)
		}
		if d.Frozen != "" {
			fmt.Fprintf(&b, "    suspended: %s\n", d.Frozen)
		}
	}
	c := st.Connections[0]
	r.mu.Lock()
	netConf := r.netConf
	r.mu.Unlock()
	if !netConf && c.ConnectionState == "StandAlone" {
		// no connection configured: drbdsetup prints the peer as StandAlone
	}
	if c.ConnectionState == "Connected" {
		fmt.Fprintf(&b, "  %s role:%s\n", c.Name, c.PeerRole)
	} else {
		fmt.Fprintf(&b, "  %s connection:%s\n", c.Name, c.ConnectionState)
		sb := r.splitBrainText()
		b.WriteString(sb)
		if c.LastError != "" && sb == "" {
			fmt.Fprintf(&b, "    last-error: %s\n", c.LastError)
			if c.ConnectionState == "StandAlone" {
				fmt.Fprintf(&b, "    after fixing its cause: godrbdadm connect %s\n", r.name)
			}
		}
	}
	if c.ConnectionState == "Connected" {
		for _, pd := range c.PeerDevices {
			pre := "    "
			if multi || pd.Volume != 0 {
				pre += fmt.Sprintf("volume:%d ", pd.Volume)
			}
			fmt.Fprintf(&b, "%sreplication:%s peer-disk:%s", pre, pd.ReplicationState, pd.PeerDiskState)
			if pd.HasSyncDetails {
				r.mu.Lock()
				done := 100.0
				if v := r.vols[pd.Volume]; v != nil {
					done = v.doneOf()
				}
				r.mu.Unlock()
				fmt.Fprintf(&b, " done:%.2f", done)
			}
			if pd.ResyncSuspended != "no" {
				fmt.Fprintf(&b, " resync-suspended:%s", pd.ResyncSuspended)
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("\n")
	return b.String()
}

// procText is /proc/drbd.
func (d *Daemon) procText() string {
	var b strings.Builder
	b.WriteString("version: 8.4.11 (api:1/proto:86-101)\nsrcversion: godrbd                  \n")
	type line struct {
		minor int
		text  string
	}
	var lines []line
	for _, r := range d.sortedResources() {
		r.mu.Lock()
		proto := r.cfg.Protocol
		if proto == "" {
			proto = "C"
		}
		netConf := r.netConf
		for _, v := range r.vols {
			s := v.m.S
			var t strings.Builder
			if s.Conn == state.StandAlone && s.Disk == state.Diskless && s.Role == state.Secondary {
				fmt.Fprintf(&t, "%2d: cs:Unconfigured\n", v.minor)
				lines = append(lines, line{v.minor, t.String()})
				continue
			}
			p := " "
			if netConf {
				p = proto
			}
			fmt.Fprintf(&t, "%2d: cs:%s ro:%s/%s ds:%s/%s %s %s\n", v.minor, s.Conn, s.Role, s.Peer, s.Disk, s.PDsk, p, s.Flags())
			pe := 0
			wo := "f"
			fmt.Fprintf(&t, "    ns:%d nr:%d dw:%d dr:%d al:%d bm:%d lo:0 pe:%d ua:0 ap:0 ep:1 wo:%s oos:%d\n",
				v.ns.Load(), v.nr.Load(), v.dw.Load(), v.dr.Load(), v.alWrites.Load(), v.bmWrites.Load(), pe, wo, v.bits()*4)
			if v.syncing() && (s.Conn == state.SyncSource || s.Conn == state.SyncTarget || s.Conn == state.PausedSyncS || s.Conn == state.PausedSyncT) {
				total := v.rsTotal * 4
				left := min(v.bits(), v.rsTotal) * 4
				per := uint64(1000)
				if total > 0 {
					per = (total - left) * 1000 / total
				}
				x := int(per / 50)
				bar := ""
				if x == 0 {
					bar = ">" + strings.Repeat(".", 20)
				} else {
					bar = strings.Repeat("=", x-1) + ">" + strings.Repeat(".", 20-x)
				}
				fmt.Fprintf(&t, "\t[%s] sync'ed:%3d.%d%% (%d/%d)K\n", bar, per/10, per%10, left, total)
				t.WriteString(v.procSpeed(left, total))
			}
			lines = append(lines, line{v.minor, t.String()})
		}
		r.mu.Unlock()
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i].minor < lines[j].minor })
	for i, l := range lines {
		if i > 0 && lines[i-1].minor+1 != l.minor {
			b.WriteString("\n")
		}
		b.WriteString(l.text)
	}
	return b.String()
}

// Summary is one line for systemd's STATUS=: each volume's connection
// state, roles and disk states.
func (d *Daemon) Summary() string {
	var parts []string
	for _, r := range d.sortedResources() {
		r.mu.Lock()
		var vnrs []int
		for n := range r.vols {
			vnrs = append(vnrs, n)
		}
		sort.Ints(vnrs)
		for _, n := range vnrs {
			s := r.vols[n].m.S
			parts = append(parts, fmt.Sprintf("%s/%d %s %s/%s %s/%s", r.name, n, s.Conn, s.Role, s.Peer, s.Disk, s.PDsk))
		}
		r.mu.Unlock()
	}
	if len(parts) == 0 {
		return "no resources"
	}
	return strings.Join(parts, "; ")
}
