package conf

import (
	"fmt"
	"net"
	"os"
	"strings"
)

// Messages collects drbdadm's messages on stderr and whether the
// configuration is still valid.
type Messages struct {
	Msgs  []string
	Valid bool
}

func (m *Messages) errf(format string, args ...any) {
	m.Msgs = append(m.Msgs, fmt.Sprintf(format, args...))
}

func (m *Messages) invalid(format string, args ...any) {
	m.errf(format, args...)
	m.Valid = false
}

// Err returns the messages as an *Error with code if the configuration
// became invalid.
func (m *Messages) Err() error {
	if m.Valid {
		return nil
	}
	return &Error{Msgs: m.Msgs, Code: codeConfig}
}

// HaveIP reports whether address addr of family af is configured on a
// local interface (drbdadm's have_ip; families other than ipv4 and ipv6
// are not checked).
func HaveIP(af, addr string) bool {
	if af != "ipv4" && af != "ipv6" {
		return true
	}
	if i := strings.IndexByte(addr, '%'); i >= 0 {
		addr = addr[:i]
	}
	want := net.ParseIP(addr)
	if want == nil {
		return false
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(want) {
			if (af == "ipv4") == (n.IP.To4() != nil) {
				return true
			}
		}
	}
	return false
}

// PostParse decides, for node, which host section of every resource is
// the local one (drbdadm's post_parse): by name for `on` sections
// (exact, case-sensitive; `_this_host` matches any node), by a local
// address for `floating` sections, through the lower resource for
// stacked ones. A resource with no section for node is ignored.
func (c *Config) PostParse(node string, haveIP func(af, addr string) bool, m *Messages) {
	c.Node = node
	for _, r := range c.Resources {
		if r.StackedOnOne {
			c.setOnHostsInRes(r, m)
		}
	}
	for _, r := range c.Resources {
		if !r.StackedOnOne {
			c.setMe(r, haveIP, m)
		}
	}
	for _, r := range c.Resources {
		if r.StackedOnOne {
			c.setMe(r, haveIP, m)
		}
	}
	for _, r := range c.Resources {
		if r.StackedOnOne {
			c.setDiskInRes(r, m)
		}
	}
}

func contains(names []string, n string) bool {
	for _, x := range names {
		if x == n {
			return true
		}
	}
	return false
}

func hostWord(h *Host) (string, string) {
	if h.Lower != nil {
		return "stacked-on-top-of", h.Lower.Name
	}
	return "on", namesStr(h.Names)
}

func (c *Config) setMe(r *Resource, haveIP func(af, addr string) bool, m *Messages) {
	for _, h := range r.Hosts {
		switch {
		case h.ByAddress:
			if !haveIP(h.AF, h.Address) && c.Node != h.Address {
				continue
			}
		case h.Lower != nil:
			if h.Lower.Me == nil {
				continue
			}
		case len(h.Names) == 0:
			continue
		default:
			if !contains(h.Names, c.Node) && h.Names[0] != "_this_host" {
				continue
			}
		}
		if r.Me != nil {
			w1, n1 := hostWord(r.Me)
			w2, n2 := hostWord(h)
			m.invalid("%s:%d: in resource %s, %s %s { ... } ... %s %s { ... }:\n\tThere are multiple host sections for this node.\n",
				r.File, h.Line, r.Name, w1, n1, w2, n2)
		}
		r.Me = h
		if h.Lower != nil {
			r.Stacked = true
		}
	}
	if r.Me == nil {
		r.Ignore = true
	}
}

func (c *Config) setOnHostsInRes(r *Resource, m *Messages) {
	for _, h := range r.Hosts {
		if h.LowerName == "" {
			continue
		}
		l := c.Resource(h.LowerName)
		if l == nil {
			m.invalid("%s:%d: in resource %s, referenced resource '%s' not defined.\n", r.File, r.Line, r.Name, h.LowerName)
			continue
		}
		for _, h2 := range l.Hosts {
			if h2.LowerName == "" {
				h.Names = append(h.Names, h2.Names...)
			}
		}
		h.Lower = l
	}
}

func (c *Config) setDiskInRes(r *Resource, m *Messages) {
	if r.Ignore {
		return
	}
	for _, h := range r.Hosts {
		if h.Lower == nil || h.Lower.Ignore {
			continue
		}
		before := m.Valid
		c.checkVolumeSetsEqual(r, h, h.Lower.Me, m)
		if !m.Valid || !before {
			continue
		}
		lower := h.Lower.Me.Volumes
		for _, a := range h.Volumes {
			for len(lower) > 0 && a.VNR > lower[0].VNR {
				lower = lower[1:]
			}
			if len(lower) > 0 && lower[0].VNR == a.VNR {
				b := lower[0]
				if b.Device != "" {
					a.Disk = b.Device
				} else {
					a.Disk = fmt.Sprintf("/dev/drbd%d", b.Minor)
				}
				if a.MetaDisk == "" {
					a.MetaDisk = "internal"
				}
				if a.MetaIndex == "" {
					a.MetaIndex = "internal"
				}
				lower = lower[1:]
			}
		}
	}
}

