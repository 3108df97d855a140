package conf

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/linux-ha-go/ha/lib/exitcode"
)

// Exit codes of drbdadm for configuration problems.
const (
	codeConfig = exitcode.DrbdConfig // 10
	codeUsage  = exitcode.DrbdUsage  // 1
)

// fatal stops the parse, as drbdadm's exit() does.
type fatal struct{ code exitcode.Code }

// Source reads a file; tests and the fuzz target replace it.
type Source interface {
	ReadFile(name string) ([]byte, error)
	Glob(pattern string) ([]string, error)
	// Canon returns an absolute canonical path (drbdadm's canonify_path:
	// the directory resolved, the last element kept).
	Canon(name string) string
	// Real returns the realpath of an existing file, or name.
	Real(name string) string
}

// OS reads the real file system.
type OS struct{}

func (OS) ReadFile(name string) ([]byte, error)  { return os.ReadFile(name) }
func (OS) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }
func (OS) Canon(name string) string {
	dir, base := filepath.Split(name)
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err == nil {
		if r, err := filepath.EvalSymlinks(abs); err == nil {
			abs = r
		}
	}
	return filepath.Join(abs, base)
}
func (OS) Real(name string) string {
	abs, err := filepath.Abs(name)
	if err != nil {
		return name
	}
	r, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return name
	}
	return r
}

// parser holds drbdadm's parse state for one configuration.
type parser struct {
	src   Source
	cfg   *Config
	msgs  []string
	valid bool

	// per file
	lx   *lexer
	file string // config_file: the name as given, for messages
	save string // config_save: canonical path
	dir  string // directory includes are relative to (canonical)

	tok   token  // last token (yytext is tok.text)
	lval  string // yylval.txt: last value a value-carrying token set
	lrc   rangeCheck
	fline int
	cSect int // c_section_start

	seen   map[string]bool
	global map[string]string // check_uniq
	upr    map[string]string // check_upr (per resource)
	inRes  bool              // a resource has been parsed (for the global warning)
}

// Parse reads the configuration file name (as the user gave it; "-" is
// not handled here) and everything it includes.
func Parse(src Source, name string) (*Config, error) {
	data, err := src.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return ParseBytes(src, name, src.Canon(name), data)
}

// ParseBytes parses data as the file called name (for messages) whose
// canonical path is canon.
func ParseBytes(src Source, name, canon string, data []byte) (cfg *Config, err error) {
	p := &parser{
		src:    src,
		valid:  true,
		seen:   map[string]bool{},
		global: map[string]string{},
		upr:    map[string]string{},
	}
	p.cfg = &Config{
		File: canon,
		Global: Global{
			UsageCount: UsageAsk, DialogRefresh: 1,
			CmdTimeoutShort: 5, CmdTimeoutMedium: 121, CmdTimeoutLong: 600,
		},
		addrLines: map[string]string{},
	}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(fatal)
			if !ok {
				panic(r)
			}
			cfg, err = nil, &Error{Msgs: p.msgs, Code: f.code}
		}
	}()
	p.file, p.save = name, canon
	p.lx = newLexer(data)
	p.seen[src.Real(name)] = true
	p.parseTop()
	if !p.valid {
		return nil, &Error{Msgs: p.msgs, Code: codeConfig}
	}
	p.cfg.Warnings = p.msgs
	return p.cfg, nil
}

func (p *parser) errf(format string, args ...any) {
	p.msgs = append(p.msgs, fmt.Sprintf(format, args...))
}

func (p *parser) invalid(format string, args ...any) {
	p.errf(format, args...)
	p.valid = false
}

func (p *parser) die(code exitcode.Code, format string, args ...any) {
	p.errf(format, args...)
	panic(fatal{code})
}

// next reads a token. Like drbdadm's yylval, lval and lrc keep the value
// of the last token that carries one (words, numbers, addresses, option
// names), across punctuation and plain keywords.
func (p *parser) next() int {
	p.tok = p.lx.next()
	if p.tok.keep {
		p.lval = p.tok.val
		p.lrc = p.tok.rc
	}
	return p.tok.kind
}

