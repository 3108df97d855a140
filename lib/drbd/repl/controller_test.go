package repl

import (
	"testing"

	"pgregory.net/rapid"
)

func TestResyncFixedRate(t *testing.T) {
	c := NewResyncController(ResyncConfig{ResyncRate: 10240, MaxBuffers: 2048})
	// 10 MiB/s = 256 blocks of 4 KiB per 100 ms.
	if n := c.Step(0); n != 256 || c.Rate() != 10240 {
		t.Fatalf("fixed rate: %d blocks, rate %d", n, c.Rate())
	}
	// max-buffers/2 = 1024 blocks may be in flight at most.
	total := 256
	for i := 0; i < 10; i++ {
		total += c.Step(0)
	}
	if c.InFlight() != 1024*8 || total != 1024 {
		t.Fatalf("in flight %d sectors after %d blocks", c.InFlight(), total)
	}
}

// TestResyncControllerConverges: against a link that completes a fixed
// number of sectors per step, the dynamic controller settles with about
// c-fill-target sectors in flight and never exceeds c-max-rate.
func TestResyncControllerConverges(t *testing.T) {
	cfg := DefaultResyncConfig
	c := NewResyncController(cfg)
	const linkPerStep = 2000 // sectors the peer completes per 100 ms (10 MB/s)
	inLink := 0
	maxPerStep := cfg.CMaxRate * 2 / 10 / 8
	sum, n := 0, 0
	for step := 0; step < 300; step++ {
		done := min(inLink, linkPerStep)
		inLink -= done
		if step >= 250 {
			// What is still queued when the controller decides: the
			// backlog it steers towards c-fill-target.
			sum += inLink
			n++
		}
		req := c.Step(done)
		if req < 0 || req > maxPerStep {
			t.Fatalf("step %d: %d blocks requested (max %d)", step, req, maxPerStep)
		}
		inLink += req * 8
	}
	if avg := sum / n; avg > 2*cfg.CFillTarget {
		t.Fatalf("backlog %d sectors on average, want about %d", avg, cfg.CFillTarget)
	}
	// The link stays busy: the controller requests what completes.
	if c.Rate() < linkPerStep*10/2*9/10 {
		t.Fatalf("rate %d KiB/s, the link does %d", c.Rate(), linkPerStep*10/2)
	}
}

func TestResyncControllerBounds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := ResyncConfig{
			ResyncRate:   rapid.IntRange(1, 4194304).Draw(t, "rate"),
			CPlanAhead:   rapid.IntRange(0, 300).Draw(t, "plan"),
			CFillTarget:  rapid.IntRange(0, 1048576).Draw(t, "fill"),
			CDelayTarget: rapid.IntRange(1, 100).Draw(t, "delay"),
			CMaxRate:     rapid.IntRange(250, 4194304).Draw(t, "max"),
			MaxBuffers:   rapid.IntRange(32, 131072).Draw(t, "buffers"),
		}
		c := NewResyncController(cfg)
		for i := 0; i < 50; i++ {
			done := rapid.IntRange(0, c.InFlight()).Draw(t, "done")
			n := c.Step(done)
			if n < 0 {
				t.Fatalf("negative request %d", n)
			}
			if c.InFlight() > cfg.MaxBuffers/2*8+8 {
				t.Fatalf("%d sectors in flight, max-buffers allows %d", c.InFlight(), cfg.MaxBuffers/2*8)
			}
			if cfg.CPlanAhead > 0 && n > cfg.CMaxRate*2/10/8 {
				t.Fatalf("%d blocks in one step exceed c-max-rate", n)
			}
		}
	})
}
