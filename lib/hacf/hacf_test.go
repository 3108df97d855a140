package hacf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	good := map[string]time.Duration{
		"2": 2 * time.Second, "1.5": 1500 * time.Millisecond, "500ms": 500 * time.Millisecond,
		"500msec": 500 * time.Millisecond, "2500us": 3 * time.Millisecond, "0": 0, "100usec": 0,
	}
	for in, want := range good {
		got, err := ParseTime(in)
		if err != nil || got != want {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"2s", "", "ms", "1.2.3", "-1", "abc", "1m", "."} {
		if _, err := ParseTime(in); err == nil {
			t.Errorf("ParseTime(%q) accepted", in)
		}
	}
}

const base = "keepalive 2\ndeadtime 10\nudpport 694\nucast eth0 10.0.0.2\nnode node1 node2\n"

func TestParseGood(t *testing.T) {
	text := `# comment
keepalive 500ms
deadtime 5  # trailing comment
warntime 2
initdead 20
udpport 16940
bcast eth0 eth1
mcast eth0 239.0.0.42 694 1 0
ucast eth0 10.0.0.2
node NODE1
node node2, node3
auto_failback on
crm no
logfacility local0
debug 1
uuidfrom nodename
traditional_compression off
compression_threshold 2
ping 10.0.0.254
ping_group gw 10.0.0.1 10.0.0.2
respawn hacluster /usr/lib/heartbeat/ipfail
apiauth ipfail uid=hacluster
bindaddr 127.0.0.2
`
	c, err := Parse("ha.cf", strings.NewReader(text), "node1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Keepalive != 500*time.Millisecond || c.Deadtime != 5*time.Second || c.Warntime != 2*time.Second || c.Initdead != 20*time.Second {
		t.Errorf("timing %+v", c)
	}
	if c.UDPPort != 16940 || len(c.Media) != 4 || c.Media[0].Dev != "eth0" || c.Media[1].Dev != "eth1" || c.Media[0].Port != 16940 {
		t.Errorf("media %+v", c.Media)
	}
	if m := c.Media[2]; m.Kind != "mcast" || m.Group != "239.0.0.42" || m.Port != 694 || m.TTL != 1 || m.Loop {
		t.Errorf("mcast %+v", m)
	}
	if strings.Join(c.Nodes, " ") != "node1 node2 node3" {
		t.Errorf("nodes %v", c.Nodes)
	}
	if c.AutoFailback != "on" || c.CRM != "" || c.Logfacility != "local0" || c.Debug != 1 || c.UUIDFrom != "nodename" {
		t.Errorf("misc %+v", c)
	}
	if len(c.PingNodes) != 2 || !c.PingNodes[1].Group || len(c.PingNodes[1].Addrs) != 2 {
		t.Errorf("ping %+v", c.PingNodes)
	}
	if strings.Join(c.NoEffect, ",") != "apiauth,respawn" {
		t.Errorf("no effect %v", c.NoEffect)
	}
	if w := c.Warnings(); len(w) == 0 || !strings.Contains(w[0], "accepted, has no effect here: apiauth, respawn") {
		t.Errorf("warnings %v", w)
	}
	if v, ok := c.Parameter("keepalive"); !ok || v != "500ms" {
		t.Errorf("hbparameter keepalive %q", v)
	}
	if v, ok := c.Parameter("deadping"); !ok || v != "5000ms" {
		t.Errorf("hbparameter deadping %q", v)
	}
	if _, ok := c.Parameter("node"); ok {
		t.Error("hbparameter node answered")
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("ha.cf", strings.NewReader("ucast eth0 10.0.0.2\nnode a b\n"), "a")
	if err != nil {
		t.Fatal(err)
	}
	if c.Keepalive != time.Second || c.Deadtime != 30*time.Second || c.Warntime != 15*time.Second ||
		c.Initdead != 30*time.Second || c.AutoFailback != "legacy" || !c.Realtime || c.MaxRexmitDelay != 250*time.Millisecond || !c.UseLogd {
		t.Errorf("defaults %+v", c)
	}
	c, _ = Parse("ha.cf", strings.NewReader("deadtime 5\nucast eth0 10.0.0.2\nnode a b\n"), "a")
	if c.Initdead != 12*time.Second {
		t.Errorf("initdead for deadtime 5: %v", c.Initdead)
	}
	c, _ = Parse("ha.cf", strings.NewReader("deadtime 8\nucast eth0 10.0.0.2\nnode a b\n"), "a")
	if c.Initdead != 16*time.Second {
		t.Errorf("initdead for deadtime 8: %v", c.Initdead)
	}
}

// Golden errors: each names the file and line and what was expected.
func TestParseErrors(t *testing.T) {
	cases := []struct{ text, self, want string }{
		{"bogusdirective 1\n" + base, "node1", "ha.cf:1: illegal directive [bogusdirective]"},
		{"Keepalive 1\n" + base, "node1", `ha.cf:1: illegal directive [Keepalive] (directive names are case-sensitive: did you mean "keepalive"?)`},
		{base + "keepalive 2s\n", "node1", `ha.cf:6: keepalive: "2s" is not a time: unit "s" is not one of ms, msec, us, usec (no unit means seconds; heartbeat does not take "s")`},
		{base + "deadtime\n", "node1", "ha.cf:6: deadtime: missing value"},
		{"keepalive 1\ndeadtime 2\nucast eth0 1.2.3.4\nnode node1\n", "node1", "ha.cf:2: deadtime [2000 ms] is too small compared to keepalive [1000 ms]: deadtime must be more than twice keepalive"},
		{"deadtime 5\ninitdead 4\nucast eth0 1.2.3.4\nnode node1\n", "node1", "ha.cf:2: initial dead time [4000 ms] is smaller than deadtime [5000 ms]"},
		{"node node1\n", "node1", "ha.cf: no heartbeat media defined: add a bcast, mcast or ucast line"},
		{"ucast eth0 1.2.3.4\n", "node1", "ha.cf: no nodes defined: add a node line naming every cluster node"},
		{base, "node9", "ha.cf:5: current node [node9] not in configuration: the node lines name node1, node2 (set --node or HA_NODENAME, or add it)"},
		{base + "ucast eth0\n", "node1", "ha.cf:6: ucast: [eth0] missing target IP address/hostname"},
		{base + "mcast eth0 10.0.0.1 694 1 0\n", "node1", `ha.cf:6: mcast: "10.0.0.1" is not a multicast group address`},
		{base + "mcast eth0 239.0.0.1 694 1\n", "node1", "ha.cf:6: mcast: expected mcast DEV GROUP PORT TTL LOOP, got 4 values"},
		{"udpport 0\n" + base, "node1", "ha.cf:1: udpport: invalid port [0] specified: expected 1 to 65535"},
		{base + "auto_failback maybe\n", "node1", `ha.cf:6: auto_failback: "maybe" is not valid: expected on, off (or another boolean) or legacy`},
		{base + "realtime perhaps\n", "node1", `ha.cf:6: realtime: "perhaps" is not a boolean: expected on/off, yes/no, true/false, y/n or 1/0`},
		{base + "logfacility bogus\n", "node1", "ha.cf:6: logfacility: log facility(bogus) not valid: expected none, daemon, user, local0 … local7, …"},
		{base + "debug 300\n", "node1", `ha.cf:6: debug: "300" is not valid: expected a whole number from 0 to 255`},
		{base + "crm yes\ncrm no\n", "node1", "ha.cf:7: crm may be given only once (first at line 6)"},
		{base + "respawn hacluster ipfail\n", "node1", "ha.cf:6: respawn: client child command [ipfail] is not full pathname"},
		{base + "apiauth foo\n", "node1", "ha.cf:6: apiauth: invalid apiauth directive [foo]: expected apiauth CLIENT uid=U[,U] and/or gid=G[,G]"},
		{base + "ping_group gw\n", "node1", "ha.cf:6: ping_group: expected a group name and at least one address: ping_group NAME ADDR..."},
		{base + "bindaddr nowhere\n", "node1", `ha.cf:6: bindaddr: "nowhere" is not an IP address`},
	}
	for _, tc := range cases {
		_, err := Parse("ha.cf", strings.NewReader(tc.text), tc.self)
		if err == nil {
			t.Errorf("accepted:\n%s", tc.text)
			continue
		}
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%q: not a config error", err)
		}
		if err.Error() != tc.want {
			t.Errorf("error\n got %s\nwant %s", err, tc.want)
		}
	}
}

