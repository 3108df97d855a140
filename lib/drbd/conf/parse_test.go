package conf

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/linux-ha-go/ha/lib/exitcode"
)

const twoNodes = `resource r0 {
	on alice { device minor 0; disk /dev/sdb1; meta-disk internal; address 10.0.0.1:7000; }
	on bob { device minor 0; disk /dev/sdb1; meta-disk internal; address 10.0.0.2:7000; }
}
`

func parse(t *testing.T, files memFS) (*Config, error) {
	t.Helper()
	return Parse(files, "/etc/drbd.conf")
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		code       exitcode.Code
		msg        string // the whole of drbdadm's stderr
	}{
		{"missing semicolon", "resource r0 {\n on alice {\n  disk /dev/sdb1\n  address 10.0.0.1:7000;\n", 10,
			"/etc/drbd.conf:4: Parse error: ';' expected,\n\tbut got 'address' (TK 273)\n"},
		{"unknown net option", "resource r0 { net { protocoll C; } }", 10,
			"/etc/drbd.conf:1: Parse error: 'an option keyword' expected,\n\tbut got 'protocoll'\n"},
		{"top level", "resorce r0 {}", 10,
			"/etc/drbd.conf:1: Parse error: 'global | common | resource | skip | include' expected,\n\tbut got 'resorce'\n"},
		{"upper case keyword", "resource r0 { Net { } }", 10,
			"/etc/drbd.conf:1: Parse error: 'protocol | on | disk | net | syncer | startup | handlers | ignore-on | stacked-on-top-of' expected,\n\tbut got 'Net' (TK 282)\n"},
		{"range", "resource r0 { net { timeout 1000; } }", 10,
			"/etc/drbd.conf:1: timeout 1000 => 1000 out of range [1..600].\n"},
		{"range with unit", "common { disk { resync-rate 8G; } }", 10,
			"/etc/drbd.conf:1: resync-rate 8G => 8388608k out of range [1..4194304]k.\n"},
		{"protocol", "resource r0 { protocol D; }", 10, "unknown protocol 'D', should be one of A,B,C\n"},
		{"not a number", "resource r0 { net { ko-count 7x; } }", 20, "7x is not a valid number\n"},
		{"port twice", "resource r0 { on a { address 10.0.0.1:77890; } }", 10,
			"/etc/drbd.conf:1: port 77890 => 77890 out of range [1..65535].\n/etc/drbd.conf:1: port 77890 => 77890 out of range [1..65535].\n"},
		{"conflicting minor", twoNodes + "resource r1 { on alice { device minor 0; disk /dev/sdb2; meta-disk internal; address 10.0.0.1:7001; } }", 10,
			"/etc/drbd.conf:5: conflicting use of device-minor 'device-minor:alice:0' ...\n/etc/drbd.conf:2: device-minor 'device-minor:alice:0' first used here.\n"},
		{"conflicting address", twoNodes + "resource r1 { on carol { device minor 0; disk /dev/sdb2; meta-disk internal; address 10.0.0.1:7000; } }", 10,
			"/etc/drbd.conf:5: conflicting use of IP '10.0.0.1:7000' ...\n/etc/drbd.conf:2: IP '10.0.0.1:7000' first used here.\n"},
		{"missing disk", "resource r0 {\n on alice { device minor 0; meta-disk internal; address 10.0.0.1:7000; }\n}", 10,
			"/etc/drbd.conf:2: in resource r0, on alice { ... }: 'disk' keyword missing.\n"},
		{"unterminated string", "resource r0 {\n handlers { split-brain \"oops;\n}}", 10,
			"/etc/drbd.conf:2: Unterminated double quoted string\n  we don't allow embedded newlines\n  >>>\"oops;\n...<<<\n"},
		{"include missing", "include \"drbd.d/x.conf\";", 10,
			"/etc/drbd.conf:1: Failed to open include file 'drbd.d/x.conf'.\n"},
		{"ipv6 without brackets", "resource r0 { on a { address ipv6 fd00::1:7789; } }", 10,
			"/etc/drbd.conf:1: Parse error: '[' expected,\n\tbut got 'fd00::1:7789' (TK 316)\n"},
		{"skip two words", "skip resource old { }", 10,
			"/etc/drbd.conf:1: Parse error: '[ some_text ] {' expected,\n\tbut got 'resource'\n"},
		{"empty name", `resource "" { }`, 1, "Resource name is empty.\n"},
		{"host in common", "common { on a { } }", 10,
			"/etc/drbd.conf:1: in resource common, on a { ... }: 'address' keyword missing.\n/etc/drbd.conf:1: in the common section, there are no host sections allowed.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, memFS{"/etc/drbd.conf": tc.conf})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Code != tc.code {
				t.Errorf("code = %d, want %d", e.Code, tc.code)
			}
			if got := strings.Join(e.Msgs, ""); tc.msg != "" && got != tc.msg {
				t.Errorf("messages:\n%q\nwant:\n%q", got, tc.msg)
			}
		})
	}
}

