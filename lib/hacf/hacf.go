// Package hacf parses heartbeat 3's ha.cf and authkeys with heartbeat's
// rules, defaults and units, and validates them whole before anything
// starts. Errors name the file and line and say what was expected.
package hacf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Medium is one heartbeat link line of ha.cf.
type Medium struct {
	Kind  string // bcast, mcast, mcast6, ucast, ucast6, serial
	Dev   string // interface (or serial device)
	Group string // mcast group
	Peer  string // ucast peer address
	Port  int    // mcast: its own port; others: udpport
	TTL   int    // mcast ttl/hops
	Loop  bool   // mcast loop
	Line  int
}

// PingNode is a ping or ping_group pseudo node.
type PingNode struct {
	Name  string   // the address for ping, the group name for ping_group
	Addrs []string // addresses that are pinged
	Group bool
	Line  int
}

// Config is a parsed ha.cf.
type Config struct {
	File string

	// Timing. deadtime must exceed 2*keepalive; warntime defaults to
	// deadtime/2; initdead defaults to deadtime when that is over 10 s,
	// 12 s when deadtime is under 6 s, else 2*deadtime, and must be at
	// least deadtime; deadping defaults to deadtime.
	Keepalive time.Duration
	Deadtime  time.Duration
	Warntime  time.Duration
	Initdead  time.Duration
	Deadping  time.Duration

	UDPPort   int
	Media     []Medium
	Nodes     []string
	PingNodes []PingNode
	// Bind lists local addresses to bind the links to (extension
	// `bindaddr`, for several nodes on one machine); empty means any.
	Bind []string

	Autojoin     string // none, other, any
	AutoFailback string // on, off, legacy
	CRM          string // pacemaker/crm value as written, "" when unset

	Logfile     string
	Debugfile   string
	Logfacility string
	Debug       int
	UseLogd     bool

	UUIDFrom               string // file or nodename
	HBGenMethod            string // file or time
	Msgfmt                 string // classic or netstring
	Compression            string
	CompressionThreshold   int // KiB
	TraditionalCompression bool
	Realtime               bool
	RTPrio                 int
	MaxRexmitDelay         time.Duration
	Hopfudge               int
	Cluster                string
	LogBadpack             bool

	// NoEffect names the directives given that are accepted but have no
	// effect here, for the one warning at start.
	NoEffect []string
	// Written keeps each directive's value as written (last one wins),
	// for `cl-status hbparameter`.
	Written map[string]string
}

