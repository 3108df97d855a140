package adm

import (
	"sort"
	"testing"

	"pgregory.net/rapid"

	"github.com/linux-ha-go/ha/lib/drbd/api"
)

// applyActions is what godrbd does for adjust's actions, as a model.
func applyActions(want *api.Resource, have *api.Running, acts []Action) *api.Running {
	if have == nil {
		have = &api.Running{Name: want.Name}
	}
	find := func(vnr int) int {
		for i, v := range have.Volumes {
			if v.VNR == vnr {
				return i
			}
		}
		return -1
	}
	for _, a := range acts {
		i := find(a.VNR)
		w := want.Volume(a.VNR)
		switch a.Op {
		case api.OpNewResource, api.OpResourceOptions:
			have.Options = want.Options
		case api.OpNewMinor:
			have.Volumes = append(have.Volumes, api.RunningVolume{VNR: a.VNR, Minor: w.Minor})
		case api.OpAttach:
			v := &have.Volumes[i]
			v.Disk, v.MetaDisk, v.MetaIndex, v.DiskOptions = w.Disk, w.MetaDisk, w.MetaIndex, w.DiskOptions
		case api.OpDiskOptions:
			have.Volumes[i].DiskOptions = w.DiskOptions
		case api.OpDetach:
			v := &have.Volumes[i]
			v.Disk, v.MetaDisk, v.MetaIndex, v.DiskOptions = "", "", "", nil
		case api.OpDelMinor:
			have.Volumes = append(have.Volumes[:i], have.Volumes[i+1:]...)
		case api.OpConnect:
			have.Net = &api.RunningNet{Local: want.Local, Peer: want.Peer, Options: want.Net}
		case api.OpDisconnect:
			have.Net = nil
		case api.OpNetOptions:
			have.Net.Options = want.Net
		}
	}
	return have
}

func drawOpts(t *rapid.T, label string, names []string, values []string) []api.Option {
	var out []api.Option
	for _, n := range names {
		if rapid.Bool().Draw(t, label+n) {
			out = append(out, api.Option{Name: n, Value: rapid.SampledFrom(values).Draw(t, label+n+"=")})
		}
	}
	return out
}

var (
	diskNames = []string{"resync-rate", "c-plan-ahead", "al-extents"}
	diskVals  = []string{"250", "0", "20", "1237", "33M", "10M"}
	netNames  = []string{"protocol", "max-buffers", "verify-alg"}
	netVals   = []string{"A", "C", "2048", "4000", "md5"}
	resNames  = []string{"on-no-data-accessible", "cpu-mask"}
	resVals   = []string{"io-error", "suspend-io", "0", "3"}
)

func drawEndpoint(t *rapid.T, label string) *api.Endpoint {
	return &api.Endpoint{AF: "ipv4", Address: rapid.SampledFrom([]string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}).Draw(t, label), Port: "7789"}
}

// Whatever runs, adjust's actions make it match the file: a second
// adjust finds nothing to do.
func TestAdjustConverges(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		want := &api.Resource{Name: "r0", Options: drawOpts(t, "wres", resNames, resVals),
			Local: drawEndpoint(t, "wl"), Peer: drawEndpoint(t, "wp"), Net: drawOpts(t, "wnet", netNames, netVals)}
		for vnr := 0; vnr < 3; vnr++ {
			if rapid.Bool().Draw(t, "wvol") {
				want.Volumes = append(want.Volumes, api.Volume{VNR: vnr, Minor: vnr, Disk: rapid.SampledFrom([]string{"/dev/sdb1", "/dev/sdc1"}).Draw(t, "wdisk"),
					MetaDisk: "internal", MetaIndex: "internal", DiskOptions: drawOpts(t, "wdisk", diskNames, diskVals)})
			}
		}
		var have *api.Running
		if rapid.Bool().Draw(t, "running") {
			have = &api.Running{Name: "r0", Options: drawOpts(t, "hres", resNames, resVals)}
			if rapid.Bool().Draw(t, "connected") {
				have.Net = &api.RunningNet{Local: drawEndpoint(t, "hl"), Peer: drawEndpoint(t, "hp"), Options: drawOpts(t, "hnet", netNames, netVals)}
			}
			for vnr := 0; vnr < 3; vnr++ {
				if rapid.Bool().Draw(t, "hvol") {
					v := api.RunningVolume{VNR: vnr, Minor: vnr}
					if rapid.Bool().Draw(t, "attached") {
						v.Disk, v.MetaDisk, v.MetaIndex = rapid.SampledFrom([]string{"/dev/sdb1", "/dev/sdc1"}).Draw(t, "hdisk"), "internal", "internal"
						v.DiskOptions = drawOpts(t, "hdisk", diskNames, diskVals)
					}
					have.Volumes = append(have.Volumes, v)
				}
			}
		}
		acts := AdjustActions(want, have)
		// The runner runs them stage by stage.
		staged := append([]Action(nil), acts...)
		sort.SliceStable(staged, func(i, j int) bool { return staged[i].Stage < staged[j].Stage })
		after := applyActions(want, have, staged)
		if again := AdjustActions(want, after); len(again) != 0 {
			t.Fatalf("after %v, adjust still wants %v", actions(acts), actions(again))
		}
	})
}