func ellipsis(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

// peExpected is drbdadm's pe_expected: fatal, no token number.
func (p *parser) peExpected(exp string) {
	p.die(codeConfig, "%s:%d: Parse error: '%s' expected,\n\tbut got '%s'\n", p.file, p.lx.line, exp, ellipsis(p.tok.text))
}

// peExpectedGot is pe_expected_got: with the token number.
func (p *parser) peExpectedGot(exp string, got int) {
	p.die(codeConfig, "%s:%d: Parse error: '%s' expected,\n\tbut got '%s' (TK %d)\n", p.file, p.lx.line, exp, ellipsis(p.tok.text), got)
}

func (p *parser) checkStringError(got int) {
	var msg string
	switch got {
	case tkErrStringTooLong:
		msg = "Token too long"
	case tkErrDQStringTooLong:
		msg = "Double quoted string too long"
	case tkErrDQString:
		msg = "Unterminated double quoted string\n  we don't allow embedded newlines\n "
	default:
		return
	}
	t := p.tok.text
	if len(t) > 20 {
		t = t[:20]
	}
	p.die(codeConfig, "%s:%d: %s >>>%s...<<<\n", p.file, p.lx.line, msg, t)
}

// tokName is how drbdadm's EXP macro names the token it expected.
var tokNames = map[int]string{
	tkString: "TK_STRING", tkInteger: "TK_INTEGER", tkIPAddr: "TK_IPADDR",
	tkIPAddr6: "TK_IPADDR6", tkOn: "TK_ON", tkDevice: "TK_DEVICE",
}

func (p *parser) exp(want int) {
	got := p.next()
	if got == want {
		return
	}
	if want == tkString {
		p.checkStringError(got)
	}
	name, ok := tokNames[want]
	if !ok {
		name = string(rune(want))
	}
	p.peExpectedGot(name, got)
}

func (p *parser) expectStringOrInt() {
	t := p.next()
	switch t {
	case tkInteger, tkString:
	case tkOn:
		p.lval = p.tok.text
	default:
		p.checkStringError(t)
		p.peExpectedGot("TK_STRING | TK_INTEGER", t)
	}
}

func (p *parser) uniq(table map[string]string, what, key string) bool {
	here := fmt.Sprintf("%s:%d", p.file, p.fline)
	if first, ok := table[key]; ok {
		p.errf("%s: conflicting use of %s '%s' ...\n%s: %s '%s' first used here.\n", here, what, key, first, what, key)
		p.valid = false
		panic(fatal{codeConfig})
	}
	table[key] = here
	return true
}

func (p *parser) checkUniq(what, key string) bool { return p.uniq(p.global, what, key) }
func (p *parser) checkUpr(what, key string) bool  { return p.uniq(p.upr, what, key) }

func (p *parser) parseTop() {
	for {
		t := p.next()
		p.fline = p.lx.line
		switch t {
		case tkGlobal:
			p.parseGlobal()
		case tkCommon:
			p.exp('{')
			p.cfg.Common = p.parseResource("common", flagNoHosts)
		case tkResource:
			p.exp(tkString)
			name := p.lval
			if name == "" {
				p.die(codeUsage, "Resource name is empty.\n")
			}
			for i := 0; i < len(name); i++ {
				if name[i] < ' ' || name[i] == 0x7f {
					p.die(codeUsage, "Resource name is invalid - please don't use control characters.\n")
				}
			}
			p.exp('{')
			p.cfg.Resources = append(p.cfg.Resources, p.parseResource(name, 0))
			p.inRes = true
		case tkSkip:
			p.parseSkip()
		case tkInclude:
			p.exp(tkString)
			pat := p.lval
			p.exp(';')
			p.include(pat)
		case tkEOF:
			return
		default:
			p.peExpected("global | common | resource | skip | include")
		}
	}
}

func (p *parser) parseGlobal() {
	p.fline = p.lx.line
	p.checkUniq("global section", "global")
	if p.inRes {
		p.errf("%s:%d: You should put the global {} section\n\tin front of any resource {} section\n", p.file, p.lx.line)
	}
	g := &p.cfg.Global
	p.exp('{')
	for {
		t := p.next()
		p.fline = p.lx.line
		switch t {
		case tkUdevAlwaysUseVnr:
			g.UdevAlwaysUseVnr = true
		case tkDisableIPVerification:
			g.DisableIPVerification = true
		case tkMinorCount:
			p.exp(tkInteger)
			p.rangeCheck(rMinorCount, "minor-count", p.lval)
			g.MinorCount = atoi(p.lval)
		case tkDialogRefresh:
			p.exp(tkInteger)
			p.rangeCheck(rDialogRefresh, "dialog-refresh", p.lval)
			g.DialogRefresh = atoi(p.lval)
		case tkCmdTimeoutShort, tkCmdTimeoutMedium, tkCmdTimeoutLong:
			name := p.tok.text
			p.exp(tkInteger)
			p.strtollRange(p.lval, '1', name, 0, 900)
			v := atoi(p.lval)
			switch t {
			case tkCmdTimeoutShort:
				g.CmdTimeoutShort = v
			case tkCmdTimeoutMedium:
				g.CmdTimeoutMedium = v
			default:
				g.CmdTimeoutLong = v
			}
		case tkUsageCount:
			switch p.next() {
			case tkYes:
				g.UsageCount = UsageYes
			case tkNo:
				g.UsageCount = UsageNo
			case tkAsk:
				g.UsageCount = UsageAsk
			default:
				p.peExpected("yes | no | ask")
			}
		case '}':
			return
		default:
			p.peExpected("dialog-refresh | minor-count | disable-ip-verification")
		}
		p.exp(';')
	}
}

// atoi is C's atoi: leading digits, 0 if none.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
		if n > 1<<31 {
			break
		}
	}
	return n
}