// Error is a configuration error at a place in a file.
type Error struct {
	File string
	Line int // 0 when the error is about the file as a whole
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ErrConfig is wrapped by every configuration error (heartbeat exits 6,
// "not configured", on these).
var ErrConfig = errors.New("configuration error")

func (e *Error) Unwrap() error { return ErrConfig }

// ParseTime reads heartbeat's time values: a number of seconds (digits
// and one '.'), or with an ms/msec or us/usec suffix; rounded to the
// nearest millisecond. "2s" is not accepted, as in heartbeat.
func ParseTime(s string) (time.Duration, error) {
	num := strings.TrimRightFunc(s, func(r rune) bool { return r >= 'a' && r <= 'z' })
	unit := s[len(num):]
	if num == "" || strings.Count(num, ".") > 1 || strings.Trim(num, "0123456789.") != "" || num == "." {
		return 0, fmt.Errorf("%q is not a time: expected seconds (2, 1.5) or a value with ms or us (500ms, 2500us)", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a time: %v", s, err)
	}
	var ms float64
	switch unit {
	case "":
		ms = f * 1000
	case "ms", "msec":
		ms = f
	case "us", "usec":
		ms = f / 1000
	default:
		return 0, fmt.Errorf("%q is not a time: unit %q is not one of ms, msec, us, usec (no unit means seconds; heartbeat does not take \"s\")", s, unit)
	}
	if ms > float64(1<<31) {
		return 0, fmt.Errorf("%q is too long a time", s)
	}
	return time.Duration(ms+0.5) * time.Millisecond, nil
}

// ParseBool reads heartbeat's booleans.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "on", "yes", "y", "1":
		return true, nil
	case "false", "off", "no", "n", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean: expected on/off, yes/no, true/false, y/n or 1/0", s)
}

// directive kinds
type handler struct {
	whole bool // the rest of the line is one value (not split into tokens)
	apply func(c *Config, v string, line int) error
	// noEffect directives are accepted, validated where cheap, and named
	// in one warning.
	noEffect bool
	// once: the directive may appear only once.
	once bool
}

func timeInto(dst func(*Config) *time.Duration, min time.Duration) func(*Config, string, int) error {
	return func(c *Config, v string, _ int) error {
		d, err := ParseTime(v)
		if err != nil {
			return err
		}
		if d < min {
			return fmt.Errorf("%q is too small: must be more than 0", v)
		}
		*dst(c) = d
		return nil
	}
}

func boolInto(dst func(*Config) *bool) func(*Config, string, int) error {
	return func(c *Config, v string, _ int) error {
		b, err := ParseBool(v)
		if err != nil {
			return err
		}
		*dst(c) = b
		return nil
	}
}

func oneOf(dst func(*Config) *string, values ...string) func(*Config, string, int) error {
	return func(c *Config, v string, _ int) error {
		for _, ok := range values {
			if strings.EqualFold(v, ok) {
				*dst(c) = ok
				return nil
			}
		}
		return fmt.Errorf("%q is not valid: expected one of %s", v, strings.Join(values, ", "))
	}
}

func intRange(dst func(*Config) *int, lo, hi int) func(*Config, string, int) error {
	return func(c *Config, v string, _ int) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("%q is not valid: expected a whole number from %d to %d", v, lo, hi)
		}
		*dst(c) = n
		return nil
	}
}

func accept(v string) func(*Config, string, int) error {
	return func(*Config, string, int) error { return nil }
}

var directives map[string]handler

