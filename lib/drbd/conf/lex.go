package conf

import (
	"regexp"
	"strings"
)

// Token kinds. The numbers are those of drbdadm 8.4's scanner, because
// its parse errors print them ("(TK 273)") and users compare messages.
// Single-character tokens use their character code; 0 is end of input.
const (
	tkEOF = 0

	tkGlobal = 258 + iota - 1
	tkResource
	tkOn
	tkStacked
	tkIgnore
	tkNet
	tkDisk
	tkSkip
	tkSyncer
	tkStartup
	tkDisableIPVerification
	tkDialogRefresh
	tkProtocol
	tkHandler
	tkCommon
	tkAddress
	tkAltAddress
	tkDevice
	tkMinor
	tkMetaDisk
	tkFlexMetaDisk
	tkMinorCount
	tkIPAddr
	tkInteger
	tkString
	tkElse
	tkDiskFlag
	tkDiskNoFlag
	tkDiskOption
	tkNetFlag
	tkNetNoFlag
	tkNetOption
	tkSyncerFlag
	tkSyncerOption
	tkStartupFlag
	tkStartupOption
	tkStartupDelegate
	tkHandlerOption
	tkUsageCount
	tkAsk
	tkYes
	tkNo
	tkThisHost
	tkRemoteHost
	tkProxy
	tkInside
	tkOutside
	tkMemlimit
	tkProxyOption
	tkProxyDelegate
	tkErrStringTooLong
	tkErrDQStringTooLong
	tkErrDQString
	tkSCI
	tkSDP
	tkSSocks
	tkIPv4
	tkIPv6
	tkIPAddr6
	tkNetDelegate
	tkInclude
	tkBWLimit
	tkFloating
	tkDeprecatedOption
	tkVolume
	tkCmdTimeoutShort
	tkCmdTimeoutMedium
	tkCmdTimeoutLong
	tkResOption
	tkOptions
	tkUdevAlwaysUseVnr
)

// Token groups or'ed onto some option tokens.
const (
	tkGroupingBase = 0x1000
	tkSyncerOldOpt = 0x2000
	tkProxyGroup   = 0x3000
)

func tokenGroup(t int) int  { return t &^ (tkGroupingBase - 1) }
func removeGroup(t int) int { return t & (tkGroupingBase - 1) }

// rangeCheck names the limit an option's value is checked against.
type rangeCheck int

const (
	rNoCheck rangeCheck = iota
	rMinorCount
	rDialogRefresh
	rDiskSize
	rTimeout
	rConnectInt
	rPingInt
	rMaxBuffers
	rMaxEpochSize
	rSndbufSize
	rRcvbufSize
	rKoCount
	rRate
	rGroup
	rALExtents
	rPort
	rMetaIdx
	rWFCTimeout
	rDegrWFCTimeout
	rOutdatedWFCTimeout
	rCPlanAhead
	rCDelayTarget
	rCFillTarget
	rCMaxRate
	rCMinRate
	rCongFill
	rCongExtents
	rProtocol
)

// keyword is one fixed word of the scanner: its token, whether the text
// is kept as the value (options), and the range check it carries.
type keyword struct {
	tok  int
	keep bool
	rc   rangeCheck
}