func (p *parser) parseSkip() {
	p.fline = p.lx.line
	t := p.next()
	switch t {
	case tkString:
		p.exp('{')
	case '{':
	default:
		p.checkStringError(t)
		p.peExpected("[ some_text ] {")
	}
	for level := 1; level > 0; {
		switch p.next() {
		case '{':
			level++
		case '}':
			level--
		case tkEOF:
			p.die(codeConfig, "%s:%d: reached eof while parsing this skip block.\n", p.file, p.fline)
		}
	}
}

func hasMeta(s string) bool { return strings.ContainsAny(s, "?*[") }

// hiddenByGlob: glob(3) does not let a wildcard match a leading dot
// (".#r0.res" is not matched by "*.res"); Go's Glob does.
func hiddenByGlob(pattern, match string) bool {
	pc := strings.Split(pattern, "/")
	mc := strings.Split(match, "/")
	if len(pc) != len(mc) {
		return false
	}
	for i := range pc {
		if strings.HasPrefix(mc[i], ".") && !strings.HasPrefix(pc[i], ".") {
			return true
		}
	}
	return false
}

func (p *parser) include(pat string) {
	full := pat
	if !filepath.IsAbs(pat) {
		full = filepath.Join(filepath.Dir(p.save), pat)
	}
	matches, err := p.src.Glob(full)
	if err != nil {
		p.die(codeUsage, "glob() failed: %v\n", err)
	}
	if len(matches) == 0 {
		if !hasMeta(pat) {
			p.invalid("%s:%d: Failed to open include file '%s'.\n", p.file, p.lx.line, pat)
		}
		return
	}
	sort.Strings(matches)
	for _, m := range matches {
		if hiddenByGlob(full, m) {
			continue
		}
		// glob(3) returns names as the pattern was written, relative to
		// the including file's directory.
		shown := m
		if !filepath.IsAbs(pat) {
			if rel, err := filepath.Rel(filepath.Dir(p.save), m); err == nil {
				shown = rel
			}
		}
		real := p.src.Real(m)
		if p.seen[real] {
			continue
		}
		p.seen[real] = true
		data, err := p.src.ReadFile(m)
		if err != nil {
			p.invalid("%s:%d: Failed to open include file '%s'.\n", p.file, p.lx.line, shown)
			continue
		}
		saved := struct {
			lx         *lexer
			file, save string
		}{p.lx, p.file, p.save}
		p.lx, p.file, p.save = newLexer(data), shown, p.src.Canon(m)
		p.parseTop()
		p.lx, p.file, p.save = saved.lx, saved.file, saved.save
	}
}

// resource parse flags
const (
	flagNoHosts = 1 << iota
)

// deprecated aliases of option names
func alias(name string, tok int) string {
	switch {
	case tok == tkHandlerOption && name == "outdate-peer":
		return "fence-peer"
	case tok == tkDiskOption && name == "rate":
		return "resync-rate"
	case tok == tkDiskOption && name == "after":
		return "resync-after"
	}
	return name
}

// parseOptions is drbdadm's parse_options_d. delegate handles the
// delegate token (startup's become-primary-on, net's discard-my-data).
func (p *parser) parseOptions(flagTok, noFlagTok, optTok, delegateTok int, delegate func()) Options {
	var opts Options
	p.cSect = p.lx.line
	p.fline = p.lx.line
	for {
		tg := p.next()
		t := removeGroup(tg)
		p.fline = p.lx.line
		name := p.lval
		switch {
		case t <= 0:
			p.peExpected("an option")
		case flagTok != 0 && t == flagTok:
			switch p.next() {
			case tkYes:
				opts = append(opts, Option{Name: name, Value: "yes"})
			case tkNo:
				opts = append(opts, Option{Name: name, Value: "no"})
			case ';':
				opts = append(opts, Option{Name: name, Value: "yes"})
				continue
			default:
				p.peExpected("yes | no | ;")
			}
		case noFlagTok != 0 && t == noFlagTok:
			opts = append(opts, Option{Name: strings.TrimPrefix(name, "no-"), Value: "no"})
		case optTok != 0 && (t == optTok || tokenGroup(optTok&tg) != 0):
			name = alias(name, optTok)
			rc := p.lrc
			p.expectStringOrInt()
			opts = append(opts, Option{Name: name, Value: p.rangeCheck(rc, name, p.lval)})
		case delegate != nil && (t == delegateTok || tokenGroup(delegateTok&tg) != 0):
			delegate()
			continue
		case t == tkDeprecatedOption:
			p.expectStringOrInt()
		case t == '}':
			return opts
		default:
			p.peExpected("an option keyword")
		}
		p.exp(';')
	}
}