func init() {
	directives = map[string]handler{
		"keepalive": {apply: timeInto(func(c *Config) *time.Duration { return &c.Keepalive }, time.Millisecond)},
		"deadtime":  {apply: timeInto(func(c *Config) *time.Duration { return &c.Deadtime }, 0)},
		"warntime":  {apply: timeInto(func(c *Config) *time.Duration { return &c.Warntime }, time.Millisecond)},
		"initdead":  {apply: timeInto(func(c *Config) *time.Duration { return &c.Initdead }, 0)},
		"deadping":  {apply: timeInto(func(c *Config) *time.Duration { return &c.Deadping }, 0)},
		"udpport": {apply: func(c *Config, v string, _ int) error {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 || n > 65535 {
				return fmt.Errorf("invalid port [%s] specified: expected 1 to 65535", v)
			}
			c.UDPPort = n
			return nil
		}},
		"bcast": {apply: func(c *Config, v string, line int) error {
			c.Media = append(c.Media, Medium{Kind: "bcast", Dev: v, Port: c.UDPPort, Line: line})
			return nil
		}},
		"udp": {apply: func(c *Config, v string, line int) error {
			c.Media = append(c.Media, Medium{Kind: "bcast", Dev: v, Port: c.UDPPort, Line: line})
			return nil
		}},
		"ucast":  {whole: true, apply: parseUcast("ucast")},
		"ucast6": {whole: true, apply: parseUcast("ucast6")},
		"mcast":  {whole: true, apply: parseMcast("mcast")},
		"mcast6": {whole: true, apply: parseMcast("mcast6")},
		"serial": {noEffect: true, apply: func(c *Config, v string, line int) error { return nil }},
		"baud": {noEffect: true, once: true, apply: func(c *Config, v string, _ int) error {
			switch v {
			case "9600", "19200", "38400", "57600", "115200", "230400", "460800":
				return nil
			}
			return fmt.Errorf("%q is not a valid baud rate: expected 9600 to 460800", v)
		}},
		"node": {apply: func(c *Config, v string, line int) error {
			v = strings.ToLower(v)
			for _, n := range c.Nodes {
				if n == v {
					return nil
				}
			}
			c.Nodes = append(c.Nodes, v)
			return nil
		}},
		"bindaddr": {apply: func(c *Config, v string, _ int) error {
			if net.ParseIP(v) == nil {
				return fmt.Errorf("%q is not an IP address", v)
			}
			c.Bind = append(c.Bind, v)
			return nil
		}},
		"ping": {apply: func(c *Config, v string, line int) error {
			c.PingNodes = append(c.PingNodes, PingNode{Name: v, Addrs: []string{v}, Line: line})
			return nil
		}},
		"ping6": {apply: func(c *Config, v string, line int) error {
			c.PingNodes = append(c.PingNodes, PingNode{Name: v, Addrs: []string{v}, Line: line})
			return nil
		}},
		"ping_group": {whole: true, apply: func(c *Config, v string, line int) error {
			f := fields(v)
			if len(f) < 2 {
				return fmt.Errorf("expected a group name and at least one address: ping_group NAME ADDR...")
			}
			c.PingNodes = append(c.PingNodes, PingNode{Name: f[0], Addrs: f[1:], Group: true, Line: line})
			return nil
		}},
		"hbaping":  {noEffect: true, apply: func(*Config, string, int) error { return nil }},
		"autojoin": {apply: oneOf(func(c *Config) *string { return &c.Autojoin }, "none", "other", "any")},
		"auto_failback": {apply: func(c *Config, v string, _ int) error {
			if strings.EqualFold(v, "legacy") {
				c.AutoFailback = "legacy"
				return nil
			}
			b, err := ParseBool(v)
			if err != nil {
				return fmt.Errorf("%q is not valid: expected on, off (or another boolean) or legacy", v)
			}
			c.AutoFailback = map[bool]string{true: "on", false: "off"}[b]
			return nil
		}},
		"nice_failback": {noEffect: true, apply: func(c *Config, v string, _ int) error {
			_, err := ParseBool(v)
			return err
		}},
		"crm":       {once: true, apply: parseCRM},
		"pacemaker": {once: true, apply: parseCRM},
		"logfile":   {apply: func(c *Config, v string, _ int) error { c.Logfile = v; return nil }},
		"debugfile": {apply: func(c *Config, v string, _ int) error { c.Debugfile = v; return nil }},
		"logfacility": {apply: func(c *Config, v string, _ int) error {
			if v != "none" && !validFacility(v) {
				return fmt.Errorf("log facility(%s) not valid: expected none, daemon, user, local0 … local7, …", v)
			}
			c.Logfacility = v
			return nil
		}},
		"debug":                   {apply: intRange(func(c *Config) *int { return &c.Debug }, 0, 255)},
		"use_logd":                {apply: boolInto(func(c *Config) *bool { return &c.UseLogd })},
		"uuidfrom":                {apply: oneOf(func(c *Config) *string { return &c.UUIDFrom }, "file", "nodename")},
		"hbgenmethod":             {apply: oneOf(func(c *Config) *string { return &c.HBGenMethod }, "file", "time")},
		"msgfmt":                  {apply: oneOf(func(c *Config) *string { return &c.Msgfmt }, "classic", "netstring")},
		"compression":             {apply: oneOf(func(c *Config) *string { return &c.Compression }, "zlib", "bz2")},
		"compression_threshold":   {apply: intRange(func(c *Config) *int { return &c.CompressionThreshold }, 1, 256)},
		"traditional_compression": {apply: boolInto(func(c *Config) *bool { return &c.TraditionalCompression })},
		"realtime":                {apply: boolInto(func(c *Config) *bool { return &c.Realtime })},
		"rtprio":                  {apply: intRange(func(c *Config) *int { return &c.RTPrio }, 1, 99)},
		"max_rexmit_delay": {apply: func(c *Config, v string, _ int) error {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return fmt.Errorf("%q is not valid: expected a whole number of milliseconds above 0", v)
			}
			c.MaxRexmitDelay = time.Duration(n) * time.Millisecond
			return nil
		}},
		"hopfudge":    {apply: intRange(func(c *Config) *int { return &c.Hopfudge }, 0, 255)},
		"cluster":     {apply: func(c *Config, v string, _ int) error { c.Cluster = v; return nil }},
		"log_badpack": {apply: boolInto(func(c *Config) *bool { return &c.LogBadpack })},
		// Accepted, checked where cheap, no effect here.
		"conn_logd_time":        {noEffect: true, apply: func(_ *Config, v string, _ int) error { _, err := ParseTime(v); return err }},
		"coredumps":             {noEffect: true, apply: func(_ *Config, v string, _ int) error { _, err := ParseBool(v); return err }},
		"coreroot":              {noEffect: true, apply: accept("")},
		"syslogmsgfmt":          {noEffect: true, apply: func(_ *Config, v string, _ int) error { _, err := ParseBool(v); return err }},
		"use_apphbd":            {noEffect: true, apply: func(_ *Config, v string, _ int) error { _, err := ParseBool(v); return err }},
		"memreserve":            {noEffect: true, apply: func(_ *Config, v string, _ int) error { return positive(v) }},
		"crm_daemon_dir":        {noEffect: true, apply: accept("")},
		"crmd_spawns_pengine":   {noEffect: true, apply: func(_ *Config, v string, _ int) error { _, err := ParseBool(v); return err }},
		"quorum_server":         {noEffect: true, apply: accept("")},
		"watchdog":              {noEffect: true, once: true, apply: accept("")},
		"record_config_changes": {noEffect: true, apply: func(_ *Config, v string, _ int) error { _, err := ParseBool(v); return err }},
		"record_pengine_inputs": {noEffect: true, apply: func(_ *Config, v string, _ int) error { _, err := ParseBool(v); return err }},
		"enable_config_writes":  {noEffect: true, apply: func(_ *Config, v string, _ int) error { _, err := ParseBool(v); return err }},
		"env": {noEffect: true, whole: true, apply: func(_ *Config, v string, _ int) error {
			if !strings.Contains(v, "=") {
				return fmt.Errorf("expected env NAME=value")
			}
			return nil
		}},
		"respawn":      {noEffect: true, whole: true, apply: parseRespawn},
		"failfast":     {noEffect: true, whole: true, apply: parseRespawn},
		"apiauth":      {noEffect: true, whole: true, apply: parseAPIAuth},
		"stonith":      {noEffect: true, whole: true, apply: accept("")},
		"stonith_host": {noEffect: true, whole: true, apply: accept("")},
		"hbversion":    {noEffect: true, apply: accept("")},
	}
}

