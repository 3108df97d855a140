package conf_test

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// optionSpec is an option of a section and how to make values for it:
// numbers (with units, in and out of range) or words.
type optionSpec struct {
	name string
	kind string // "num", "flag", "noflag", "word"
	max  int
}

var sectionOptions = map[string][]optionSpec{
	"net": {
		{"protocol", "word", 0}, {"timeout", "num", 700}, {"connect-int", "num", 130}, {"ping-int", "num", 130},
		{"max-buffers", "num", 140000}, {"max-epoch-size", "num", 21000}, {"ko-count", "num", 210},
		{"sndbuf-size", "num", 11 << 20}, {"congestion-extents", "num", 70000}, {"ping-timeout", "num", 400},
		{"allow-two-primaries", "flag", 0}, {"tcp-cork", "flag", 0}, {"no-tcp-cork", "noflag", 0},
		{"cram-hmac-alg", "word", 0}, {"shared-secret", "word", 0}, {"after-sb-0pri", "word", 0},
		{"verify-alg", "word", 0}, {"csums-alg", "word", 0}, {"use-rle", "flag", 0}, {"always-asbp", "flag", 0},
	},
	"disk": {
		{"resync-rate", "num", 5 << 20}, {"size", "num", 1 << 30}, {"al-extents", "num", 70000},
		{"c-plan-ahead", "num", 400}, {"c-delay-target", "num", 120}, {"c-max-rate", "num", 5 << 20},
		{"c-min-rate", "num", 5 << 20}, {"c-fill-target", "num", 2 << 20}, {"on-io-error", "word", 0},
		{"fencing", "word", 0}, {"disk-flushes", "flag", 0}, {"md-flushes", "flag", 0},
		{"no-disk-barrier", "noflag", 0}, {"no-disk-drain", "noflag", 0}, {"rate", "num", 5 << 20},
		{"disk-timeout", "num", 7000},
	},
	"startup": {
		{"wfc-timeout", "num", 400000}, {"degr-wfc-timeout", "num", 400000}, {"outdated-wfc-timeout", "num", 400000},
		{"wait-after-sb", "flag", 0},
	},
	"handlers": {
		{"split-brain", "word", 0}, {"fence-peer", "word", 0}, {"pri-lost", "word", 0}, {"outdate-peer", "word", 0},
	},
	"options": {{"cpu-mask", "word", 0}, {"on-no-data-accessible", "word", 0}},
	"syncer":  {{"rate", "num", 5 << 20}, {"al-extents", "num", 70000}, {"verify-alg", "word", 0}, {"cpu-mask", "word", 0}},
}

var words = []string{"A", "c", "D", "sha1", "md5", "detach", "resource-only", "disconnect", "discard-zero-changes",
	`"with space"`, `"a \"q\" b"`, "3", "io-error", `"/usr/lib/drbd/notify.sh root"`, "yes", "10M"}

func genValue(t *rapid.T, o optionSpec) string {
	switch o.kind {
	case "num":
		n := rapid.IntRange(0, o.max).Draw(t, "n")
		unit := rapid.SampledFrom([]string{"", "", "", "K", "M", "G", "s", "k", "x"}).Draw(t, "unit")
		return fmt.Sprintf(" %d%s", n, unit)
	case "flag":
		return rapid.SampledFrom([]string{"", " yes", " no"}).Draw(t, "flag")
	case "noflag":
		return ""
	}
	return " " + rapid.SampledFrom(words).Draw(t, "word")
}

func genSection(t *rapid.T, b *strings.Builder, name, indent string) {
	fmt.Fprintf(b, "%s%s {\n", indent, name)
	n := rapid.IntRange(0, 4).Draw(t, "opts")
	for i := 0; i < n; i++ {
		o := rapid.SampledFrom(sectionOptions[name]).Draw(t, "opt")
		fmt.Fprintf(b, "%s\t%s%s;\n", indent, o.name, genValue(t, o))
	}
	fmt.Fprintf(b, "%s}\n", indent)
}