// parseSyncer distributes the 8.3 syncer section's options.
func (p *parser) parseSyncer(r *Resource) {
	p.cSect = p.lx.line
	p.fline = p.lx.line
	for {
		t := p.next()
		p.fline = p.lx.line
		if t >= tkGlobal && t&tkSyncerOldOpt == 0 {
			p.peExpected("a syncer option keyword")
		}
		t &^= tkSyncerOldOpt
		var opts *Options
		switch t {
		case tkNetFlag, tkNetNoFlag, tkNetOption:
			opts = &r.Net
		case tkDiskFlag, tkDiskNoFlag, tkDiskOption:
			opts = &r.Disk
		case tkResOption:
			opts = &r.ResOptions
		case '}':
			return
		default:
			p.peExpected("a syncer option keyword")
		}
		name := p.lval
		switch t {
		case tkNetFlag, tkDiskFlag:
			t = p.next()
			if t == tkNo {
				*opts = append(*opts, Option{Name: name, Value: "no"})
				t = p.next()
			} else {
				*opts = append(*opts, Option{Name: name, Value: "yes"})
				if t == tkYes {
					t = p.next()
				}
			}
		case tkNetNoFlag, tkDiskNoFlag:
			*opts = append(*opts, Option{Name: strings.TrimPrefix(name, "no-"), Value: "no"})
			t = p.next()
		default:
			name = alias(name, t)
			rc := p.lrc
			p.expectStringOrInt()
			*opts = append(*opts, Option{Name: name, Value: p.rangeCheck(rc, name, p.lval)})
			t = p.next()
		}
		if t != ';' {
			p.peExpected(";")
		}
	}
}

func (p *parser) parseAddress() (addr, port, af string) {
	switch p.next() {
	case tkSCI:
		af = "ssocks"
		p.exp(tkIPAddr)
	case tkSSocks, tkSDP, tkIPv4:
		af = p.lval
		p.exp(tkIPAddr)
	case tkIPv6:
		af = p.lval
		p.exp('[')
		p.exp(tkIPAddr6)
	case tkIPAddr:
		af = "ipv4"
	default:
		p.peExpected("ssocks | sdp | ipv4 | ipv6 | <ipv4 address> ")
	}
	addr = p.lval
	if af == "ipv6" {
		p.exp(']')
	}
	p.exp(':')
	p.exp(tkInteger)
	port = p.lval
	p.rangeCheck(rPort, "port", port)
	return addr, port, af
}

func (p *parser) parseAddressStmt(onHosts []string) (addr, port, af string) {
	addr, port, af = p.parseAddress()
	if addrScopeLocal(addr) {
		for _, h := range onHosts {
			p.checkUniq("IP", fmt.Sprintf("%s:%s:%s", h, addr, port))
		}
	} else {
		p.checkUniq("IP", fmt.Sprintf("%s:%s", addr, port))
	}
	p.cfg.addrLines[addr+":"+port] = fmt.Sprintf("%s:%d", p.file, p.fline)
	p.exp(';')
	return
}

func (p *parser) parseHosts(delim int) []string {
	var names []string
	for {
		t := p.next()
		switch {
		case t == tkString:
			names = append(names, p.lval)
		case t == delim:
			if len(names) == 0 {
				p.peExpectedGot("TK_STRING", t)
			}
			return names
		default:
			p.peExpectedGot(fmt.Sprintf("TK_STRING | '%c'", delim), t)
		}
	}
}

func (p *parser) parseProxySection(h *Host) {
	px := &Proxy{}
	h.Proxy = px
	p.exp(tkOn)
	px.OnHosts = p.parseHosts('{')
loop:
	for {
		switch p.next() {
		case tkInside:
			px.InsideAddr, px.InsidePort, px.InsideAF = p.parseAddressStmt(px.OnHosts)
		case tkOutside:
			px.OutsideAddr, px.OutsidePort, px.OutAF = p.parseAddressStmt(px.OnHosts)
		case tkOptions:
			px.Options, px.Plugins = p.parseProxyOptions()
		case '}':
			break loop
		default:
			p.peExpected("inside | outside")
		}
	}
	if px.InsideAddr == "" {
		p.invalid("%s:%d: in section: on %s { proxy on %s { ... } }: '%s' keyword missing.\n", p.file, p.cSect, strings.Join(h.Names, " "), strings.Join(px.OnHosts, " "), "inside")
	}
	if px.OutsideAddr == "" {
		p.invalid("%s:%d: in section: on %s { proxy on %s { ... } }: '%s' keyword missing.\n", p.file, p.cSect, strings.Join(h.Names, " "), strings.Join(px.OnHosts, " "), "outside")
	}
}

func (p *parser) parseProxyOptions() (opts, plugins Options) {
	p.exp('{')
	opts = p.parseOptions(0, 0, tkProxyOption|tkProxyGroup, tkProxyDelegate, func() {
		plugins = p.proxyPlugins()
	})
	return
}

func (p *parser) proxyPlugins() Options {
	if p.next() != '{' {
		p.die(codeConfig, "%s:%d: expected \"{\" after \"proxy\" keyword\n", p.file, p.fline)
	}
	var opts Options
	for {
		var words []string
		for {
			t := p.next()
			if t <= 0 {
				p.die(codeConfig, "%s:%d: Unexpected end-of-file\n", p.file, p.fline)
			}
			if t == ';' {
				break
			}
			if t == '}' {
				if len(words) == 0 {
					return opts
				}
				p.die(codeConfig, "%s:%d: Missing \";\" before  \"}\"\n", p.file, p.fline)
			}
			w := p.tok.val
			if w == "" {
				w = p.tok.text
			}
			words = append(words, w)
		}
		opts = append(opts, Option{Name: strings.Join(words, " "), NoValue: true})
	}
}

