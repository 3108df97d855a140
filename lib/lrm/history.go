package lrm

import (
	"sort"
	"time"
)

// History is one resource's operation history: the last result of each
// operation (action and interval), and the last failure. It decides,
// without a clock of its own, which results are news for subscribers.
type History struct {
	Last        map[string]*Result `json:"last"` // by HistoryKey
	LastFailure *Result            `json:"last_failure,omitempty"`
}

// HistoryKey names an operation within one resource: ACTION_INTERVALMS.
func HistoryKey(action string, interval time.Duration) string {
	return OpKey("", action, interval)[1:]
}

// Record stores r and reports whether subscribers should hear of it:
// every one-shot result is news; a recurring result is news when it is
// the first, or its rc or execution status differs from the previous
// one. It sets r.LastRCChange from r.Start when the rc changed.
func (h *History) Record(r *Result) bool {
	if h.Last == nil {
		h.Last = map[string]*Result{}
	}
	k := HistoryKey(r.Action, r.Interval)
	prev := h.Last[k]
	changed := prev == nil || prev.RC != r.RC || prev.Status != r.Status
	if changed || prev.LastRCChange.IsZero() {
		r.LastRCChange = r.Start
	} else {
		r.LastRCChange = prev.LastRCChange
	}
	h.Last[k] = r
	if Failed(r) {
		h.LastFailure = r
	}
	return r.Interval == 0 || changed
}

// Failed reports whether a result is a failure worth keeping as the last
// failure: it did not complete, or its rc is neither success nor, for a
// monitor or a stop, "not running" (the expected answer of a probe),
// nor "promoted" for a monitor.
func Failed(r *Result) bool {
	if r.Status == StatusCancelled {
		return false
	}
	if r.Status != StatusDone {
		return true
	}
	switch r.RC {
	case 0:
		return false
	case 7:
		return !(r.Action == "monitor" && r.Interval == 0) && r.Action != "status"
	case 8:
		return r.Action != "monitor" && r.Action != "promote"
	}
	return true
}

// Sorted returns the last results ordered by call id.
func (h *History) Sorted() []*Result {
	out := make([]*Result, 0, len(h.Last))
	for _, r := range h.Last {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CallID < out[j].CallID })
	return out
}