func positive(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return fmt.Errorf("%q is not valid: expected a whole number above 0", v)
	}
	return nil
}

func parseCRM(c *Config, v string, _ int) error {
	switch strings.ToLower(v) {
	case "on", "yes", "true", "y", "1", "respawn", "minimal", "manual", "ccm-only", "valgrind":
		c.CRM = strings.ToLower(v)
	case "off", "no", "false", "n", "0":
		c.CRM = ""
	default:
		return fmt.Errorf("%q is not valid: expected on, off, respawn, minimal, manual, ccm-only or valgrind", v)
	}
	return nil
}

func parseRespawn(_ *Config, v string, _ int) error {
	f := fields(v)
	if len(f) < 2 {
		return fmt.Errorf("expected a user and a full path: respawn USER /path/to/program [args]")
	}
	if !strings.HasPrefix(f[1], "/") {
		return fmt.Errorf("client child command [%s] is not full pathname", f[1])
	}
	return nil
}

func parseAPIAuth(_ *Config, v string, _ int) error {
	f := fields(v)
	if len(f) < 2 {
		return fmt.Errorf("invalid apiauth directive [%s]: expected apiauth CLIENT uid=U[,U] and/or gid=G[,G]", v)
	}
	for _, kv := range f[1:] {
		if !strings.HasPrefix(kv, "uid=") && !strings.HasPrefix(kv, "gid=") {
			return fmt.Errorf("invalid apiauth directive [%s]: %q is neither uid= nor gid=", v, kv)
		}
	}
	return nil
}