func (p *parser) parseMetaDisk(v *Volume) {
	p.exp(tkString)
	v.MetaDisk = p.lval
	if v.MetaDisk == "internal" {
		v.MetaIndex = "internal"
		p.exp(';')
		return
	}
	switch p.next() {
	case '[':
		p.exp(tkInteger)
		v.MetaIndex = p.lval
		p.exp(']')
		p.exp(';')
	case ';':
		v.MetaIndex = "flexible"
	default:
		p.peExpected("[ | ;")
	}
}

func onlyDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// minorOfDev is dt_minor_of_dev without the stat of an existing node.
func minorOfDev(dev string) int {
	c := dev
	if !onlyDigits(dev) {
		if strings.HasPrefix(dev, "/dev/drbd") && onlyDigits(dev[9:]) {
			c = dev[9:]
		} else {
			return -1
		}
	}
	m, err := strconv.ParseInt(c, 10, 64)
	if err != nil {
		return -1
	}
	return int(int32(m))
}

func (p *parser) checkMinorNonsense(dev string, minor int) {
	if dev == "" {
		return
	}
	rest := ""
	if len(dev) > 9 {
		rest = dev[9:]
	}
	if onlyDigits(rest) {
		if atoi(rest) == minor {
			return
		}
		p.invalid("%s:%d: explicit minor number must match with device name\n"+
			"\tTry \"device /dev/drbd%d minor %d;\",\n"+
			"\tor leave off either device name or explicit minor.\n"+
			"\tArbitrary device names must start with /dev/drbd_\n"+
			"\tmind the '_'! (/dev/ is optional, but drbd_ is required)\n",
			p.file, p.fline, uint32(minor), uint32(minor))
		return
	} else if strings.HasPrefix(rest, "_") {
		return
	}
	p.invalid("%s:%d: arbitrary device name must start with /dev/drbd_\n"+
		"\tmind the '_'! (/dev/ is optional, but drbd_ is required)\n", p.file, p.fline)
}

func (p *parser) parseDevice(onHosts []string, v *Volume) {
	t := p.next()
	if t == tkString {
		if strings.HasPrefix(p.lval, "drbd") {
			v.Device = "/dev/" + p.lval
		} else {
			v.Device = p.lval
		}
		if !strings.HasPrefix(v.Device, "/dev/drbd") {
			p.invalid("%s:%d: device name must start with /dev/drbd\n\t(/dev/ is optional, but drbd is required)\n", p.file, p.fline)
		}
		switch p.next() {
		case tkMinor:
			t = tkMinor
		default:
			p.peExpected("minor | ;")
		case ';':
			m := minorOfDev(v.Device)
			if m < 0 {
				p.invalid("%s:%d: no minor given nor device name contains a minor number\n", p.file, p.fline)
			}
			v.Minor = m
			t = 0
		}
	}
	// Any other token after `device` is dropped silently, as drbdadm's
	// switch has no default for it.
	if t == tkMinor {
		p.exp(tkInteger)
		v.Minor = atoi(p.lval)
		p.exp(';')
		p.checkMinorNonsense(v.Device, v.Minor)
	}
	for _, h := range onHosts {
		p.checkUniq("device-minor", fmt.Sprintf("device-minor:%s:%d", h, uint32(v.Minor)))
		if v.Device != "" {
			p.checkUniq("device", fmt.Sprintf("device:%s:%s", h, v.Device))
		}
	}
}

func newVolume(vnr int) *Volume { return &Volume{VNR: vnr, Minor: -1} }

func insertSorted(vs []*Volume, v *Volume) []*Volume {
	i := sort.Search(len(vs), func(i int) bool { return vs[i].VNR > v.VNR })
	vs = append(vs, nil)
	copy(vs[i+1:], vs[i:])
	vs[i] = v
	return vs
}

// volume0 returns the implicit volume, creating it.
func (p *parser) volume0(vs *[]*Volume) *Volume {
	if len(*vs) == 0 {
		v := newVolume(0)
		v.Implicit = true
		*vs = []*Volume{v}
		return v
	}
	v := (*vs)[0]
	if v.VNR == 0 && len(*vs) == 1 && v.Implicit {
		return v
	}
	p.invalid("%s:%d: mixing explicit and implicit volumes is not allowed\n", p.file, p.lx.line)
	return v
}

