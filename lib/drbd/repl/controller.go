package repl

// ResyncConfig holds the disk options that pace a resync, in drbd.conf's
// units.
type ResyncConfig struct {
	ResyncRate   int // resync-rate, KiB/s (used when CPlanAhead is 0 and at the start)
	CPlanAhead   int // c-plan-ahead, 0.1 s; 0 = fixed rate
	CFillTarget  int // c-fill-target, sectors in flight; 0 = use CDelayTarget
	CDelayTarget int // c-delay-target, 0.1 s
	CMaxRate     int // c-max-rate, KiB/s
	MaxBuffers   int // net { max-buffers }, 4 KiB pages
}

// DefaultResyncConfig is DRBD 8.4's defaults.
var DefaultResyncConfig = ResyncConfig{ResyncRate: 250, CPlanAhead: 20, CFillTarget: 100, CDelayTarget: 10, CMaxRate: 102400, MaxBuffers: 2048}

// ResyncStep is the controller's period: DRBD's SLEEP_TIME, 100 ms.
const ResyncStep = 100 // milliseconds

// ResyncController is the sync target's request pacing, DRBD's
// drbd_rs_number_requests and drbd_rs_controller: called every 100 ms
// with the sectors that completed since the last call, it says how many
// 4 KiB blocks to request now. With c-plan-ahead it steers the amount in
// flight to c-fill-target (or to what c-delay-target worth of the current
// rate is), spreading corrections over the planning horizon, capped by
// c-max-rate; without it, it requests at the fixed resync-rate. Pure: the
// caller owns the clock.
type ResyncController struct {
	cfg      ResyncConfig
	plan     []int
	head     int
	total    int
	inFlight int // sectors requested and not yet completed
	rate     int // current sync rate, KiB/s (c_sync_rate, /proc/drbd's "want:")
}

// NewResyncController returns a controller for a resync starting now.
func NewResyncController(cfg ResyncConfig) *ResyncController {
	return &ResyncController{cfg: cfg, plan: make([]int, max(cfg.CPlanAhead, 0))}
}

// InFlight is the number of sectors requested and not yet completed.
func (c *ResyncController) InFlight() int { return c.inFlight }

// Rate is the rate the controller aims at, KiB/s.
func (c *ResyncController) Rate() int { return c.rate }

func (c *ResyncController) controller(sectIn int) int {
	cfg, steps := c.cfg, len(c.plan)
	var want int
	if c.inFlight+sectIn == 0 {
		want = cfg.ResyncRate * 2 / 10 * steps
	} else if cfg.CFillTarget != 0 {
		want = cfg.CFillTarget
	} else {
		want = sectIn * cfg.CDelayTarget
	}
	correction := want - c.inFlight - c.total
	cps := correction / steps
	for i := range c.plan {
		c.plan[i] += cps
	}
	c.total += cps * steps
	curr := c.plan[c.head]
	c.plan[c.head] = 0
	c.head = (c.head + 1) % steps
	c.total -= curr
	req := max(sectIn+curr, 0)
	return min(req, cfg.CMaxRate*2/10)
}

// Step accounts for sectIn sectors completed since the last step and
// returns the number of 4 KiB blocks to request now; the caller then
// requests them and they count as in flight.
func (c *ResyncController) Step(sectIn int) int {
	c.inFlight -= sectIn
	var number int
	if len(c.plan) > 0 {
		number = c.controller(sectIn) >> 3
		c.rate = number * 10 * 4
	} else {
		c.rate = c.cfg.ResyncRate
		number = c.rate / 4 / 10
	}
	mxb := c.cfg.MaxBuffers / 2
	if mxb-c.inFlight/8 < number {
		number = mxb - c.inFlight/8
	}
	number = max(number, 0)
	c.inFlight += number * 8
	return number
}

// Hold accounts for sectIn sectors completed since the last step when
// the caller requests nothing this step (the resync is throttled for
// application I/O): nothing is planned, the rate shows 0.
func (c *ResyncController) Hold(sectIn int) {
	c.inFlight = max(c.inFlight-sectIn, 0)
	c.rate = 0
}

// Reconfigure changes the options of a running resync (disk-options,
// adjust): a new planning horizon starts an empty plan; the amount in
// flight is kept.
func (c *ResyncController) Reconfigure(cfg ResyncConfig) {
	if max(cfg.CPlanAhead, 0) != len(c.plan) {
		c.plan, c.head, c.total = make([]int, max(cfg.CPlanAhead, 0)), 0, 0
	}
	c.cfg = cfg
}

// ShouldSlowDown is DRBD's drbd_rs_should_slow_down: with application
// I/O on the disk (appBusy) the resync gives way while it runs faster
// than c-min-rate (KiB/s); c-min-rate 0 never throttles.
func ShouldSlowDown(cMinRate, syncRate int, appBusy bool) bool {
	return cMinRate > 0 && appBusy && syncRate > cMinRate
}