func (c *Config) checkVolumeSetsEqual(r *Resource, h1, h2 *Host, m *Messages) {
	other := h1.Lower.Name
	a, b := h1.Volumes, h2.Volumes
	for len(a) > 0 || len(b) > 0 {
		for len(a) > 0 && (len(b) == 0 || a[0].VNR < b[0].VNR) {
			m.invalid("%s:%d: in resource %s, on %s { ... }: volume %d not defined on %s\n", r.File, r.Line, r.Name, namesStr(h1.Names), a[0].VNR, other)
			a = a[1:]
		}
		for len(b) > 0 && (len(a) == 0 || a[0].VNR > b[0].VNR) {
			b = b[1:]
		}
		if len(a) > 0 && len(b) > 0 && a[0].VNR == b[0].VNR {
			a, b = a[1:], b[1:]
		}
	}
}

// expandOpts prepends every option of from that to lacks, one at a time
// (so they end up in reverse order), as drbdadm's expand_opts does.
func expandOpts(from Options, to *Options) {
	for _, o := range from {
		if to.find(o.Name) < 0 {
			*to = append(Options{{Name: o.Name, Value: o.Value, NoValue: o.NoValue}}, *to...)
		}
	}
}

// Expand merges the common section into every resource and the
// resource's disk options into every volume (drbdadm's expand_common).
// Options a resource sets itself win.
func (c *Config) Expand() {
	if c.Expanded {
		return
	}
	c.Expanded = true
	for _, r := range c.Resources {
		for _, h := range r.Hosts {
			for _, v := range h.Volumes {
				if v.Device == "" {
					v.Device = fmt.Sprintf("/dev/drbd%d", uint32(v.Minor))
				}
			}
		}
	}
	if cm := c.Common; cm != nil {
		for _, r := range c.Resources {
			expandOpts(cm.Net, &r.Net)
			expandOpts(cm.Disk, &r.Disk)
			expandOpts(cm.Startup, &r.Startup)
			expandOpts(cm.ProxyOptions, &r.ProxyOptions)
			expandOpts(cm.Handlers, &r.Handlers)
			expandOpts(cm.ResOptions, &r.ResOptions)
			if cm.StackedTimeouts {
				r.StackedTimeouts = true
			}
			if r.BecomePrimaryOn == nil {
				r.BecomePrimaryOn = cm.BecomePrimaryOn
			}
			if cm.ProxyPlugins != nil && r.ProxyPlugins == nil {
				expandOpts(cm.ProxyPlugins, &r.ProxyPlugins)
			}
		}
	}
	for _, r := range c.Resources {
		for _, h := range r.Hosts {
			for _, v := range h.Volumes {
				expandOpts(r.Disk, &v.DiskOptions)
			}
			if h.Proxy != nil {
				expandOpts(r.ProxyOptions, &h.Proxy.Options)
				expandOpts(r.ProxyPlugins, &h.Proxy.Plugins)
			}
		}
	}
	for _, r := range c.Resources {
		for _, v := range r.Volumes {
			for _, h := range r.Hosts {
				if hv := h.Volume(v.VNR); hv != nil {
					expandOpts(v.DiskOptions, &hv.DiskOptions)
				}
			}
		}
	}
}

