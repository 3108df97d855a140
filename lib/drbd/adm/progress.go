package adm

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/linux-ha-go/ha/lib/drbd/api"
	"github.com/linux-ha-go/ha/lib/ipc"
)

// progressEvery is how often wait-sync asks godrbd for the resync's
// progress.
const progressEvery = 200 * time.Millisecond

// syncProgress is a volume's resync progress from status --json: total
// and left in KiB; ok is false when no resync runs.
type syncProgress struct {
	total, left uint64
	ok          bool
}

// parseProgress picks the volume's resync progress out of a status
// --json reply.
func parseProgress(text string, vnr int) (syncProgress, error) {
	var st []struct {
		Connections []struct {
			PeerDevices []struct {
				Volume    int    `json:"volume"`
				OutOfSync uint64 `json:"out-of-sync"`
				Syncing   bool   `json:"has-sync-details"`
				Total     uint64 `json:"godrbd-resync-total"`
			} `json:"peer_devices"`
		} `json:"connections"`
	}
	if err := json.Unmarshal([]byte(text), &st); err != nil {
		return syncProgress{}, err
	}
	for _, r := range st {
		for _, c := range r.Connections {
			for _, pd := range c.PeerDevices {
				if pd.Volume == vnr && pd.Syncing {
					return syncProgress{total: pd.Total, left: min(pd.OutOfSync, pd.Total), ok: true}, nil
				}
			}
		}
	}
	return syncProgress{}, nil
}

// progress shows a progress bar (percent, speed, time left) on stdout
// while wait-sync waits, from status --json asked every progressEvery
// on a second connection. stop ends it.
func (r *runner) progress(ctx context.Context, req *api.Request) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ipc.Dial(ctx, api.Daemon, r.o.Socket())
		if err != nil {
			return
		}
		defer c.Close()
		vnr := 0
		if req.Volume != nil {
			vnr = *req.Volume
		}
		desc := fmt.Sprintf("%s/%d", req.Resource, vnr)
		var bar *progressbar.ProgressBar
		defer func() {
			if bar != nil {
				bar.Finish()
				fmt.Fprintln(r.o.Stdout)
			}
		}()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			q := &api.Request{Op: api.OpStatus, Resource: req.Resource, Flags: []api.Option{{Name: "json"}}}
			var rep api.Reply
			if err := c.Call(ctx, api.OpStatus, q, &rep); err != nil {
				return
			}
			p, err := parseProgress(rep.Text, vnr)
			if err != nil {
				return
			}
			if p.ok && p.total > 0 {
				if bar == nil || bar.GetMax64() != int64(p.total)*1024 {
					bar = progressbar.NewOptions64(int64(p.total)*1024,
						progressbar.OptionSetWriter(r.o.Stdout),
						progressbar.OptionSetDescription(desc),
						progressbar.OptionShowBytes(true),
						progressbar.OptionSetPredictTime(true),
						progressbar.OptionShowElapsedTimeOnFinish(),
						progressbar.OptionSetWidth(30),
						progressbar.OptionShowCount(),
						progressbar.OptionThrottle(100*time.Millisecond),
						progressbar.OptionSetRenderBlankState(true))
				}
				bar.Set64(int64(p.total-p.left) * 1024)
			} else if bar != nil {
				bar.Set64(bar.GetMax64())
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}
