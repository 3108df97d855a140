package repl

import "testing"

// instant runs the controller for steps with every request answered
// before the next step (a fast link) and returns the blocks requested
// per step.
func instant(c *ResyncController, steps int) []int {
	var out []int
	in := 0
	for i := 0; i < steps; i++ {
		n := c.Step(in * 8)
		out = append(out, n)
		in = n
	}
	return out
}

// On a fast link the amount in flight at each step is 0, so the
// controller keeps raising the rate until c-max-rate holds it: then it
// requests c-max-rate's worth per step and never more.
func TestResyncControllerRampsToMaxRate(t *testing.T) {
	cfg := DefaultResyncConfig
	cfg.CMaxRate = 4096 // 4 MiB/s: 102 blocks per step
	cfg.CFillTarget = 2048
	c := NewResyncController(cfg)
	per := instant(c, 300)
	limit := cfg.CMaxRate * 2 / 10 / 8
	for i, n := range per {
		if n > limit {
			t.Fatalf("step %d: %d blocks, c-max-rate allows %d", i, n, limit)
		}
		if i > 0 && n < per[i-1] && per[i-1] < limit {
			t.Fatalf("step %d: the rate fell from %d to %d blocks before reaching c-max-rate", i, per[i-1], n)
		}
	}
	if per[len(per)-1] != limit {
		t.Fatalf("after 30 s the controller requests %d blocks a step, c-max-rate allows %d", per[len(per)-1], limit)
	}
	if c.Rate() != limit*40 {
		t.Fatalf("Rate() = %d KiB/s, want %d", c.Rate(), limit*40)
	}
}

// With DRBD's default c-fill-target (100 sectors) the ramp is slow: a
// resync of 8 MiB on a fast link takes several seconds, not one step.
func TestResyncControllerDefaultRamp(t *testing.T) {
	c := NewResyncController(DefaultResyncConfig)
	per := instant(c, 1000)
	sum, steps := 0, 0
	for _, n := range per {
		if sum >= 2048 {
			break
		}
		sum += n
		steps++
	}
	if steps < 20 || steps > 200 {
		t.Fatalf("8 MiB took %d steps with the defaults", steps)
	}
}

// Hold requests nothing and frees what completed; the next Step goes on.
func TestResyncControllerHold(t *testing.T) {
	c := NewResyncController(DefaultResyncConfig)
	n := c.Step(0)
	if n == 0 || c.InFlight() != n*8 {
		t.Fatalf("first step %d blocks, %d sectors in flight", n, c.InFlight())
	}
	c.Hold(n * 8)
	if c.InFlight() != 0 || c.Rate() != 0 {
		t.Fatalf("after Hold: %d in flight, rate %d", c.InFlight(), c.Rate())
	}
	if m := c.Step(0); m == 0 {
		t.Fatal("nothing requested after Hold")
	}
}

// Reconfigure from the dynamic controller to a fixed rate and back.
func TestResyncControllerReconfigure(t *testing.T) {
	c := NewResyncController(DefaultResyncConfig)
	instant(c, 10)
	fixed := DefaultResyncConfig
	fixed.CPlanAhead, fixed.ResyncRate = 0, 8192
	c.Reconfigure(fixed)
	in := c.InFlight()
	if n := c.Step(in); n != 8192/40 || c.Rate() != 8192 {
		t.Fatalf("fixed 8 MiB/s: %d blocks, rate %d", n, c.Rate())
	}
	c.Reconfigure(DefaultResyncConfig)
	if n := c.Step(c.InFlight()); n < 0 || n > DefaultResyncConfig.CMaxRate*2/10/8 {
		t.Fatalf("back to dynamic: %d blocks", n)
	}
}

func TestShouldSlowDown(t *testing.T) {
	for _, c := range []struct {
		min, rate int
		busy      bool
		want      bool
	}{
		{250, 1000, true, true},
		{250, 1000, false, false},
		{250, 200, true, false},
		{0, 100000, true, false}, // c-min-rate 0: never
		{4096, 4096, true, false},
	} {
		if got := ShouldSlowDown(c.min, c.rate, c.busy); got != c.want {
			t.Errorf("ShouldSlowDown(%d, %d, %v) = %v", c.min, c.rate, c.busy, got)
		}
	}
}