// SetPeer chooses the peer's host section (drbdadm's
// set_peer_in_resource). peer is --peer; required says the command needs
// a peer.
func (c *Config) SetPeer(r *Resource, peer string, required bool, m *Messages) {
	if r.Ignore || r.Me == nil {
		return
	}
	if len(r.Hosts) == 1 {
		if required {
			m.invalid("%s:%d: in resource %s:\n\tMissing section 'on <PEER> { ... }'.\n", r.File, r.Line, r.Name)
		}
		return
	}
	if len(r.Hosts) == 2 {
		if r.Hosts[0] == r.Me {
			r.Peer = r.Hosts[1]
		} else {
			r.Peer = r.Hosts[0]
		}
		return
	}
	if peer == "" {
		if required {
			m.invalid("%s:%d: in resource %s:\n\tThere are multiple host sections for the peer node.\n\tUse the --peer option to select which peer section to use.\n", r.File, r.Line, r.Name)
		}
		return
	}
	var found *Host
	matched := false
	for _, h := range r.Hosts {
		if h.ByAddress && peer != h.Address {
			continue
		}
		if h.Proxy != nil && !contains(h.Proxy.OnHosts, c.Node) {
			continue
		}
		if !contains(h.Names, peer) {
			continue
		}
		matched = true
		if h == r.Me {
			m.errf("%s:%d: in resource %s\n\tInvoked with --peer '%s', but that matches myself!\n", r.File, r.Line, r.Name, peer)
			found = nil
			break
		}
		if found != nil {
			m.errf("%s:%d: in resource %s:\n\tInvoked with --peer '%s', but that matches multiple times!\n", r.File, r.Line, r.Name, peer)
			found = nil
			break
		}
		found = h
	}
	r.Peer = found
	if required && r.Peer == nil {
		m.Valid = false
		if !matched {
			m.errf("%s:%d: in resource %s:\n\tNo host ('on' or 'floating') section matches --peer '%s'\n", r.File, r.Line, r.Name, peer)
		}
	}
}

func resByNameIgnVol(c *Config, name string) *Resource {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		name = name[:i]
	}
	return c.Resource(name)
}

// Validate checks one resource as drbdadm's validate_resource does.
// noTTY makes an unknown resync-after target a message only.
func (c *Config) Validate(r *Resource, noTTY bool, m *Messages) {
	for i := 0; i < len(r.Disk); i++ {
		o := r.Disk[i]
		if o.Name != "resync-after" {
			continue
		}
		after := resByNameIgnVol(c, o.Value)
		if after == nil || after.Ignore {
			extra := ""
			if after != nil {
				extra = " on this host"
			}
			m.errf("%s:%d: in resource %s:\n\tresource '%s' mentioned in 'resync-after' option is not known%s.\n", r.File, r.Line, r.Name, o.Value, extra)
			if noTTY {
				r.Disk = append(r.Disk[:i:i], r.Disk[i+1:]...)
				i--
			} else {
				m.Valid = false
			}
		}
	}
	if r.Ignore {
		return
	}
	if r.Me == nil {
		m.invalid("%s:%d: in resource %s:\n\tmissing section 'on %s { ... }'.\n", r.File, r.Line, r.Name, c.Node)
	}
	if v, ok := r.Net.Get("after-sb-0pri"); ok && strings.HasPrefix(v, "discard-node-") {
		n := v[13:]
		if r.Peer != nil && !contains(r.Peer.Names, n) && !contains(r.Me.Names, n) {
			m.invalid("%s:%d: in resource %s:\n\tthe nodename in the '%s' option is not known.\n\tvalid nodenames are: '%s %s'.\n", r.File, r.Line, r.Name, v, namesStr(r.Me.Names), namesStr(r.Peer.Names))
		}
	}
	if _, ok := r.Net.Get("allow-two-primaries"); !ok && contains(r.BecomePrimaryOn, "both") {
		m.invalid("%s:%d: in resource %s:\nbecome-primary-on is set to both, but allow-two-primaries is not set.\n", r.File, r.Line, r.Name)
	}
	if r.Peer == nil {
		c.SetPeer(r, "", false, m)
	}
	if r.Peer != nil && (r.Me.Proxy == nil) != (r.Peer.Proxy == nil) {
		m.invalid("%s:%d: in resource %s:\n\tEither both 'on' sections must contain a proxy subsection, or none.\n", r.File, r.Line, r.Name)
	}
	for _, b := range r.BecomePrimaryOn {
		if r.Peer != nil && !contains(r.Me.Names, b) && !contains(r.Peer.Names, b) && b != "both" {
			m.invalid("%s:%d: in resource %s:\n\tbecome-primary-on contains '%s', which is not named with the 'on' sections.\n", r.File, r.Line, r.Name, b)
		}
	}
}

