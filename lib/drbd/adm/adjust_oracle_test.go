package adm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/linux-ha-go/ha/lib/drbd/api"
)

// showText writes a running configuration as drbdsetup-84 show prints
// it, for the real drbdadm's adjust.
func showText(run *api.Running) string {
	var b strings.Builder
	fmt.Fprintf(&b, "resource %s {\n    options {\n", run.Name)
	for _, o := range run.Options {
		fmt.Fprintf(&b, "        %s %s;\n", o.Name, o.Value)
	}
	b.WriteString("    }\n")
	if run.Net != nil {
		b.WriteString("    net {\n")
		for _, o := range run.Net.Options {
			fmt.Fprintf(&b, "        %s %s;\n", o.Name, api.ShellEscape(o.Value))
		}
		b.WriteString("    }\n")
		fmt.Fprintf(&b, "    _remote_host {\n        address ipv4 %s:%s;\n    }\n", run.Net.Peer.Address, run.Net.Peer.Port)
	}
	b.WriteString("    _this_host {\n")
	if run.Net != nil {
		fmt.Fprintf(&b, "        address ipv4 %s:%s;\n", run.Net.Local.Address, run.Net.Local.Port)
	}
	for _, v := range run.Volumes {
		fmt.Fprintf(&b, "        volume %d {\n            device minor %d;\n", v.VNR, v.Minor)
		if v.Disk != "" {
			fmt.Fprintf(&b, "            disk \"%s\";\n            meta-disk internal;\n            disk {\n", v.Disk)
			for _, o := range v.DiskOptions {
				fmt.Fprintf(&b, "                %s %s;\n", o.Name, o.Value)
			}
			b.WriteString("            }\n")
		}
		b.WriteString("        }\n")
	}
	b.WriteString("    }\n}\n")
	return b.String()
}

const adjustConf = `resource r0 {
	options { on-no-data-accessible suspend-io; }
	net { protocol C; max-buffers 4000; }
	disk { resync-rate 33M; c-plan-ahead 0; }
	on alice { device minor 0; disk /dev/sdb1; meta-disk internal; address 10.0.0.1:7789; }
	on bob { device minor 0; disk /dev/sdb1; meta-disk internal; address 10.0.0.2:7789; }
}
`