var hosts = []string{"alice", "bob", "carol"}

func genResource(t *rapid.T, b *strings.Builder, idx int) {
	fmt.Fprintf(b, "resource r%d {\n", idx)
	for _, s := range []string{"net", "disk", "startup", "handlers", "options", "syncer"} {
		if rapid.IntRange(0, 3).Draw(t, "has-"+s) == 0 {
			genSection(t, b, s, "\t")
		}
	}
	// resource-level defaults, inherited by the host sections
	inherit := rapid.IntRange(0, 3).Draw(t, "inherit") == 0
	if inherit {
		fmt.Fprintf(b, "\tdevice minor %d;\n\tdisk /dev/vg/r%d;\n\tmeta-disk internal;\n", idx*2, idx)
	}
	if rapid.IntRange(0, 4).Draw(t, "bpo") == 0 {
		fmt.Fprintf(b, "\tstartup { become-primary-on %s; }\n", rapid.SampledFrom([]string{"alice", "bob", "both", "dave"}).Draw(t, "bpo-host"))
	}
	if rapid.IntRange(0, 4).Draw(t, "floating") == 0 {
		fmt.Fprintf(b, "\tfloating 10.0.0.1:%d { device minor %d; disk /dev/f%d; meta-disk internal; }\n", 7100+idx, idx*2, idx)
		fmt.Fprintf(b, "\tfloating ipv4 10.9.0.2:%d { device minor %d; disk /dev/f%d; meta-disk internal; }\n}\n", 7100+idx, idx*2, idx)
		return
	}
	if inherit {
		for h := 0; h < rapid.IntRange(1, 2).Draw(t, "ihosts"); h++ {
			fmt.Fprintf(b, "\ton %s { address 10.0.%d.1:%d; }\n", hosts[h], h, 7000+idx)
		}
		b.WriteString("}\n")
		return
	}
	explicit := rapid.Bool().Draw(t, "explicit")
	nvol := 1
	if explicit {
		nvol = rapid.IntRange(1, 2).Draw(t, "volumes")
	}
	nh := rapid.IntRange(1, 3).Draw(t, "hosts")
	for h := 0; h < nh; h++ {
		fmt.Fprintf(b, "\ton %s {\n", hosts[h])
		for v := 0; v < nvol; v++ {
			in := "\t\t"
			if explicit {
				fmt.Fprintf(b, "\t\tvolume %d {\n", v)
				in = "\t\t\t"
			}
			minor := idx*2 + v
			if rapid.IntRange(0, 15).Draw(t, "minor-clash") == 0 {
				minor = 0
			}
			switch rapid.IntRange(0, 3).Draw(t, "devform") {
			case 0:
				fmt.Fprintf(b, "%sdevice /dev/drbd%d;\n", in, minor)
			case 1:
				fmt.Fprintf(b, "%sdevice minor %d;\n", in, minor)
			case 2:
				fmt.Fprintf(b, "%sdevice drbd%d;\n", in, minor)
			case 3:
				fmt.Fprintf(b, "%sdevice /dev/drbd%d minor %d;\n", in, minor, minor)
			}
			if rapid.IntRange(0, 10).Draw(t, "nodisk") > 0 {
				fmt.Fprintf(b, "%sdisk /dev/vg/r%d-%d;\n", in, idx, v)
			}
			switch rapid.IntRange(0, 3).Draw(t, "md") {
			case 0, 1:
				fmt.Fprintf(b, "%smeta-disk internal;\n", in)
			case 2:
				fmt.Fprintf(b, "%smeta-disk /dev/md%d [%d];\n", in, idx, v)
			case 3:
				fmt.Fprintf(b, "%sflexible-meta-disk /dev/md%d-%d;\n", in, idx, v)
			}
			if explicit {
				fmt.Fprintf(b, "\t\t}\n")
			}
		}
		port := 7000 + idx
		if rapid.IntRange(0, 20).Draw(t, "badport") == 0 {
			port = 70000
		}
		fmt.Fprintf(b, "\t\taddress 10.0.%d.%d:%d;\n", h, 1, port)
		fmt.Fprintf(b, "\t}\n")
	}
	fmt.Fprintf(b, "}\n")
}