var keywords = map[string]keyword{
	"on":                        {tkOn, false, 0},
	"ignore-on":                 {tkIgnore, false, 0},
	"stacked-on-top-of":         {tkStacked, false, 0},
	"floating":                  {tkFloating, false, 0},
	"no":                        {tkNo, false, 0},
	"net":                       {tkNet, false, 0},
	"yes":                       {tkYes, false, 0},
	"ask":                       {tkAsk, false, 0},
	"skip":                      {tkSkip, false, 0},
	"disk":                      {tkDisk, false, 0},
	"proxy":                     {tkProxy, false, 0},
	"minor":                     {tkMinor, false, 0},
	"inside":                    {tkInside, false, 0},
	"volume":                    {tkVolume, false, 0},
	"cmd-timeout-short":         {tkCmdTimeoutShort, false, 0},
	"cmd-timeout-medium":        {tkCmdTimeoutMedium, false, 0},
	"cmd-timeout-long":          {tkCmdTimeoutLong, false, 0},
	"syncer":                    {tkSyncer, false, 0},
	"device":                    {tkDevice, false, 0},
	"global":                    {tkGlobal, false, 0},
	"common":                    {tkCommon, false, 0},
	"options":                   {tkOptions, false, 0},
	"outside":                   {tkOutside, false, 0},
	"address":                   {tkAddress, false, 0},
	"alternate-link-address":    {tkAltAddress, false, 0},
	"startup":                   {tkStartup, false, 0},
	"include":                   {tkInclude, false, 0},
	"handlers":                  {tkHandler, false, 0},
	"minor-count":               {tkMinorCount, false, 0},
	"disable-ip-verification":   {tkDisableIPVerification, false, 0},
	"udev-always-use-vnr":       {tkUdevAlwaysUseVnr, false, 0},
	"dialog-refresh":            {tkDialogRefresh, false, 0},
	"resource":                  {tkResource, false, 0},
	"meta-disk":                 {tkMetaDisk, false, 0},
	"flexible-meta-disk":        {tkFlexMetaDisk, false, 0},
	"usage-count":               {tkUsageCount, false, 0},
	"_this_host":                {tkThisHost, false, 0},
	"_remote_host":              {tkRemoteHost, false, 0},
	"sci":                       {tkSCI, true, 0},
	"ssocks":                    {tkSSocks, true, 0},
	"sdp":                       {tkSDP, true, 0},
	"ipv4":                      {tkIPv4, true, 0},
	"ipv6":                      {tkIPv6, true, 0},
	"size":                      {tkDiskOption, true, rDiskSize},
	"on-io-error":               {tkDiskOption, true, 0},
	"fencing":                   {tkDiskOption, true, 0},
	"max-bio-bvecs":             {tkDiskOption, true, 0},
	"disk-timeout":              {tkDiskOption, true, 0},
	"read-balancing":            {tkDiskOption, true, 0},
	"rs-discard-granularity":    {tkDiskOption, true, 0},
	"disable-write-same":        {tkDiskFlag, true, 0},
	"use-bmbv":                  {tkDiskFlag, true, 0},
	"disk-barrier":              {tkDiskFlag, true, 0},
	"disk-flushes":              {tkDiskFlag, true, 0},
	"disk-drain":                {tkDiskFlag, true, 0},
	"md-flushes":                {tkDiskFlag, true, 0},
	"no-disk-barrier":           {tkDiskNoFlag, true, 0},
	"no-disk-flushes":           {tkDiskNoFlag, true, 0},
	"no-disk-drain":             {tkDiskNoFlag, true, 0},
	"no-md-flushes":             {tkDiskNoFlag, true, 0},
	"timeout":                   {tkNetOption, true, rTimeout},
	"protocol":                  {tkNetOption, true, rProtocol},
	"ko-count":                  {tkNetOption, true, rKoCount},
	"ping-int":                  {tkNetOption, true, rPingInt},
	"max-buffers":               {tkNetOption, true, rMaxBuffers},
	"sndbuf-size":               {tkNetOption | tkProxyGroup, true, rSndbufSize},
	"rcvbuf-size":               {tkNetOption | tkProxyGroup, true, rRcvbufSize},
	"connect-int":               {tkNetOption, true, rConnectInt},
	"cram-hmac-alg":             {tkNetOption, true, 0},
	"shared-secret":             {tkNetOption, true, 0},
	"max-epoch-size":            {tkNetOption, true, rMaxEpochSize},
	"after-sb-0pri":             {tkNetOption, true, 0},
	"after-sb-1pri":             {tkNetOption, true, 0},
	"after-sb-2pri":             {tkNetOption, true, 0},
	"rr-conflict":               {tkNetOption, true, 0},
	"ping-timeout":              {tkNetOption | tkProxyGroup, true, 0},
	"unplug-watermark":          {tkNetOption, true, 0},
	"data-integrity-alg":        {tkNetOption, true, 0},
	"on-congestion":             {tkNetOption, true, 0},
	"socket-check-timeout":      {tkNetOption, true, 0},
	"congestion-fill":           {tkNetOption, true, rCongFill},
	"congestion-extents":        {tkNetOption, true, rCongExtents},
	"allow-two-primaries":       {tkNetFlag, true, 0},
	"always-asbp":               {tkNetFlag, true, 0},
	"no-tcp-cork":               {tkNetNoFlag, true, 0},
	"tcp-cork":                  {tkNetFlag, true, 0},
	"discard-my-data":           {tkNetDelegate, true, 0},
	"rate":                      {tkSyncerOldOpt | tkDiskOption, true, rRate},
	"resync-rate":               {tkDiskOption, true, rRate},
	"after":                     {tkSyncerOldOpt | tkDiskOption, true, 0},
	"resync-after":              {tkDiskOption, true, 0},
	"verify-alg":                {tkSyncerOldOpt | tkNetOption, true, 0},
	"csums-alg":                 {tkSyncerOldOpt | tkNetOption, true, 0},
	"csums-after-crash-only":    {tkNetFlag, true, 0},
	"al-extents":                {tkSyncerOldOpt | tkDiskOption, true, rALExtents},
	"al-updates":                {tkDiskFlag, true, 0},
	"discard-zeroes-if-aligned": {tkDiskFlag, true, 0},
	"cpu-mask":                  {tkSyncerOldOpt | tkResOption, true, 0},
	"use-rle":                   {tkSyncerOldOpt | tkNetFlag, true, 0},
	"delay-probe-volume":        {tkDeprecatedOption, true, 0},
	"delay-probe-interval":      {tkDeprecatedOption, true, 0},
	"c-plan-ahead":              {tkSyncerOldOpt | tkDiskOption, true, rCPlanAhead},
	"c-delay-target":            {tkSyncerOldOpt | tkDiskOption, true, rCDelayTarget},
	"c-fill-target":             {tkSyncerOldOpt | tkDiskOption, true, rCFillTarget},
	"c-max-rate":                {tkSyncerOldOpt | tkDiskOption, true, rCMaxRate},
	"c-min-rate":                {tkSyncerOldOpt | tkDiskOption, true, rCMinRate},
	"throttle-threshold":        {tkDeprecatedOption, true, 0},
	"hold-off-threshold":        {tkDeprecatedOption, true, 0},
	"on-no-data-accessible":     {tkSyncerOldOpt | tkResOption, true, 0},
	"wfc-timeout":               {tkStartupOption, true, rWFCTimeout},
	"degr-wfc-timeout":          {tkStartupOption, true, rDegrWFCTimeout},
	"outdated-wfc-timeout":      {tkStartupOption, true, rOutdatedWFCTimeout},
	"stacked-timeouts":          {tkStartupDelegate, false, 0},
	"become-primary-on":         {tkStartupDelegate, false, 0},
	"wait-after-sb":             {tkStartupFlag, true, 0},
	"pri-on-incon-degr":         {tkHandlerOption, true, 0},
	"pri-lost-after-sb":         {tkHandlerOption, true, 0},
	"pri-lost":                  {tkHandlerOption, true, 0},
	"initial-split-brain":       {tkHandlerOption, true, 0},
	"split-brain":               {tkHandlerOption, true, 0},
	"outdate-peer":              {tkHandlerOption, true, 0},
	"fence-peer":                {tkHandlerOption, true, 0},
	"unfence-peer":              {tkHandlerOption, true, 0},
	"local-io-error":            {tkHandlerOption, true, 0},
	"before-resync-target":      {tkHandlerOption, true, 0},
	"after-resync-target":       {tkHandlerOption, true, 0},
	"before-resync-source":      {tkHandlerOption, true, 0},
	"memlimit":                  {tkProxyOption | tkProxyGroup, true, 0},
	"read-loops":                {tkProxyOption | tkProxyGroup, true, 0},
	"compression":               {tkProxyOption | tkProxyGroup, true, 0},
	"bwlimit":                   {tkProxyOption | tkProxyGroup, true, 0},
	"plugin":                    {tkProxyDelegate, true, 0},
	"out-of-sync":               {tkHandlerOption, true, 0},
}