func TestParseGood(t *testing.T) {
	files := memFS{
		"/etc/drbd.conf":     "global { usage-count no; }\ncommon { net { protocol C; } disk { resync-rate 33M; } }\ninclude \"drbd.d/*.res\";\n",
		"/etc/drbd.d/r0.res": twoNodes,
		"/etc/drbd.d/r1.res": `resource r1 {
	volume 0 { device /dev/drbd1; disk /dev/sdc1; meta-disk /dev/sdd [0]; }
	volume 1 { device drbd2; disk /dev/sdc2; meta-disk /dev/sdd; }
	net { no-tcp-cork; after-sb-0pri discard-node-alice; }
	syncer { rate 10M; verify-alg sha1; }
	on alice { address 10.0.0.1:7001; }
	on bob { address ipv6 [fd00::2]:7001; }
}
`,
	}
	cfg, err := parse(t, files)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Resources) != 2 || cfg.Global.UsageCount != UsageNo {
		t.Fatalf("resources %d, usage %d", len(cfg.Resources), cfg.Global.UsageCount)
	}
	m := &Messages{Valid: true}
	cfg.PostParse("alice", func(string, string) bool { return true }, m)
	cfg.Expand()
	r1 := cfg.Resource("r1")
	if r1.Me == nil || r1.Me.Names[0] != "alice" {
		t.Fatalf("me = %+v", r1.Me)
	}
	cfg.SetPeer(r1, "", true, m)
	cfg.Convert(r1, true, m)
	if r1.Peer == nil || r1.Peer.AF != "ipv6" || r1.Peer.Address != "fd00::2" {
		t.Fatalf("peer = %+v", r1.Peer)
	}
	v1 := r1.Me.Volume(1)
	if v1.DevicePath() != "/dev/drbd2" || v1.Minor != 2 || v1.MetaIndex != "flexible" {
		t.Errorf("volume 1 = %+v", v1)
	}
	if v0 := r1.Me.Volume(0); v0.MetaIndex != "0" || v0.MetaDevice() != "/dev/sdd" {
		t.Errorf("volume 0 = %+v", v0)
	}
	// common options are prepended, the resource's own win.
	if got, _ := r1.Net.Get("protocol"); got != "C" {
		t.Errorf("protocol = %q", got)
	}
	if got, _ := r1.Net.Get("after-sb-0pri"); got != "discard-local" {
		t.Errorf("after-sb-0pri = %q", got)
	}
	if got, _ := v1.DiskOptions.Get("resync-rate"); got != "10M" {
		t.Errorf("volume resync-rate = %q (syncer rate must win over common)", got)
	}
	if got, _ := r1.Net.Get("tcp-cork"); got != "no" {
		t.Errorf("tcp-cork = %q", got)
	}
	var b bytes.Buffer
	if err := cfg.DumpResource(&b, cfg.Resource("r0"), DumpOptions{}); err != nil {
		t.Fatal(err)
	}
	// Expanded: the common disk options appear in the volumes.
	want := "# resource r0 on alice: not ignored, not stacked\n# defined at /etc/drbd.d/r0.res:1\nresource r0 {\n    on alice {\n        disk {\n            resync-rate  33M;\n        }\n        device           /dev/drbd0 minor 0;\n"
	if !strings.HasPrefix(b.String(), want) {
		t.Errorf("dump:\n%s", b.String())
	}
}

func TestNodeMatching(t *testing.T) {
	for _, tc := range []struct {
		node    string
		ignored bool
	}{
		{"alice", false}, {"bob", false}, {"Alice", true}, {"alice.example.com", true}, {"carol", true},
	} {
		cfg, err := parse(t, memFS{"/etc/drbd.conf": twoNodes})
		if err != nil {
			t.Fatal(err)
		}
		m := &Messages{Valid: true}
		cfg.PostParse(tc.node, func(string, string) bool { return false }, m)
		if got := cfg.Resources[0].Ignore; got != tc.ignored {
			t.Errorf("node %q: ignored = %v, want %v", tc.node, got, tc.ignored)
		}
	}
}

func TestParseNumber(t *testing.T) {
	for _, tc := range []struct {
		in   string
		unit byte
		want uint64
		ok   bool
	}{
		{"33M", 'k', 33792, true}, {"8G", 'k', 8388608, true}, {"1s", 'k', 1, true},
		{"10G", 's', 20971520, true}, {"100", '1', 100, true}, {"7x", '1', 0, false},
		{"", '1', 0, false}, {"12kk", '1', 0, false},
	} {
		got, ok := ParseNumber(tc.in, tc.unit)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseNumber(%q,%c) = %d,%v want %d,%v", tc.in, tc.unit, got, ok, tc.want, tc.ok)
		}
	}
}

func TestEsc(t *testing.T) {
	for in, want := range map[string]string{
		"": `""`, "/dev/sdb1": "/dev/sdb1", "with space": `"with space"`,
		`a"b\c`: `"a\"b\\c"`, strings.Repeat("a", 81): `"` + strings.Repeat("a", 81) + `"`,
	} {
		if got := Esc(in); got != want {
			t.Errorf("Esc(%q) = %q, want %q", in, got, want)
		}
	}
}