func (p *parser) parseVolumeStmt(v *Volume, onHosts []string, t int) bool {
	switch t {
	case tkDisk:
		t = p.next()
		switch t {
		case tkString:
			v.Disk = p.lval
			p.exp(';')
		case '{':
			v.DiskOptions = p.parseOptions(tkDiskFlag, tkDiskNoFlag, tkDiskOption, 0, nil)
		default:
			p.checkStringError(t)
			p.peExpectedGot("TK_STRING | {", t)
		}
	case tkDevice:
		p.parseDevice(onHosts, v)
	case tkMetaDisk:
		p.parseMetaDisk(v)
	case tkFlexMetaDisk:
		p.exp(tkString)
		v.MetaDisk = p.lval
		if v.MetaDisk != "internal" {
			v.MetaIndex = "flexible"
		} else {
			v.MetaIndex = "internal"
		}
		p.exp(';')
	default:
		return false
	}
	return true
}

func (p *parser) parseVolume(vnr int, onHosts []string) *Volume {
	v := newVolume(vnr)
	p.exp('{')
	for {
		t := p.next()
		if t == '}' {
			break
		}
		if !p.parseVolumeStmt(v, onHosts, t) {
			p.peExpectedGot("device | disk | meta-disk | flex-meta-disk | }", t)
		}
	}
	return v
}

func (p *parser) derror(h *Host, r *Resource, what string) {
	p.invalid("%s:%d: in resource %s, on %s { ... }: '%s' keyword missing.\n", p.file, p.cSect, r.Name, namesStr(h.Names), what)
}

func namesStr(n []string) string {
	if n == nil {
		return "UNKNOWN"
	}
	return strings.Join(n, " ")
}

func (p *parser) inheritVolumes(from []*Volume, h *Host) {
	for _, s := range from {
		t := h.Volume(s.VNR)
		if t == nil {
			t = newVolume(s.VNR)
			t.Implicit = s.Implicit
			h.Volumes = insertSorted(h.Volumes, t)
		}
		if t.Disk == "" && s.Disk != "" {
			t.Disk = s.Disk
			for _, n := range h.Names {
				p.checkUniq("disk", fmt.Sprintf("disk:%s:%s", n, t.Disk))
			}
		}
		if t.Device == "" && s.Device != "" {
			t.Device = s.Device
		}
		if t.Minor == -1 && s.Minor != -1 {
			t.Minor = s.Minor
			for _, n := range h.Names {
				p.checkUniq("device-minor", fmt.Sprintf("device-minor:%s:%d", n, t.Minor))
			}
		}
		if t.MetaDisk == "" && s.MetaDisk != "" {
			t.MetaDisk = s.MetaDisk
			if s.MetaIndex != "" {
				t.MetaIndex = s.MetaIndex
			}
		}
	}
}

func (p *parser) checkVolumesComplete(r *Resource, h *Host) {
	anyImplicit, anyNonZero := false, false
	for _, v := range h.Volumes {
		anyImplicit = anyImplicit || v.Implicit
		anyNonZero = anyNonZero || v.VNR != 0
		if v.Device == "" && v.Minor == -1 {
			p.derror(h, r, "device")
		}
		if v.Disk == "" {
			p.derror(h, r, "disk")
		}
		if v.MetaDisk == "" {
			p.derror(h, r, "meta-disk")
		}
		if v.MetaIndex == "" {
			p.derror(h, r, "meta-index")
		}
	}
	if anyImplicit && anyNonZero {
		p.invalid("%s:%d: in resource %s: you must not mix implicit and explicit volumes\n", p.file, p.lx.line, r.Name)
	}
}

func (p *parser) checkVolumeSetsEqual(r *Resource, h1, h2 *Host) {
	stacked := h1.Lower != nil && h1.Lower.Me == h2
	other := func() string {
		if stacked {
			return h1.Lower.Name
		}
		return namesStr(h2.Names)
	}
	a, b := h1.Volumes, h2.Volumes
	for len(a) > 0 || len(b) > 0 {
		for len(a) > 0 && (len(b) == 0 || a[0].VNR < b[0].VNR) {
			p.invalid("%s:%d: in resource %s, on %s { ... }: volume %d not defined on %s\n", p.file, p.lx.line, r.Name, namesStr(h1.Names), a[0].VNR, other())
			a = a[1:]
		}
		for len(b) > 0 && (len(a) == 0 || a[0].VNR > b[0].VNR) {
			if !stacked {
				p.invalid("%s:%d: in resource %s, on %s { ... }: volume %d missing (present on %s)\n", p.file, p.lx.line, r.Name, namesStr(h1.Names), b[0].VNR, other())
			}
			b = b[1:]
		}
		if len(a) > 0 && len(b) > 0 && a[0].VNR == b[0].VNR {
			if a[0].Implicit != b[0].Implicit {
				p.invalid("%s:%d: in resource %s, on %s resp. %s: volume %d must not be implicit on one but not the other\n", p.file, p.lx.line, r.Name, namesStr(h1.Names), other(), a[0].VNR)
			}
			a, b = a[1:], b[1:]
		}
	}
}

const (
	hostRequireAll = 1
	hostByAddress  = 2
)