// The scanner's patterns (drbdadm_scanner.fl), matched longest first like
// flex; on a tie the earlier rule wins.
const (
	reNum       = `[0-9]{1,8}[MKGs]?`
	reSnumb     = `[0-9]{1,3}`
	reIPv4      = `(` + reSnumb + `\.){3}` + reSnumb
	reHex4      = `[0-9a-fA-F]{1,4}`
	reStringCh  = `[a-zA-Z0-9/._-]`
	reIPv6      = `(((` + reHex4 + `:){0,5}` + reHex4 + `)?:(` + reHex4 + `)?:(` + reHex4 + `(:` + reHex4 + `){0,5})?(%` + reStringCh + `{1,128})?)|(::[fF]{4}:` + reIPv4 + `)`
	reDQChar    = `([^"\\\n]|\\[^\n])`
	reDQString  = `"` + reDQChar + `{0,255}"`
	reLongDQ    = `"` + reDQChar + `{255}[^\n]`
	reErrDQ     = `"` + reDQChar + `{0,255}[\\\n]`
	reString    = reStringCh + `{1,128}`
	reLongStrng = reStringCh + `{129}`
)

type lexRule struct {
	re  *regexp.Regexp
	tok int
}

var lexRules = func() []lexRule {
	mk := func(p string, tok int) lexRule {
		re := regexp.MustCompile(`^(?:` + p + `)`)
		re.Longest()
		return lexRule{re, tok}
	}
	return []lexRule{
		mk(reIPv4, tkIPAddr),
		mk(reIPv6, tkIPAddr6),
		mk(reNum, tkInteger),
		mk(reDQString, tkString),
		mk(reString, tkString),
		mk(reLongStrng, tkErrStringTooLong),
		mk(reLongDQ, tkErrDQStringTooLong),
		mk(reErrDQ, tkErrDQString),
	}
}()

