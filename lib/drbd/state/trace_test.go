package state

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected output of the trace files")

// A trace file is a list of commands, each followed by "----" and the
// expected output, ending with an empty line. Lines starting with # are
// comments. Commands:
//
//	node NAME [key=value...]   create a node (two-primaries=yes, fencing=,
//	                           verify-alg=, after-sb-0pri=, after-sb-1pri=,
//	                           after-sb-2pri=, rr-conflict=, always-asbp=yes)
//	NAME EVENT [args]          feed one event to a node
//	link A B                   the TCP connection comes up between A and B:
//	                           both go WFReportParams and exchange parameters
//	break A B                  the connection breaks (NetworkFailure)
//	bitmap A B                 the bitmap exchange completes; the sync UUID
//	                           travels from the source to the target
//	resynced A B               the resync completes on both sides
//	tell A B                   A's state report reaches B
//	NAME bits N                the node's bitmap now has N bits set
//	NAME open N                the device has N openers
//	NAME restart               crash and restart: same UUIDs, the meta-data
//	                           flags of the last state, attached again
//	NAME hears role=R disk=D conn=C
//	                           a state report of the peer, made up (a
//	                           lying or buggy peer), with the UUIDs the
//	                           peer sent last
//
// Events: attach [consistent] [was-up-to-date] [peer-outdated] [primary-ind], detach
// [force], connect [discard-my-data], disconnect [force], primary [force],
// secondary, invalidate, invalidate-remote, verify, pause-sync,
// resume-sync, outdate, fenced yes|no, io-error, new-current-uuid
// [clear-bitmap].
func TestTraces(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.trace")
	if len(files) == 0 {
		t.Fatal("no trace files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runTrace(t, f) })
	}
}

type traceNode struct {
	m    *Machine
	bits uint64
}

type tracer struct {
	nodes map[string]*traceNode
	order []string
	seq   uint64
	out   strings.Builder
}

func (tr *tracer) rand() uint64 {
	tr.seq++
	return tr.seq * 0x1111111111110
}

func (tr *tracer) node(name string) (*traceNode, error) {
	n := tr.nodes[name]
	if n == nil {
		return nil, fmt.Errorf("no node %q", name)
	}
	return n, nil
}

func (tr *tracer) report(name string, rv Result, acts []Action, log []string) {
	n := tr.nodes[name]
	fmt.Fprintf(&tr.out, "%s: %s %s\n  uuid:%s\n", name, rv.String(), n.m.S, n.m.UUID)
	for _, l := range log {
		for _, ll := range strings.Split(l, "\n") {
			fmt.Fprintf(&tr.out, "  log: %s\n", ll)
		}
	}
	if len(acts) > 0 {
		var s []string
		for _, a := range acts {
			s = append(s, a.String())
		}
		fmt.Fprintf(&tr.out, "  do: %s\n", strings.Join(s, " "))
	}
}

func (tr *tracer) feed(name string, ev Event) {
	rv, acts, log := tr.nodes[name].m.Step(ev)
	tr.report(name, rv, acts, log)
}

func parsePolicy(t *testing.T, v string) Policy {
	p, err := ParsePolicy(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (tr *tracer) run(t *testing.T, cmd string) {
	f := strings.Fields(cmd)
	switch f[0] {
	case "node":
		var cfg Config
		var pol Policies
		for _, kv := range f[2:] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "two-primaries":
				cfg.TwoPrimaries = v == "yes"
			case "fencing":
				cfg.Fencing = map[string]Fencing{"dont-care": FenceDontCare, "resource-only": FenceResourceOnly, "resource-and-stonith": FenceResourceAndStonith}[v]
			case "verify-alg":
				cfg.VerifyAlg = v
			case "on-no-data":
				cfg.SuspendOnNoData = v == "suspend-io"
			case "after-sb-0pri":
				pol.AfterSB0 = parsePolicy(t, v)
			case "after-sb-1pri":
				pol.AfterSB1 = parsePolicy(t, v)
			case "after-sb-2pri":
				pol.AfterSB2 = parsePolicy(t, v)
			case "rr-conflict":
				pol.RRConflict = parsePolicy(t, v)
			case "always-asbp":
				pol.AlwaysASBP = v == "yes"
			default:
				t.Fatalf("node: unknown setting %q", k)
			}
		}
		tr.nodes[f[1]] = &traceNode{m: NewMachine(cfg, pol, tr.rand)}
		tr.order = append(tr.order, f[1])
		tr.report(f[1], Success, nil, nil)
		return
	case "link", "break", "bitmap", "resynced", "tell":
		a, err := tr.node(f[1])
		if err != nil {
			t.Fatal(err)
		}
		b, err := tr.node(f[2])
		if err != nil {
			t.Fatal(err)
		}
		switch f[0] {
		case "tell":
			tr.feed(f[2], tr.peerState(a, f[1] < f[2]))
		case "link":
			tr.feed(f[1], Established{})
			tr.feed(f[2], Established{})
			pa := PeerParams{UUIDs: a.m.UUID, Bits: a.bits, Role: a.m.S.Role, Disk: a.m.S.Disk, Flags: peerFlags(a.m)}
			pb := PeerParams{UUIDs: b.m.UUID, Bits: b.bits, Role: b.m.S.Role, Disk: b.m.S.Disk, Flags: peerFlags(b.m)}
			pb.SelfBits, pa.SelfBits = a.bits, b.bits
			pb.ResolveConflicts = f[1] < f[2]
			pa.ResolveConflicts = f[2] < f[1]
			tr.feed(f[1], pb)
			tr.feed(f[2], pa)
			// Each side learns the other's state after the handshake.
			if a.m.S.Conn >= Connected && b.m.S.Conn >= Connected {
				tr.feed(f[1], tr.peerState(b, f[1] < f[2]))
				tr.feed(f[2], tr.peerState(a, f[2] < f[1]))
			} else {
				// One side dropped: the other sees the connection go.
				for _, n := range []string{f[1], f[2]} {
					if tr.nodes[n].m.S.Conn >= WFReportParams {
						tr.feed(n, NetFailure{Conn: NetworkFailure})
					}
				}
			}
		case "break":
			tr.feed(f[1], NetFailure{Conn: NetworkFailure})
			tr.feed(f[2], NetFailure{Conn: NetworkFailure})
		case "bitmap":
			tr.feed(f[1], BitmapDone{})
			tr.feed(f[2], BitmapDone{})
			for _, pair := range [][2]*traceNode{{a, b}, {b, a}} {
				if pair[0].m.S.Conn == SyncSource || pair[0].m.S.Conn == PausedSyncS {
					name := f[2]
					if pair[1] == a {
						name = f[1]
					}
					tr.feed(name, SyncUUID{UUID: pair[0].m.UUID.Bitmap})
				}
			}
		case "resynced":
			ua, ub := a.m.UUID, b.m.UUID
			tr.feed(f[1], ResyncDone{PeerUUIDs: ub})
			tr.feed(f[2], ResyncDone{PeerUUIDs: ua})
			a.bits, b.bits = 0, 0
		}
		return
	}
	n, err := tr.node(f[0])
	if err != nil {
		t.Fatal(err)
	}
	args := map[string]bool{}
	for _, a := range f[2:] {
		args[a] = true
	}
	var ev Event
	switch f[1] {
	case "restart":
		// The node crashes and comes back: a fresh machine with the meta
		// data its last state left (UUIDs and flags), attached again.
		flags := MDFlags(n.m.S, 0, n.m.CrashedPrimary)
		old := n.m
		n.m = NewMachine(old.Cfg, old.Pol, tr.rand)
		n.m.UUID = old.UUID
		fmt.Fprintf(&tr.out, "meta data flags 0x%02x\n", flags)
		tr.feed(f[0], AttachFrom(flags))
		return
	case "hears":
		ps := PeerState{UUIDs: n.m.peerUUIDs, Role: n.m.S.Peer, Disk: n.m.S.PDsk, Conn: n.m.S.Conn}
		for _, kv := range f[2:] {
			k, v, _ := strings.Cut(kv, "=")
			var err error
			switch k {
			case "role":
				ps.Role, err = ParseRole(v)
			case "disk":
				ps.Disk, err = ParseDisk(v)
			case "conn":
				ps.Conn, err = ParseConn(v)
			default:
				err = fmt.Errorf("unknown field %q", k)
			}
			if err != nil {
				t.Fatalf("hears: %v", err)
			}
		}
		tr.feed(f[0], ps)
		return
	case "bits", "open":
		v, err := strconv.Atoi(f[2])
		if err != nil {
			t.Fatal(err)
		}
		if f[1] == "bits" {
			n.bits = uint64(v)
		} else {
			n.m.Env.OpenCount = v
		}
		fmt.Fprintf(&tr.out, "ok\n")
		return
	case "attach":
		ev = Attach{Consistent: args["consistent"], WasUpToDate: args["was-up-to-date"], PeerOutdated: args["peer-outdated"], PrimaryInd: args["primary-ind"]}
	case "detach":
		ev = Detach{Force: args["force"]}
	case "connect":
		ev = Connect{DiscardMyData: args["discard-my-data"]}
	case "disconnect":
		ev = Disconnect{Force: args["force"]}
	case "primary":
		ev = Promote{Force: args["force"]}
	case "secondary":
		ev = Demote{}
	case "invalidate":
		ev = Invalidate{}
	case "invalidate-remote":
		ev = InvalidateRemote{}
	case "verify":
		ev = Verify{}
	case "pause-sync":
		ev = PauseSync{}
	case "resume-sync":
		ev = ResumeSync{}
	case "outdate":
		ev = Outdate{}
	case "suspend-io":
		ev = SuspendIO{}
	case "resume-io":
		ev = ResumeIO{}
	case "fenced":
		// fenced yes (exit 4), fenced no (exit 1), or fenced N.
		code := 1
		switch {
		case args["yes"]:
			code = 4
		case len(f) > 2 && f[2] != "no":
			n, err := strconv.Atoi(f[2])
			if err != nil {
				t.Fatalf("fenced %q: want yes, no or an exit code", f[2])
			}
			code = n
		}
		ev = FenceResult{Code: code, ForPromotion: n.m.PendingFence()}
	case "io-error":
		ev = DiskIOError{}
	case "new-current-uuid":
		ev = NewCurrentUUID{ClearBitmap: args["clear-bitmap"]}
	default:
		t.Fatalf("unknown event %q", f[1])
	}
	tr.feed(f[0], ev)
}

// peerState is what node n reports to its peer; resolve says whether the
// receiver holds RESOLVE_CONFLICTS.
func (tr *tracer) peerState(n *traceNode, resolve bool) PeerState {
	return PeerState{Role: n.m.S.Role, Disk: n.m.S.Disk, Conn: n.m.S.Conn, UUIDs: n.m.UUID,
		Bits: n.bits, Flags: peerFlags(n.m), ResolveConflicts: resolve}
}

func peerFlags(m *Machine) uint64 {
	var f uint64
	if m.DiscardMyData {
		f |= PeerFlagDiscardMyData
	}
	if m.CrashedPrimary {
		f |= PeerFlagCrashedPrimary
	}
	if m.SkipInitialSync {
		f |= PeerFlagSkipInitSync
	}
	return f
}

func runTrace(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tr := &tracer{nodes: map[string]*traceNode{}}
	var rewritten strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			rewritten.WriteString(l + "\n")
			continue
		}
		cmd := l
		lineNo := i + 1
		i++
		if i >= len(lines) || lines[i] != "----" {
			t.Fatalf("%s:%d: command without ---- after it", path, lineNo)
		}
		var want []string
		for i++; i < len(lines) && lines[i] != ""; i++ {
			want = append(want, lines[i])
		}
		tr.out.Reset()
		tr.run(t, cmd)
		got := tr.out.String()
		rewritten.WriteString(cmd + "\n----\n" + got + "\n")
		if w := strings.Join(want, "\n") + "\n"; w != got && !*update {
			t.Errorf("%s:%d: %s\n got:\n%s want:\n%s", path, lineNo, cmd, got, w)
		}
	}
	if *update {
		if err := os.WriteFile(path, []byte(strings.TrimRight(rewritten.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_ = sort.Strings
}
