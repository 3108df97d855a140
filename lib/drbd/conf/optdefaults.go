package conf

import "strings"

// optionDefaults are DRBD 8.4's defaults of the options drbdsetup show
// leaves out (linux/drbd_limits.h), for comparing a running
// configuration with the file (adjust): an option left out on one side
// equals its default on the other.
var optionDefaults = map[string]string{
	// net
	"protocol": "C", "timeout": "60", "connect-int": "10", "ping-int": "10", "ping-timeout": "5",
	"socket-check-timeout": "0", "max-buffers": "2048", "max-epoch-size": "2048", "unplug-watermark": "128",
	"sndbuf-size": "0", "rcvbuf-size": "0", "ko-count": "7", "allow-two-primaries": "no",
	"after-sb-0pri": "disconnect", "after-sb-1pri": "disconnect", "after-sb-2pri": "disconnect",
	"always-asbp": "no", "rr-conflict": "disconnect", "tcp-cork": "yes", "on-congestion": "block",
	"congestion-fill": "0", "congestion-extents": "1237", "csums-after-crash-only": "no", "use-rle": "yes",
	// disk
	"size": "0", "on-io-error": "detach", "fencing": "dont-care", "disk-barrier": "no", "disk-flushes": "yes",
	"disk-drain": "yes", "md-flushes": "yes", "resync-rate": "250", "resync-after": "-1", "al-extents": "1237",
	"al-updates": "yes", "c-plan-ahead": "20", "c-delay-target": "10", "c-fill-target": "100",
	"c-max-rate": "102400", "c-min-rate": "250", "disk-timeout": "0", "read-balancing": "prefer-local",
	"max-bio-bvecs": "0", "discard-zeroes-if-aligned": "yes", "disable-write-same": "no",
	"rs-discard-granularity": "0",
	// resource options
	"cpu-mask": "0", "on-no-data-accessible": "io-error",
}

// OptionDefault is DRBD 8.4's default value of a net, disk or resource
// option, if it has one.
func OptionDefault(name string) (string, bool) {
	v, ok := optionDefaults[name]
	return v, ok
}

// SameOptionValue reports whether two values of option name mean the
// same: numbers are compared in the option's unit (33M = 33792), flags
// written without a value are yes, words ignore case.
func SameOptionValue(name, a, b string) bool {
	if a == b {
		return true
	}
	norm := func(s string) string {
		if s == "" {
			return "yes"
		}
		return strings.ToLower(s)
	}
	a, b = norm(a), norm(b)
	if a == b {
		return true
	}
	unit := byte('1')
	if k, ok := keywords[name]; ok {
		if l, ok := limits[k.rc]; ok {
			unit = l.scale
		}
	}
	if name == "size" || name == "c-fill-target" || name == "congestion-fill" {
		unit = 's'
	}
	x, ok1 := ParseNumber(a, unit)
	y, ok2 := ParseNumber(b, unit)
	return ok1 && ok2 && x == y
}