func TestAuthkeys(t *testing.T) {
	ring, err := ParseAuthkeys("authkeys", strings.NewReader("# keys\nauth 2\n1 crc\n2 sha1 secret\n3 md5 other\n"))
	if err != nil {
		t.Fatal(err)
	}
	if ring.Send.Index != 2 || string(ring.Send.Secret) != "secret" || len(ring.Keys) != 3 {
		t.Fatalf("ring %+v", ring)
	}
	bad := []struct{ text, want string }{
		{"1 sha1 x\n", "authkeys: missing auth directive: add `auth N` naming the entry to sign with"},
		{"auth 3\n1 sha1 x\n", "authkeys:1: auth key [3] not found in keyfile"},
		{"auth 1\n1 sha1\n", "authkeys:2: auth method [sha1] requires a key"},
		{"auth 1\n1 crc x\n", `authkeys:2: auth method [crc] doesn't use a key: remove "x"`},
		{"auth 1\n1 sha256 x\n", "authkeys:2: invalid authtype [sha256]: expected sha1, md5 or crc"},
		{"auth 1\n1 sha1 x\n1 md5 y\n", "authkeys:3: key 1 is defined twice"},
		{"auth 16\n", `authkeys:1: auth "16": expected an index from 0 to 15`},
		{"auth 1\nfoo sha1 x\n", `authkeys:2: "foo" is neither ` + "`auth`" + ` nor a key index from 0 to 15`},
	}
	for _, tc := range bad {
		_, err := ParseAuthkeys("authkeys", strings.NewReader(tc.text))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.text, err, tc.want)
		}
	}
}