// Convert rewrites options for the daemon, as drbdadm does before it
// runs drbdsetup: resync-after names become minors, and
// after-sb-0pri discard-node-NAME becomes discard-local or
// discard-remote.
func (c *Config) Convert(r *Resource, noTTY bool, m *Messages) {
	for _, h := range r.Hosts {
		for _, v := range h.Volumes {
			for i := 0; i < len(v.DiskOptions); i++ {
				o := &v.DiskOptions[i]
				if o.Name != "resync-after" {
					continue
				}
				dep, dv, n := c.ByName(o.Value)
				if n > 1 {
					m.invalid("%s:%d: in resource %s:\n\tresync-after contains '%s', which is ambiguous, since it contains %d volumes\n", r.File, r.Line, r.Name, o.Value, n)
					return
				}
				if dep == nil || dep.Ignore || dv == nil {
					extra := ""
					if dep != nil {
						extra = " on this host"
					}
					m.errf("%s:%d: in resource %s:\n\tresource '%s' mentioned in 'resync-after' option is not known%s.\n", r.File, r.Line, r.Name, o.Value, extra)
					if noTTY {
						v.DiskOptions = append(v.DiskOptions[:i:i], v.DiskOptions[i+1:]...)
						i--
					} else {
						m.Valid = false
					}
					continue
				}
				o.Value = fmt.Sprint(dv.Minor)
			}
		}
	}
	if i := r.Net.find("after-sb-0pri"); i >= 0 && strings.HasPrefix(r.Net[i].Value, "discard-node-") {
		if r.Net[i].Value[13:] == c.Node {
			r.Net[i].Value = "discard-local"
		} else {
			r.Net[i].Value = "discard-remote"
		}
	}
}

// Lookup finds "RES" or "RES/VNR" among the resources this node takes
// part in (drbdadm's ctx_by_name): the resource and, for RES/VNR, the
// volume.
func (c *Config) Lookup(id string) (*Resource, *Volume, bool) {
	name, vs, hasVol := strings.Cut(id, "/")
	var r *Resource
	for _, x := range c.Resources {
		if !x.Ignore && x.Name == name {
			r = x
			break
		}
	}
	if r == nil {
		return nil, nil, false
	}
	if !hasVol {
		return r, nil, true
	}
	n, e := strtoll(vs, '1')
	if e != numOK {
		return nil, nil, false
	}
	if v := r.Me.Volume(int(n)); v != nil {
		return r, v, true
	}
	return nil, nil, false
}

// ByName is Lookup plus drbdadm's ctx_set_implicit_volume: without a
// volume number, the only volume of a one-volume resource; n is the
// number of volumes when none was chosen.
func (c *Config) ByName(id string) (*Resource, *Volume, int) {
	r, v, ok := c.Lookup(id)
	if !ok {
		return nil, nil, 0
	}
	if v != nil || r.Me == nil {
		return r, v, 0
	}
	if len(r.Me.Volumes) == 1 {
		return r, r.Me.Volumes[0], 1
	}
	return r, nil, len(r.Me.Volumes)
}

// ByMinor finds "minor-N".
func (c *Config) ByMinor(id string) (*Resource, *Volume) {
	if !strings.HasPrefix(id, "minor-") {
		return nil, nil
	}
	n := atoi(id[6:])
	if !onlyDigits(id[6:]) {
		return nil, nil
	}
	for _, r := range c.Resources {
		if r.Ignore || r.Me == nil {
			continue
		}
		for _, v := range r.Me.Volumes {
			if v.Minor == n {
				return r, v
			}
		}
	}
	return nil, nil
}

// VerifyIP checks that this node's address of r exists locally
// (drbdadm's verify_ips).
func (c *Config) VerifyIP(r *Resource, haveIP func(af, addr string) bool, m *Messages) {
	if c.Global.DisableIPVerification || r.Ignore || r.Me == nil {
		return
	}
	if r.Stacked {
		return
	}
	if haveIP(r.Me.AF, r.Me.Address) {
		return
	}
	where, ok := c.addrLines[r.Me.Address+":"+r.Me.Port]
	if !ok {
		where = r.File
	}
	m.invalid("%s: in resource %s, on %s:\n\tIP %s not found on this host.\n", where, r.Name, namesStr(r.Me.Names), r.Me.Address)
}

// Uname returns the kernel's node name, unchanged (drbdadm compares it
// case-sensitively).
func Uname() string {
	h, _ := os.Hostname()
	return h
}

// Resolve is what every consumer of drbd.conf does before using it, in
// drbdadm's order: decide this node's sections, merge the common
// section, validate and convert every resource, and choose the peers.
// Messages (warnings, and errors for an invalid configuration) are
// drbdadm's; err is an *Error when the configuration is invalid.
func (c *Config) Resolve(node string, haveIP func(af, addr string) bool, noTTY bool) (msgs []string, err error) {
	m := &Messages{Valid: true}
	c.PostParse(node, haveIP, m)
	c.Expand()
	for _, r := range c.Resources {
		c.Validate(r, noTTY, m)
		if m.Valid {
			c.Convert(r, noTTY, m)
		}
		if !m.Valid {
			return m.Msgs, m.Err()
		}
	}
	for _, r := range c.Resources {
		if r.Peer == nil {
			c.SetPeer(r, "", false, m)
		}
	}
	return m.Msgs, nil
}