func (p *parser) parseHostSection(r *Resource, onHosts []string, flags int) {
	p.cSect = p.lx.line
	p.fline = p.lx.line
	h := &Host{Names: onHosts, Line: p.cSect, File: p.file}
	inBraces := true
	if flags&hostByAddress != 0 {
		h.ByAddress = true
		h.Address, h.Port, h.AF = p.parseAddress()
		p.checkUniq("IP", fmt.Sprintf("%s:%s", h.Address, h.Port))
		p.cfg.addrLines[h.Address+":"+h.Port] = fmt.Sprintf("%s:%d", p.file, p.fline)
		if h.AF == "ipv6" {
			onHosts = []string{fmt.Sprintf("ipv6 [%s]:%s", h.Address, h.Port)}
		} else {
			onHosts = []string{fmt.Sprintf("%s:%s", h.Address, h.Port)}
		}
		h.Names = onHosts
		switch t := p.next(); t {
		case '{':
		case ';':
			inBraces = false
		default:
			p.peExpectedGot("{ | ;", t)
		}
	}
	for _, n := range onHosts {
		p.checkUpr("host section", fmt.Sprintf("%s: on %s", r.Name, n))
	}
	r.Hosts = append(r.Hosts, h)
	for inBraces {
		t := p.next()
		p.fline = p.lx.line
		stmt := ""
		switch t {
		case tkDisk:
			stmt = "disk"
		case tkDevice:
			stmt = "device"
		case tkMetaDisk, tkFlexMetaDisk:
			stmt = "meta-disk"
		case tkAddress, tkAltAddress:
			if h.ByAddress {
				p.die(codeConfig, "%s:%d: address statement not allowed for floating {} host sections\n", p.file, p.fline)
			}
			if t == tkAddress {
				for _, n := range onHosts {
					p.checkUpr("address statement", fmt.Sprintf("%s:%s:address", r.Name, n))
				}
				h.Address, h.Port, h.AF = p.parseAddressStmt(onHosts)
				p.rangeCheck(rPort, "port", h.Port)
			} else {
				for _, n := range onHosts {
					p.checkUpr("alt-address statement", fmt.Sprintf("%s:%s:alt-address", r.Name, n))
				}
				h.AltAddress, h.AltPort, h.AltAF = p.parseAddressStmt(onHosts)
				p.rangeCheck(rPort, "port", h.AltPort)
			}
			continue
		case tkProxy:
			p.parseProxySection(h)
			continue
		case tkVolume:
			p.exp(tkInteger)
			h.Volumes = insertSorted(h.Volumes, p.parseVolume(atoi(p.lval), onHosts))
			continue
		case tkOptions:
			p.exp('{')
			h.ResOptions = p.parseOptions(0, 0, tkResOption, 0, nil)
			continue
		case '}':
			inBraces = false
			continue
		default:
			p.peExpected("disk | device | address | meta-disk | flexible-meta-disk")
		}
		for _, n := range onHosts {
			p.checkUpr(stmt+" statement", fmt.Sprintf("%s:%s:%s", r.Name, n, stmt))
		}
		if !p.parseVolumeStmt(p.volume0(&h.Volumes), onHosts, t) {
			p.peExpected("disk | device | address | meta-disk | flexible-meta-disk")
		}
	}
	p.inheritVolumes(r.Volumes, h)
	for _, v := range h.Volumes {
		if v.MetaDisk != "" && v.MetaDisk != "internal" {
			for _, n := range h.Names {
				p.checkUniq("meta-disk", fmt.Sprintf("%s:%s[%s]", n, v.MetaDisk, v.MetaIndex))
			}
		}
	}
	if flags&hostRequireAll == 0 {
		return
	}
	if h.Address == "" {
		p.derror(h, r, "address")
	}
	p.checkVolumesComplete(r, h)
}

func (p *parser) parseStackedSection(r *Resource) {
	p.cSect = p.lx.line
	p.fline = p.lx.line
	h := &Host{Line: p.cSect, File: p.file}
	r.Hosts = append(r.Hosts, h)
	p.exp(tkString)
	p.checkUniq("stacked-on-top-of", "stacked:"+p.lval)
	h.LowerName = p.lval
	p.exp('{')
loop:
	for {
		switch p.next() {
		case tkDevice:
			v := p.volume0(&h.Volumes)
			p.parseDevice(nil, v)
			v.MetaDisk, v.MetaIndex = "internal", "internal"
		case tkAddress:
			h.Address, h.Port, h.AF = p.parseAddressStmt(nil)
			p.rangeCheck(rPort, "port", h.Port)
		case tkAltAddress:
			h.AltAddress, h.AltPort, h.AltAF = p.parseAddressStmt(nil)
			p.rangeCheck(rPort, "port", h.AltPort)
		case tkProxy:
			p.parseProxySection(h)
		case tkVolume:
			p.exp(tkInteger)
			v := newVolume(atoi(p.lval))
			p.exp('{')
			p.exp(tkDevice)
			p.parseDevice(nil, v)
			p.exp('}')
			v.MetaDisk, v.MetaIndex = "internal", "internal"
			h.Volumes = insertSorted(h.Volumes, v)
		case '}':
			break loop
		default:
			p.peExpected("device | address | proxy")
		}
	}
	r.StackedOnOne = true
	p.inheritVolumes(r.Volumes, h)
	if h.Address == "" {
		p.derror(h, r, "address")
	}
}