func TestAuthkeysPermissions(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "authkeys")
	if err := os.WriteFile(p, []byte("auth 1\n1 sha1 k\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadAuthkeys(p)
	if err == nil || !strings.Contains(err.Error(), "bad permissions on keyfile (mode 0644)") || !strings.Contains(err.Error(), "chmod 600 "+p) {
		t.Fatalf("0644: %v", err)
	}
	os.Chmod(p, 0o600)
	if _, err := LoadAuthkeys(p); err != nil {
		t.Fatalf("0600: %v", err)
	}
	os.Chmod(p, 0o620) // heartbeat accepts group-writable, only readability matters
	if _, err := LoadAuthkeys(p); err != nil {
		t.Fatalf("0620: %v", err)
	}
	if _, err := LoadAuthkeys(filepath.Join(dir, "none")); err == nil || !strings.Contains(err.Error(), "cannot open keyfile") {
		t.Fatalf("missing: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(base)
	f.Add("mcast eth0 239.0.0.1 694 1 0\nnode a\nping_group g 1.2.3.4\nkeepalive 100ms\ndeadtime 1.5\n")
	f.Add("crm respawn\napiauth x uid=1\nrespawn u /bin/x\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse("ha.cf", strings.NewReader(s), "")
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("not a config error: %v", err)
			}
			return
		}
		if c.Deadtime <= 2*c.Keepalive || c.Initdead < c.Deadtime || len(c.Media) == 0 {
			t.Fatalf("invalid config accepted: %+v", c)
		}
	})
}

func FuzzAuthkeys(f *testing.F) {
	f.Add("auth 1\n1 sha1 key\n")
	f.Add("auth 2\n2 crc\n3 md5 x # c\n")
	f.Fuzz(func(t *testing.T, s string) {
		ring, err := ParseAuthkeys("authkeys", strings.NewReader(s))
		if err == nil && (ring.Send == nil || ring.Keys[ring.Send.Index] != ring.Send) {
			t.Fatalf("inconsistent keyring %+v", ring)
		}
	})
}

func TestUnservedMedia(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"ucast6 eth0 fe80::1\nnode a\n", "ha.cf:1: ucast6: IPv6 media are accepted by heartbeat but not served by hb-beat yet: use ucast or mcast over IPv4"},
		{"ucast eth0 10.0.0.1\nping6 ::1\nnode a\n", "ha.cf:2: ping address ::1: IPv6 ping nodes are not served by hb-beat yet: use an IPv4 address"},
		{"ucast eth0 10.0.0.1\nbindaddr ::1\nnode a\n", "ha.cf:2: bindaddr ::1: only IPv4 addresses can be bound"},
		{"ucast eth0 10.0.0.1\nautojoin other\n", "ha.cf: current node [a] not in configuration: there are no node lines (set --node or HA_NODENAME, or add it)"},
	} {
		_, err := Parse("ha.cf", strings.NewReader(tc.text), "a")
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.text, err, tc.want)
		}
	}
	c, err := Parse("ha.cf", strings.NewReader("ucast eth0 10.0.0.1\nautojoin any\n"), "a")
	if err != nil || c.Autojoin != "any" {
		t.Fatalf("autojoin any alone: %v", err)
	}
}