// TestAdjustOracle: for running configurations that differ from the
// file in various ways, godrbdadm -d adjust prints the steps the real
// drbdadm 8.4 prints when drbdsetup show reports the same (a stand-in
// drbdsetup, -s, answers show).
func TestAdjustOracle(t *testing.T) {
	if _, err := os.Stat("/usr/lib/drbd/drbdadm-84"); err != nil {
		t.Skip("drbd-utils with the 8.4 front end (/usr/lib/drbd/drbdadm-84) is not installed: no oracle")
	}
	if _, err := exec.LookPath("drbdadm"); err != nil {
		t.Skip("drbdadm (Debian package drbd-utils) is not installed: no oracle")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to run drbdadm with its own host name (unshare -u)")
	}
	cases := []struct {
		name   string
		change func(h *api.Running)
		conf   string // "": adjustConf
	}{
		{"nothing differs", func(h *api.Running) {}, ""},
		{"protocol", func(h *api.Running) { h.Net.Options = o("max-buffers", "4000", "protocol", "A") }, ""},
		{"resync-rate", func(h *api.Running) { h.Volumes[0].DiskOptions = o("resync-rate", "10M", "c-plan-ahead", "0") }, ""},
		{"disk option at its default", func(h *api.Running) {
			h.Volumes[0].DiskOptions = append(h.Volumes[0].DiskOptions, o("al-extents", "1237")...)
		}, ""},
		{"disk option removed", func(h *api.Running) {
			h.Volumes[0].DiskOptions = append(h.Volumes[0].DiskOptions, o("al-extents", "3389")...)
		}, ""},
		{"standalone", func(h *api.Running) { h.Net = nil }, ""},
		{"diskless", func(h *api.Running) { h.Volumes[0].Disk, h.Volumes[0].DiskOptions = "", nil }, ""},
		{"resource options", func(h *api.Running) { h.Options = nil }, ""},
		{"peer moved", func(h *api.Running) { h.Net.Peer = &api.Endpoint{AF: "ipv4", Address: "10.0.0.3", Port: "7789"} }, ""},
		{"volume removed", func(h *api.Running) {
			h.Volumes = append(h.Volumes, api.RunningVolume{VNR: 1, Minor: 1, Disk: "/dev/sdc1", MetaDisk: "internal", MetaIndex: "internal"})
		}, ""},
		{"volume added, resource options", func(h *api.Running) { h.Options = nil }, `resource r0 {
	options { on-no-data-accessible suspend-io; }
	net { max-buffers 4000; }
	disk { resync-rate 33M; c-plan-ahead 0; }
	on alice { volume 0 { device minor 0; disk /dev/sdb1; meta-disk internal; } volume 1 { device minor 1; disk /dev/sdc1; meta-disk internal; } address 10.0.0.1:7789; }
	on bob { volume 0 { device minor 0; disk /dev/sdb1; meta-disk internal; } volume 1 { device minor 1; disk /dev/sdc1; meta-disk internal; } address 10.0.0.2:7789; }
}
`},
	}
	dir := t.TempDir()
	fakeSetup := filepath.Join(dir, "setup")
	os.WriteFile(fakeSetup, []byte("#!/bin/sh\n[ \"$1\" = show ] && cat \"$SHOW\"\nexit 0\n"), 0o755)
	metaLine := regexp.MustCompile(`(?m)^drbdmeta (\S+) v08 (\S+) (\S+) (\S+)`)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := &api.Running{Name: "r0", Options: o("on-no-data-accessible", "suspend-io"),
				Net: &api.RunningNet{Local: &api.Endpoint{AF: "ipv4", Address: "10.0.0.1", Port: "7789"},
					Peer: &api.Endpoint{AF: "ipv4", Address: "10.0.0.2", Port: "7789"}, Options: o("max-buffers", "4000")},
				Volumes: []api.RunningVolume{{VNR: 0, Minor: 0, Disk: "/dev/sdb1", MetaDisk: "internal", MetaIndex: "internal",
					DiskOptions: o("resync-rate", "33M", "c-plan-ahead", "0")}}}
			c.change(h)
			text := adjustConf
			if c.conf != "" {
				text = c.conf
			}
			conf := filepath.Join(t.TempDir(), "drbd.conf")
			os.WriteFile(conf, []byte(text), 0o644)
			show := filepath.Join(t.TempDir(), "show")
			os.WriteFile(show, []byte(showText(h)), 0o644)
			cmd := exec.Command("unshare", "-u", "sh", "-c", "hostname alice && exec drbdadm -s "+fakeSetup+" -c "+conf+" -d adjust r0")
			cmd.Env = append(os.Environ(), "DRBD_DRIVER_VERSION_OVERRIDE=8.4.11", "SHOW="+show, "LC_ALL=C")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("drbdadm: %v\n%s", err, stderr.String())
			}
			want := strings.ReplaceAll(string(out), fakeSetup+" ", "godrbd ")
			want = metaLine.ReplaceAllString(want, "godrbd $4 $1 $2 $3")

			o, stdout, _ := setup(t)
			os.WriteFile(o.ConfigFile, []byte(text), 0o644)
			o.DryRun = 1
			js, _ := json.Marshal(h)
			startFake(t, o.Rundir, func(req *api.Request) (any, error) { return api.Reply{Text: string(js)}, nil })
			if err := Run(context.Background(), o, "adjust", []string{"r0"}, nil); err != nil {
				t.Fatal(err)
			}
			if same := c.name == "nothing differs" || c.name == "disk option at its default"; same != (want == "") {
				t.Fatalf("drbdadm -d adjust printed %q", want)
			}
			if got := stdout.String(); got != want {
				t.Errorf("running:\n%s\n=== drbdadm -d adjust:\n%s=== godrbdadm -d adjust:\n%s", showText(h), want, got)
			}
		})
	}
}