// TestOracleRandomConfigs: random configurations (valid and not) give
// the same dump, dry run and errors from drbdadm 8.4 and godrbdadm.
func TestOracleRandomConfigs(t *testing.T) {
	needOracle(t)
	if testing.Short() {
		t.Skip("short mode")
	}
	// Each check runs drbdadm four times in fresh namespaces; 20 checks
	// keep the test short (more with -rapid.checks=N).
	if f := flag.Lookup("rapid.checks"); f != nil && f.Value.String() == f.DefValue {
		f.Value.Set("20")
		defer f.Value.Set(f.DefValue)
	}
	dir := t.TempDir()
	rundir := t.TempDir()
	t.Chdir(dir)
	c := oracleCase{node: "alice", ips: []string{"10.0.0.1"}}
	rapid.Check(t, func(t *rapid.T) {
		var b strings.Builder
		if rapid.Bool().Draw(t, "global") {
			fmt.Fprintf(&b, "global { usage-count %s; minor-count %d; }\n",
				rapid.SampledFrom([]string{"yes", "no", "ask"}).Draw(t, "uc"), rapid.IntRange(1, 300).Draw(t, "mc"))
		}
		if rapid.Bool().Draw(t, "common") {
			b.WriteString("common {\n")
			for _, s := range []string{"net", "disk", "startup", "handlers"} {
				if rapid.Bool().Draw(t, "common-"+s) {
					genSection(t, &b, s, "\t")
				}
			}
			b.WriteString("}\n")
		}
		nr := rapid.IntRange(1, 3).Draw(t, "resources")
		for i := 0; i < nr; i++ {
			genResource(t, &b, i)
		}
		text := mutate(t, b.String())
		if err := os.WriteFile("drbd.conf", []byte(text), 0o644); err != nil {
			t.Fatalf("%v", err)
		}
		runs := [][]string{{"dump"}, {"-d", "up", "all"}, {"dump-xml"}, {"sh-dev", "all"}}
		real := realDrbdadm(t, dir, c, runs)
		for i, args := range runs {
			want := normalise(real[i], text)
			got := ours(t, rundir, c, args)
			if got != want {
				t.Fatalf("drbdadm %s on\n%s\n=== drbdadm:\n%s=== godrbdadm:\n%s", strings.Join(args, " "), text, want, got)
			}
		}
	})
}

// mutate breaks some configurations: a token dropped, doubled or
// replaced, to compare the error paths too.
func mutate(t *rapid.T, text string) string {
	if rapid.IntRange(0, 2).Draw(t, "mutate") != 0 {
		return text
	}
	fields := strings.FieldsFunc(text, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' })
	if len(fields) == 0 {
		return text
	}
	i := rapid.IntRange(0, len(fields)-1).Draw(t, "field")
	f := fields[i]
	// find the i-th field's position
	pos, n := 0, 0
	for k := 0; k < len(text); {
		for k < len(text) && strings.ContainsRune(" \t\n", rune(text[k])) {
			k++
		}
		if k >= len(text) {
			break
		}
		if n == i {
			pos = k
			break
		}
		for k < len(text) && !strings.ContainsRune(" \t\n", rune(text[k])) {
			k++
		}
		n++
	}
	repl := rapid.SampledFrom([]string{"", f + " " + f, ";", "{", "}", "on", "disk", "resource", "volume", "Net", `"x`, "10.0.0.1:7000", "::1", "minor"}).Draw(t, "repl")
	return text[:pos] + repl + text[pos+len(f):]
}
