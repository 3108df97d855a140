// Package conf reads drbd.conf as DRBD 8.4's drbdadm does: the same
// grammar, the same checks and the same messages (file:line, wording,
// exit codes), and prints the normalised configuration as `drbdadm dump`
// and `drbdadm dump-xml` print it.
//
// Parse reads the files; Resolve decides which host section is this
// node's and which the peer's, merges the common section into the
// resources and validates what needs the node's name. Both return an
// *Error carrying drbdadm's messages and exit code.
package conf

import (
	"fmt"
	"strings"

	"github.com/linux-ha-go/ha/lib/exitcode"
)

// Option is one statement of an option section: `name value;`. Flags carry
// "yes" or "no". Value is empty and NoValue set for `stacked-timeouts;`.
type Option struct {
	Name    string
	Value   string
	NoValue bool
	escaped bool // printed as is (become-primary-on)
}

// Options is an ordered option list.
type Options []Option

// Get returns the value of the first option called name.
func (o Options) Get(name string) (string, bool) {
	for _, x := range o {
		if x.Name == name {
			return x.Value, true
		}
	}
	return "", false
}

func (o Options) find(name string) int {
	for i, x := range o {
		if x.Name == name {
			return i
		}
	}
	return -1
}

// Volume is one replicated device of a host section.
type Volume struct {
	VNR      int
	Implicit bool // written without `volume N { }`
	Device   string
	Minor    int // -1 when not given
	Disk     string
	// MetaDisk is "internal" or a device; MetaIndex is "internal",
	// "flexible" (external, whole device) or a slot number.
	MetaDisk    string
	MetaIndex   string
	DiskOptions Options
}

// DevicePath is the device node: Device, else /dev/drbdMINOR.
func (v *Volume) DevicePath() string {
	if v.Device != "" {
		return v.Device
	}
	return fmt.Sprintf("/dev/drbd%d", v.Minor)
}

// MetaDevice is the device holding the meta data: the disk for internal
// meta data, else MetaDisk.
func (v *Volume) MetaDevice() string {
	if v.MetaDisk == "internal" {
		return v.Disk
	}
	return v.MetaDisk
}

// Proxy is a `proxy on HOST { inside; outside; options {} }` section.
type Proxy struct {
	OnHosts                          []string
	InsideAddr, InsidePort, InsideAF string
	OutsideAddr, OutsidePort, OutAF  string
	Options, Plugins                 Options
}

// Host is an `on`, `floating` or `stacked-on-top-of` section.
type Host struct {
	Names      []string // `on` names; for floating: "ADDR:PORT"
	ByAddress  bool     // floating
	LowerName  string   // stacked-on-top-of
	Lower      *Resource
	Address    string
	Port       string
	AF         string
	AltAddress string
	AltPort    string
	AltAF      string
	Proxy      *Proxy
	Volumes    []*Volume // sorted by VNR
	ResOptions Options
	Line       int    // where the section starts
	File       string // the file name as given, for messages
}

// Volume returns the volume vnr or nil.
func (h *Host) Volume(vnr int) *Volume {
	for _, v := range h.Volumes {
		if v.VNR == vnr {
			return v
		}
	}
	return nil
}

// Resource is a `resource NAME { }` section (or the common section).
type Resource struct {
	Name            string
	File            string // canonical path of the file it is defined in
	Line            int
	Hosts           []*Host
	Volumes         []*Volume // resource-level defaults
	Net             Options
	Disk            Options
	Startup         Options
	Handlers        Options
	ResOptions      Options
	ProxyOptions    Options
	ProxyPlugins    Options
	BecomePrimaryOn []string
	StackedTimeouts bool

	Me, Peer     *Host
	Ignore       bool // no host section for this node
	Stacked      bool
	StackedOnOne bool
}

// UsageCount values of the global section.
const (
	UsageAsk = iota
	UsageYes
	UsageNo
)

// Global is the global section.
type Global struct {
	UsageCount            int
	MinorCount            int
	DialogRefresh         int
	DisableIPVerification bool
	UdevAlwaysUseVnr      bool
	CmdTimeoutShort       int
	CmdTimeoutMedium      int
	CmdTimeoutLong        int
}

// Config is a whole drbd.conf with its includes.
type Config struct {
	File      string // canonical path of the main file ("STDIN" for -)
	Global    Global
	Common    *Resource
	Resources []*Resource
	Node      string // set by Resolve
	Expanded  bool   // common merged into the resources
	// Warnings are messages drbdadm prints without refusing the
	// configuration (e.g. a deprecated keyword).
	Warnings []string
	// addrLines remembers where each address was written, for the IP
	// check message.
	addrLines map[string]string
	xmlIndent int // 1 after DumpXMLHeader
}

// Resource returns the named resource or nil.
func (c *Config) Resource(name string) *Resource {
	for _, r := range c.Resources {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Error is a configuration that drbdadm would refuse: Msgs are its
// messages, exactly as drbdadm prints them on stderr (each may span
// lines, each ends with a newline); Code is the exit code.
type Error struct {
	Msgs []string
	Code exitcode.Code
}

func (e *Error) Error() string {
	return strings.TrimRight(strings.Join(e.Msgs, ""), "\n")
}

// ExitCode is the exit code drbdadm ends with.
func (e *Error) ExitCode() exitcode.Code { return e.Code }
