package conf

import (
	"math"
	"net"
	"strings"
)

// limit is one value range of DRBD 8.4 (linux/drbd_limits.h): min, max
// and the default unit ('1' plain, 'k' KiB, 's' sectors).
type limit struct {
	min, max uint64
	scale    byte
}

var limits = map[rangeCheck]limit{
	rMinorCount:         {1, 255, '1'},
	rDialogRefresh:      {0, 600, '1'},
	rDiskSize:           {0, 2 << 40, 's'},
	rTimeout:            {1, 600, '1'},
	rConnectInt:         {1, 120, '1'},
	rPingInt:            {1, 120, '1'},
	rMaxBuffers:         {32, 131072, '1'},
	rMaxEpochSize:       {1, 20000, '1'},
	rSndbufSize:         {0, 10 << 20, '1'},
	rRcvbufSize:         {0, 10 << 20, '1'},
	rKoCount:            {0, 200, '1'},
	rRate:               {1, 4 << 20, 'k'},
	rPort:               {1, 0xffff, '1'},
	rWFCTimeout:         {0, 300000, '1'},
	rDegrWFCTimeout:     {0, 300000, '1'},
	rOutdatedWFCTimeout: {0, 300000, '1'},
	rCPlanAhead:         {0, 300, '1'},
	rCDelayTarget:       {1, 100, '1'},
	rCFillTarget:        {0, 1 << 20, 's'},
	rCMaxRate:           {250, 4 << 20, 'k'},
	rCMinRate:           {0, 4 << 20, 'k'},
	rCongFill:           {0, 10 << 21, 's'},
	rCongExtents:        {67, 0xfffe, '1'},
}

// numErr is how drbdadm's m_strtoll fails.
type numErr int

const (
	numOK numErr = iota
	numInvalid
	numOverflow
)

// ParseNumber converts a value with an optional unit suffix (K/k, M/m,
// G/g, s) into the default unit defUnit ('1', 'k' or 's'), rounding up
// when the value's unit is smaller, as drbdadm's range check does.
func ParseNumber(s string, defUnit byte) (uint64, bool) {
	v, e := strtoll(s, defUnit)
	return v, e == numOK
}

func strtoll(s string, defUnit byte) (uint64, numErr) {
	shift := 0
	switch defUnit {
	case 'k', 'K':
		shift = -10
	case 's':
		shift = -9
	}
	// sscanf("%llu%c%c"): optional white space and sign, digits.
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var r uint64
	over := false
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := uint64(s[i] - '0')
		if r > (math.MaxUint64-d)/10 {
			over = true
		}
		r = r*10 + d
		i++
	}
	if i == start {
		return 0, numInvalid
	}
	if over {
		r = math.MaxUint64
	}
	if neg {
		r = -r
	}
	rest := s[i:]
	if len(rest) > 1 {
		return 0, numInvalid
	}
	if len(rest) == 0 {
		return r, numOK
	}
	switch rest[0] {
	case 'K', 'k':
		shift += 10
	case 'M', 'm':
		shift += 20
	case 'G', 'g':
		shift += 30
	case 's':
		shift += 9
	default:
		return 0, numInvalid
	}
	if shift < 0 {
		shift = -shift
		return (r + (1 << shift) - 1) >> shift, numOK
	}
	if r > math.MaxUint64>>shift {
		return 0, numOverflow
	}
	return r << shift, numOK
}

// strtollRange is drbdadm's m_strtoll_range.
func (p *parser) strtollRange(s string, defUnit byte, name string, min, max uint64) {
	r, e := strtoll(s, defUnit)
	switch e {
	case numInvalid:
		p.die(20, "%s is not a valid number\n", s)
	case numOverflow:
		p.die(20, "%s: out of range\n", s)
	}
	unit := ""
	if defUnit != '1' {
		unit = string(defUnit)
	}
	if min > r || r > max {
		p.invalid("%s:%d: %s %s => %d%s out of range [%d..%d]%s.\n", p.file, p.fline, name, s, r, unit, min, max, unit)
	}
}

// rangeCheck checks value against the option's range and returns the
// value to keep (the protocol letter is upper-cased).
func (p *parser) rangeCheck(rc rangeCheck, name, value string) string {
	switch rc {
	case rNoCheck, rALExtents:
		return value
	case rProtocol:
		if len(value) == 1 {
			c := value[0] &^ 0x20
			if c == 'A' || c == 'B' || c == 'C' {
				return string(c)
			}
		}
		p.invalid("unknown protocol '%s', should be one of A,B,C\n", value)
		return value
	}
	l, ok := limits[rc]
	if !ok {
		p.errf("%s:%d: unknown range for %s => %s\n", p.file, p.fline, name, value)
		return value
	}
	p.strtollRange(value, l.scale, name, l.min, l.max)
	return value
}

// addrScopeLocal: a loopback address, which needs to be unique per host
// only.
func addrScopeLocal(a string) bool {
	if strings.Contains(a, "%") {
		return false
	}
	ip := net.ParseIP(a)
	return ip != nil && ip.IsLoopback()
}