func parseUcast(kind string) func(*Config, string, int) error {
	return func(c *Config, v string, line int) error {
		f := fields(v)
		if len(f) < 1 {
			return fmt.Errorf("%s: missing interface: expected %s DEV PEER-IP", kind, kind)
		}
		if len(f) < 2 {
			return fmt.Errorf("%s: [%s] missing target IP address/hostname", kind, f[0])
		}
		if len(f) > 2 {
			return fmt.Errorf("%s: too many values: expected %s DEV PEER-IP", kind, kind)
		}
		c.Media = append(c.Media, Medium{Kind: kind, Dev: f[0], Peer: f[1], Port: c.UDPPort, Line: line})
		return nil
	}
}

func parseMcast(kind string) func(*Config, string, int) error {
	return func(c *Config, v string, line int) error {
		f := fields(v)
		if len(f) != 5 {
			return fmt.Errorf("%s: expected %s DEV GROUP PORT TTL LOOP, got %d values", kind, kind, len(f))
		}
		ip := net.ParseIP(f[1])
		if ip == nil || !ip.IsMulticast() {
			return fmt.Errorf("%s: %q is not a multicast group address", kind, f[1])
		}
		port, err := strconv.Atoi(f[2])
		if err != nil || port <= 0 || port > 65535 {
			return fmt.Errorf("%s: %q is not a port: expected 1 to 65535", kind, f[2])
		}
		ttl, err := strconv.Atoi(f[3])
		if err != nil || ttl < 0 || ttl > 255 {
			return fmt.Errorf("%s: ttl %q is not valid: expected 0 to 255", kind, f[3])
		}
		if f[4] != "0" && f[4] != "1" {
			return fmt.Errorf("%s: loop %q is not valid: expected 0 or 1", kind, f[4])
		}
		c.Media = append(c.Media, Medium{Kind: kind, Dev: f[0], Group: f[1], Port: port, TTL: ttl, Loop: f[4] == "1", Line: line})
		return nil
	}
}

func validFacility(v string) bool {
	switch v {
	case "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
		"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7":
		return true
	}
	return false
}

// fields splits on heartbeat's separators: comma, space, tab.
func fields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\f' || r == '\r' })
}

// DefaultUDPPort is heartbeat's port when /etc/services has no
// ha-cluster entry.
const DefaultUDPPort = 694

func defaults() *Config {
	return &Config{
		Keepalive: time.Second, Deadtime: 30 * time.Second,
		UDPPort: servicePort(), Autojoin: "none", AutoFailback: "legacy",
		UUIDFrom: "file", HBGenMethod: "file", Msgfmt: "classic", Compression: "zlib",
		CompressionThreshold: 2, Realtime: true, MaxRexmitDelay: 250 * time.Millisecond,
		Hopfudge: 1, Cluster: "linux-ha", LogBadpack: true, Written: map[string]string{},
	}
}

func servicePort() int {
	b, err := os.ReadFile("/etc/services")
	if err != nil {
		return DefaultUDPPort
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "ha-cluster" && strings.HasSuffix(f[1], "/udp") {
			if n, err := strconv.Atoi(strings.TrimSuffix(f[1], "/udp")); err == nil {
				return n
			}
		}
	}
	return DefaultUDPPort
}

// Load reads and validates an ha.cf file for node self.
func Load(path, self string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read: %v", errors.Unwrap(err))}
	}
	return Parse(path, bytes.NewReader(b), self)
}