// token is one scanned token: its kind, its text as written (yytext),
// its value (unescaped for quoted strings) and the line it ended on.
type token struct {
	kind int
	text string
	val  string
	keep bool // sets the parser's value (drbdadm's CP)
	rc   rangeCheck
}

// lexer scans one file's bytes.
type lexer struct {
	src  string
	pos  int
	line int
	slow bool // always use the pattern rules (tests)
}

func newLexer(src []byte) *lexer { return &lexer{src: string(src), line: 1} }

func isStringCh(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '.' || c == '_' || c == '-'
}

// next returns the next token; kind 0 at the end of input.
func (l *lexer) next() token {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '\n':
			l.line++
			l.pos++
			continue
		case c == ' ' || c == '\t' || c == '\r':
			l.pos++
			continue
		case c == '#':
			e := strings.IndexByte(l.src[l.pos:], '\n')
			if e < 0 {
				l.pos = len(l.src)
			} else {
				l.pos += e
			}
			continue
		}
		if !l.slow && isStringCh(c) && (c < '0' || c > '9') {
			// A word not starting with a digit and not followed by ':'
			// can only be STRING, a keyword or a too long word: no
			// number, IPv4 or IPv6 address can match there.
			n := 0
			for l.pos+n < len(l.src) && n < 130 && isStringCh(l.src[l.pos+n]) {
				n++
			}
			if l.pos+n >= len(l.src) || l.src[l.pos+n] != ':' {
				if n > 128 {
					t := token{kind: tkErrStringTooLong, text: l.src[l.pos : l.pos+129]}
					l.pos += 129
					return t
				}
				w := l.src[l.pos : l.pos+n]
				l.pos += n
				if kw, ok := keywords[w]; ok {
					t := token{kind: kw.tok, text: w, keep: kw.keep, rc: kw.rc}
					if kw.keep {
						t.val = w
					}
					return t
				}
				return token{kind: tkString, text: w, val: w, keep: true}
			}
		}
		rest := l.src[l.pos:]
		// No token is longer than a quoted string of 255 characters
		// plus quotes, or a scoped IPv6 address; a window keeps every
		// match cheap.
		if len(rest) > 400 {
			rest = rest[:400]
		}
		// Longest match over the pattern rules and keywords.
		best, bestTok := 0, 0
		for _, r := range lexRules {
			if c != '"' && (r.tok == tkErrDQString || r.tok == tkErrDQStringTooLong) {
				continue
			}
			if m := r.re.FindStringIndex(rest); m != nil && m[1] > best {
				best, bestTok = m[1], r.tok
			}
		}
		// A keyword is a word of the STRING alphabet; it wins over STRING
		// (an earlier rule) when the word is exactly the keyword.
		if bestTok == tkString && c != '"' {
			if kw, ok := keywords[rest[:best]]; ok {
				// The word must not be longer as a STRING than as the
				// keyword; best already is the longest STRING match.
				l.pos += best
				t := token{kind: kw.tok, text: rest[:best], keep: kw.keep, rc: kw.rc}
				if kw.keep {
					t.val = t.text
				}
				return t
			}
		}
		if isOpChar(c) && best <= 1 {
			l.pos++
			return token{kind: int(c), text: string(c)}
		}
		if best == 0 {
			l.pos++
			return token{kind: tkElse, text: string(c)}
		}
		text := rest[:best]
		l.pos += best
		t := token{kind: bestTok, text: text}
		t.keep = bestTok == tkIPAddr || bestTok == tkIPAddr6 || bestTok == tkInteger || bestTok == tkString
		if t.keep {
			t.val = text
		}
		if bestTok == tkString && c == '"' {
			// drbdadm unescapes yytext in place, so errors show the value.
			t.val = unescape(text)
			t.text = t.val
		}
		return t
	}
	return token{kind: tkEOF}
}

func isOpChar(c byte) bool {
	return c == '{' || c == '}' || c == ';' || c == '[' || c == ']' || c == ':'
}

// unescape drops double quotes and the backslash before any character,
// as drbdadm does (no C escapes).
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' {
			continue
		}
		if c == '\\' {
			i++
			if i >= len(s) {
				break
			}
			c = s[i]
		}
		b.WriteByte(c)
	}
	return b.String()
}