func (p *parser) parseResource(name string, flags int) *Resource {
	p.upr = map[string]string{}
	p.checkUniq("resource section", name)
	r := &Resource{Name: name, File: p.save, Line: p.lx.line}
loop:
	for {
		t := p.next()
		p.fline = p.lx.line
		switch t {
		case tkNetOption:
			if p.lval != "protocol" {
				p.peExpectedGot("protocol | on | disk | net | syncer | startup | handlers | ignore-on | stacked-on-top-of", t)
			}
			p.checkUpr("protocol statement", r.Name+": protocol")
			opt := p.lval
			p.exp(tkString)
			v := p.rangeCheck(rProtocol, opt, p.lval)
			r.Net = append(r.Net, Option{Name: opt, Value: v})
			p.exp(';')
		case tkOn:
			names := p.parseHosts('{')
			p.parseHostSection(r, names, hostRequireAll)
		case tkStacked:
			p.parseStackedSection(r)
		case tkIgnore:
			if r.Me != nil || r.Peer != nil {
				p.die(codeConfig, "%s:%d: in resource %s, 'ignore-on' statement must precede any real host section (on ... { ... }).\n", p.file, p.lx.line, r.Name)
			}
			p.exp(tkString)
			p.errf("%s:%d: in resource %s, WARN: The 'ignore-on' keyword is deprecated.\n", p.file, p.lx.line, r.Name)
			p.exp(';')
		case tkThisHost:
			p.exp('{')
			p.parseHostSection(r, []string{"_this_host"}, 0)
		case tkRemoteHost:
			p.exp('{')
			p.parseHostSection(r, []string{"_remote_host"}, 0)
		case tkFloating:
			p.parseHostSection(r, nil, hostRequireAll|hostByAddress)
		case tkDisk:
			switch t = p.next(); t {
			case tkString:
				p.volume0(&r.Volumes).Disk = p.lval
				p.exp(';')
			case '{':
				p.checkUpr("disk section", r.Name+":disk")
				r.Disk = append(r.Disk, p.parseOptions(tkDiskFlag, tkDiskNoFlag, tkDiskOption, 0, nil)...)
			default:
				p.checkStringError(t)
				p.peExpectedGot("TK_STRING | {", t)
			}
		case tkNet:
			p.checkUpr("net section", r.Name+":net")
			p.exp('{')
			r.Net = append(r.Net, p.parseOptions(tkNetFlag, tkNetNoFlag, tkNetOption, tkNetDelegate, func() {
				p.peExpected("an option keyword")
			})...)
		case tkSyncer:
			p.checkUpr("syncer section", r.Name+":syncer")
			p.exp('{')
			p.parseSyncer(r)
		case tkStartup:
			p.checkUpr("startup section", r.Name+":startup")
			p.exp('{')
			r.Startup = p.parseOptions(tkStartupFlag, 0, tkStartupOption, tkStartupDelegate, func() {
				switch p.tok.text {
				case "become-primary-on":
					r.BecomePrimaryOn = p.parseHosts(';')
				case "stacked-timeouts":
					r.StackedTimeouts = true
					p.exp(';')
				default:
					p.peExpected("<an option keyword> | become-primary-on | stacked-timeouts")
				}
			})
		case tkHandler:
			p.checkUpr("handlers section", r.Name+":handlers")
			p.exp('{')
			r.Handlers = p.parseOptions(0, 0, tkHandlerOption, 0, nil)
		case tkProxy:
			p.checkUpr("proxy section", r.Name+":proxy")
			r.ProxyOptions, r.ProxyPlugins = p.parseProxyOptions()
		case tkDevice, tkMetaDisk, tkFlexMetaDisk:
			if t == tkDevice {
				p.checkUpr("device statement", r.Name+":device")
			}
			p.parseVolumeStmt(p.volume0(&r.Volumes), nil, t)
		case tkVolume:
			p.exp(tkInteger)
			r.Volumes = insertSorted(r.Volumes, p.parseVolume(atoi(p.lval), nil))
		case tkOptions:
			p.checkUpr("resource options section", r.Name+":res_options")
			p.exp('{')
			r.ResOptions = append(r.ResOptions, p.parseOptions(0, 0, tkResOption, 0, nil)...)
		case '}', tkEOF:
			break loop
		default:
			p.peExpectedGot("protocol | on | disk | net | syncer | startup | handlers | ignore-on | stacked-on-top-of", t)
		}
	}
	if flags&flagNoHosts != 0 && len(r.Hosts) > 0 {
		p.invalid("%s:%d: in the %s section, there are no host sections allowed.\n", p.file, p.cSect, r.Name)
	}
	if len(r.Hosts) > 0 {
		for _, h2 := range r.Hosts[1:] {
			p.checkVolumeSetsEqual(r, r.Hosts[0], h2)
		}
	}
	return r
}