// Parse reads ha.cf text. name is the file name used in errors.
func Parse(name string, r io.Reader, self string) (*Config, error) {
	c := defaults()
	c.File = name
	seen := map[string]int{}
	set := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(strings.TrimRight(line, "\r"))
		if line == "" {
			continue
		}
		dir, rest, _ := strings.Cut(strings.Map(func(r rune) rune {
			if r == '\t' {
				return ' '
			}
			return r
		}, line), " ")
		rest = strings.TrimSpace(rest)
		h, ok := directives[dir]
		if !ok {
			hint := ""
			if lower := strings.ToLower(dir); lower != dir {
				if _, ok := directives[lower]; ok {
					hint = fmt.Sprintf(" (directive names are case-sensitive: did you mean %q?)", lower)
				}
			}
			return nil, &Error{File: name, Line: lineNo, Msg: fmt.Sprintf("illegal directive [%s]%s", dir, hint)}
		}
		if h.once && seen[dir] > 0 {
			return nil, &Error{File: name, Line: lineNo, Msg: fmt.Sprintf("%s may be given only once (first at line %d)", dir, seen[dir])}
		}
		if seen[dir] == 0 {
			seen[dir] = lineNo
		}
		if rest == "" {
			return nil, &Error{File: name, Line: lineNo, Msg: fmt.Sprintf("%s: missing value", dir)}
		}
		vals := []string{rest}
		if !h.whole {
			vals = fields(rest)
		}
		for _, v := range vals {
			if err := h.apply(c, v, lineNo); err != nil {
				msg := err.Error()
				if !strings.HasPrefix(msg, dir) {
					msg = dir + ": " + msg
				}
				return nil, &Error{File: name, Line: lineNo, Msg: msg}
			}
		}
		set[dir] = true
		c.Written[dir] = rest
		if h.noEffect && !contains(c.NoEffect, dir) {
			c.NoEffect = append(c.NoEffect, dir)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{File: name, Line: lineNo + 1, Msg: fmt.Sprintf("cannot read: %v", err)}
	}
	sort.Strings(c.NoEffect)
	return c, c.finish(set, seen, self)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// finish applies computed defaults and the cross-checks heartbeat makes.
func (c *Config) finish(set map[string]bool, line map[string]int, self string) error {
	errAt := func(dir string, format string, args ...any) error {
		return &Error{File: c.File, Line: line[dir], Msg: fmt.Sprintf(format, args...)}
	}
	if !set["warntime"] {
		c.Warntime = c.Deadtime / 2
	}
	if !set["initdead"] {
		switch {
		case c.Deadtime > 10*time.Second:
			c.Initdead = c.Deadtime
		case c.Deadtime < 6*time.Second:
			c.Initdead = 12 * time.Second
		default:
			c.Initdead = 2 * c.Deadtime
		}
	}
	if !set["deadping"] {
		c.Deadping = c.Deadtime
	}
	if c.Deadtime <= 2*c.Keepalive {
		return errAt("deadtime", "deadtime [%d ms] is too small compared to keepalive [%d ms]: deadtime must be more than twice keepalive",
			c.Deadtime.Milliseconds(), c.Keepalive.Milliseconds())
	}
	if c.Initdead < c.Deadtime {
		return errAt("initdead", "initial dead time [%d ms] is smaller than deadtime [%d ms]", c.Initdead.Milliseconds(), c.Deadtime.Milliseconds())
	}
	if set["deadping"] && c.Deadping <= 2*c.Keepalive {
		return errAt("deadping", "deadping [%d ms] is too small compared to keepalive [%d ms]", c.Deadping.Milliseconds(), c.Keepalive.Milliseconds())
	}
	if len(c.Media) == 0 {
		return &Error{File: c.File, Msg: "no heartbeat media defined: add a bcast, mcast or ucast line"}
	}
	if len(c.Nodes) == 0 && c.Autojoin == "none" {
		return &Error{File: c.File, Msg: "no nodes defined: add a node line naming every cluster node"}
	}
	if self != "" && c.Autojoin != "any" && !contains(c.Nodes, strings.ToLower(self)) {
		named := "there are no node lines"
		if len(c.Nodes) > 0 {
			named = "the node lines name " + strings.Join(c.Nodes, ", ")
		}
		return &Error{File: c.File, Line: line["node"], Msg: fmt.Sprintf("current node [%s] not in configuration: %s (set --node or HA_NODENAME, or add it)", self, named)}
	}
	for _, m := range c.Media {
		if m.Kind == "ucast6" || m.Kind == "mcast6" {
			return &Error{File: c.File, Line: m.Line, Msg: fmt.Sprintf("%s: IPv6 media are accepted by heartbeat but not served by hb-beat yet: use ucast or mcast over IPv4", m.Kind)}
		}
	}
	for _, p := range c.PingNodes {
		for _, a := range p.Addrs {
			if ip := net.ParseIP(a); ip != nil && ip.To4() == nil {
				return &Error{File: c.File, Line: p.Line, Msg: fmt.Sprintf("ping address %s: IPv6 ping nodes are not served by hb-beat yet: use an IPv4 address", a)}
			}
		}
	}
	for _, b := range c.Bind {
		if net.ParseIP(b).To4() == nil {
			return &Error{File: c.File, Line: line["bindaddr"], Msg: fmt.Sprintf("bindaddr %s: only IPv4 addresses can be bound", b)}
		}
	}
	if !set["logfile"] && !set["debugfile"] && !set["logfacility"] && !set["use_logd"] {
		c.UseLogd = true
	}
	return nil
}

// Warnings returns what a start should warn about once.
func (c *Config) Warnings() []string {
	var w []string
	if len(c.NoEffect) > 0 {
		w = append(w, fmt.Sprintf("%s: accepted, has no effect here: %s", c.File, strings.Join(c.NoEffect, ", ")))
	}
	if c.Initdead < 10*time.Second {
		w = append(w, fmt.Sprintf("initial dead time [%d ms] may be too small", c.Initdead.Milliseconds()))
	}
	if c.AutoFailback == "legacy" && c.Written["auto_failback"] == "legacy" {
		w = append(w, "deprecated 'legacy' auto_failback option selected")
	}
	return w
}

// Parameter answers `cl_status hbparameter -p NAME`: the value as written,
// or the computed default; ok is false for parameters it cannot give.
func (c *Config) Parameter(name string) (string, bool) {
	if v, ok := c.Written[name]; ok && name != "node" && name != "apiauth" && name != "stonith" && name != "nice_failback" && name != "hbversion" {
		return v, true
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) }
	switch name {
	case "keepalive":
		return ms(c.Keepalive), true
	case "deadtime":
		return ms(c.Deadtime), true
	case "warntime":
		return ms(c.Warntime), true
	case "initdead":
		return ms(c.Initdead), true
	case "deadping":
		return ms(c.Deadping), true
	case "udpport":
		return strconv.Itoa(c.UDPPort), true
	case "logfacility":
		if c.Logfacility == "" {
			return "none", true
		}
		return c.Logfacility, true
	case "msgfmt":
		return c.Msgfmt, true
	case "hopfudge":
		return strconv.Itoa(c.Hopfudge), true
	case "cluster":
		return c.Cluster, true
	case "realtime":
		return strconv.FormatBool(c.Realtime), true
	case "baud":
		return "19200", true
	case "debug":
		return strconv.Itoa(c.Debug), true
	case "compression":
		return c.Compression, true
	case "max_rexmit_delay":
		return strconv.Itoa(int(c.MaxRexmitDelay.Milliseconds())), true
	case "auto_failback":
		return c.AutoFailback, true
	case "hbversion":
		return Version, true
	}
	return "", false
}

// Version is what hbversion answers.
const Version = "3.0.6 (linux-ha-go hb-beat)"
