package adm

import (
	"fmt"
	"strings"
	"testing"

	"github.com/linux-ha-go/ha/lib/drbd/api"
)

func o(kv ...string) []api.Option {
	var out []api.Option
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, api.Option{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

func wantRes() *api.Resource {
	return &api.Resource{
		Name:    "r0",
		Options: o("on-no-data-accessible", "suspend-io"),
		Local:   &api.Endpoint{AF: "ipv4", Address: "10.0.0.1", Port: "7789"},
		Peer:    &api.Endpoint{AF: "ipv4", Address: "10.0.0.2", Port: "7789"},
		Net:     o("protocol", "C", "max-buffers", "4000"),
		Volumes: []api.Volume{
			{VNR: 0, Minor: 0, Disk: "/dev/sdb1", MetaDisk: "internal", MetaIndex: "internal", DiskOptions: o("c-plan-ahead", "0", "resync-rate", "33M")},
		},
	}
}

// running is what godrbd reports for a resource that matches wantRes.
func running() *api.Running {
	return &api.Running{
		Name:    "r0",
		Options: o("on-no-data-accessible", "suspend-io"),
		Net: &api.RunningNet{Local: &api.Endpoint{AF: "ipv4", Address: "10.0.0.1", Port: "7789"},
			Peer: &api.Endpoint{AF: "ipv4", Address: "10.0.0.2", Port: "7789"}, Options: o("protocol", "C", "max-buffers", "4000")},
		Volumes: []api.RunningVolume{{VNR: 0, Minor: 0, Disk: "/dev/sdb1", MetaDisk: "internal", MetaIndex: "internal",
			DiskOptions: o("c-plan-ahead", "0", "resync-rate", "33M")}},
	}
}

func actions(a []Action) string {
	var s []string
	for _, x := range a {
		s = append(s, fmt.Sprintf("%d:%s/%d", x.Stage, x.Op, x.VNR))
	}
	return strings.Join(s, " ")
}

func TestAdjustActions(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(w *api.Resource, h *api.Running) *api.Running
		want   string
	}{
		{"nothing differs", func(w *api.Resource, h *api.Running) *api.Running { return h }, ""},
		{"nothing runs: up", func(w *api.Resource, h *api.Running) *api.Running { return nil },
			"0:new-resource/-1 1:new-minor/0 3:attach/0 5:connect/-1"},
		{"StandAlone: connect", func(w *api.Resource, h *api.Running) *api.Running { h.Net = nil; return h }, "5:connect/-1"},
		{"diskless: attach", func(w *api.Resource, h *api.Running) *api.Running {
			h.Volumes[0].Disk, h.Volumes[0].DiskOptions = "", nil
			return h
		}, "3:attach/0"},
		{"protocol changed: net-options", func(w *api.Resource, h *api.Running) *api.Running {
			h.Net.Options = o("protocol", "A", "max-buffers", "4000")
			return h
		}, "5:net-options/-1"},
		{"protocol C written out equals the default", func(w *api.Resource, h *api.Running) *api.Running {
			h.Net.Options = o("max-buffers", "4000")
			return h
		}, ""},
		{"resync-rate changed: disk-options", func(w *api.Resource, h *api.Running) *api.Running {
			h.Volumes[0].DiskOptions = o("c-plan-ahead", "0", "resync-rate", "10M")
			return h
		}, "3:disk-options/0"},
		{"the same rate in other units", func(w *api.Resource, h *api.Running) *api.Running {
			h.Volumes[0].DiskOptions = o("resync-rate", "33792k", "c-plan-ahead", "0")
			return h
		}, ""},
		{"an option removed from the file", func(w *api.Resource, h *api.Running) *api.Running {
			h.Volumes[0].DiskOptions = append(h.Volumes[0].DiskOptions, o("al-extents", "3389")...)
			return h
		}, "3:disk-options/0"},
		{"an option at its default removed from the file", func(w *api.Resource, h *api.Running) *api.Running {
			h.Volumes[0].DiskOptions = append(h.Volumes[0].DiskOptions, o("al-extents", "1237")...)
			return h
		}, ""},
		{"resource options changed", func(w *api.Resource, h *api.Running) *api.Running { h.Options = nil; return h },
			"1:resource-options/-1"},
		{"peer address changed: disconnect, connect", func(w *api.Resource, h *api.Running) *api.Running {
			h.Net.Peer = &api.Endpoint{AF: "ipv4", Address: "10.0.0.3", Port: "7789"}
			return h
		}, "4:disconnect/-1 5:connect/-1"},
		{"other backing disk: detach, attach", func(w *api.Resource, h *api.Running) *api.Running {
			h.Volumes[0].Disk = "/dev/sdc1"
			return h
		}, "2:detach/0 3:attach/0"},
		{"volume removed: detach, del-minor", func(w *api.Resource, h *api.Running) *api.Running {
			h.Volumes = append(h.Volumes, api.RunningVolume{VNR: 1, Minor: 1, Disk: "/dev/sdc1", MetaDisk: "internal"})
			return h
		}, "0:detach/1 0:del-minor/1"},
		{"diskless volume removed: del-minor", func(w *api.Resource, h *api.Running) *api.Running {
			h.Volumes = append(h.Volumes, api.RunningVolume{VNR: 1, Minor: 1})
			return h
		}, "0:del-minor/1"},
		{"volume added: new-minor, attach", func(w *api.Resource, h *api.Running) *api.Running {
			w.Volumes = append(w.Volumes, api.Volume{VNR: 1, Minor: 1, Disk: "/dev/sdc1", MetaDisk: "internal", MetaIndex: "internal"})
			return h
		}, "1:new-minor/1 3:attach/1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := wantRes()
			h := c.change(w, running())
			if got := actions(AdjustActions(w, h)); got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestSameOptions(t *testing.T) {
	for _, c := range []struct {
		a, b []api.Option
		want bool
	}{
		{nil, nil, true},
		{o("resync-rate", "1M"), o("resync-rate", "1024"), true},
		{o("resync-rate", "1M"), o("resync-rate", "1025"), false},
		{o("resync-rate", "250"), nil, true},
		{o("c-fill-target", "100s"), nil, true},
		{o("c-fill-target", "1M"), o("c-fill-target", "2048"), true},
		{o("verify-alg", "md5"), nil, false}, // no default
		{o("allow-two-primaries", ""), o("allow-two-primaries", "yes"), true},
		{o("protocol", "c"), nil, true},
		{o("on-io-error", "detach", "fencing", "resource-only"), o("fencing", "resource-only"), true},
	} {
		if got := SameOptions(c.a, c.b); got != c.want {
			t.Errorf("SameOptions(%v, %v) = %v", c.a, c.b, got)
		}
		if got := SameOptions(c.b, c.a); got != c.want {
			t.Errorf("SameOptions(%v, %v) = %v (reversed)", c.b, c.a, got)
		}
	}
}
