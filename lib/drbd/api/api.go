// Package api is the contract between godrbdadm and the godrbd daemon:
// the operations godrbdadm asks for over godrbd's socket
// (<rundir>/godrbd.sock, the lib/ipc protocol), their arguments and
// replies, and the refusals godrbd answers with, carrying DRBD's numeric
// codes and texts.
//
// Every request names one operation (Op*), the resource and, for
// per-volume operations, the volume and its minor, and carries the
// resource's whole resolved configuration as drbd.conf gives it for this
// node, so that godrbd needs no copy of drbd.conf. Options are the
// option lists of drbd.conf in the order drbdadm passes them to
// drbdsetup (common options merged in).
package api

import (
	"fmt"
	"strings"
)

// SocketName is godrbd's socket in its rundir.
const SocketName = "godrbd.sock"

// Daemon names godrbd in errors.
const Daemon = "godrbd"

// Operations. Their names are those of the drbdsetup and drbdmeta
// commands drbdadm 8.4 runs for the same step.
const (
	OpNewResource      = "new-resource"      // resource: create it, with the resource options
	OpNewMinor         = "new-minor"         // volume: create the device (minor, vnr)
	OpApplyAL          = "apply-al"          // volume: replay the activity log into the bitmap (offline)
	OpAttach           = "attach"            // volume: attach disk and meta data, with the disk options
	OpConnect          = "connect"           // resource: configure the network (local, peer, net options)
	OpDisconnect       = "disconnect"        // resource: drop the network configuration
	OpDetach           = "detach"            // volume: release the disk
	OpDown             = "down"              // resource: demote, disconnect, detach, delete
	OpPrimary          = "primary"           // volume: promote (flag force)
	OpSecondary        = "secondary"         // volume: demote
	OpInvalidate       = "invalidate"        // volume: discard local data, full sync as target
	OpInvalidateRemote = "invalidate-remote" // volume: full sync as source
	OpOutdate          = "outdate"           // volume: mark the data Outdated
	OpVerify           = "verify"            // volume: online verify
	OpPauseSync        = "pause-sync"        // volume
	OpResumeSync       = "resume-sync"       // volume
	OpSuspendIO        = "suspend-io"        // volume: freeze application IO
	OpResumeIO         = "resume-io"         // volume: end any freeze of application IO
	OpResize           = "resize"            // volume: re-read the backing size (flags size, assume-peer-has-space, assume-clean)
	OpCheckResize      = "check-resize"      // volume: remember the backing size (offline)
	OpNewCurrentUUID   = "new-current-uuid"  // volume (flag clear-bitmap)
	OpRole             = "role"              // volume: reply Text "Primary/Secondary"
	OpCState           = "cstate"            // volume: reply Text "Connected"
	OpDState           = "dstate"            // volume: reply Text "UpToDate/UpToDate"
	OpStatus           = "status"            // resource: reply Text in `drbdsetup status` form
	OpWaitConnect      = "wait-connect"      // volume: block until connected (startup timeouts)
	OpWaitSync         = "wait-sync"         // volume: block until no resync runs
	OpProc             = "proc"              // no resource: reply Text in /proc/drbd form
	OpCreateMD         = "create-md"         // volume: write fresh meta data (flag force)
	OpDumpMD           = "dump-md"           // volume: reply Text as drbdmeta dump-md
	OpWipeMD           = "wipe-md"           // volume: destroy the meta data (flag force)
	OpGetGI            = "get-gi"            // volume: reply Text as drbdmeta get-gi
	OpShowGI           = "show-gi"           // volume: reply Text as drbdmeta show-gi
	OpDiskOptions      = "disk-options"      // volume: change disk options
	OpNetOptions       = "net-options"       // resource: change net options
	OpResourceOptions  = "resource-options"  // resource: change resource options
	OpDelMinor         = "del-minor"         // volume
	OpDelResource      = "del-resource"      // resource
)

// Option is one `name value` of a drbd.conf option section.
type Option struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Endpoint is an address of a host section.
type Endpoint struct {
	Node    string `json:"node,omitempty"` // the `on` names, space separated
	AF      string `json:"af"`             // ipv4, ipv6, ssocks, sdp
	Address string `json:"address"`
	Port    string `json:"port"`
}

// String is drbdsetup's form: ipv4:10.0.0.1:7789, ipv6:[fd00::1]:7789.
func (e *Endpoint) String() string {
	if e == nil {
		return "N/A"
	}
	if e.AF == "ipv6" {
		return fmt.Sprintf("%s:[%s]:%s", e.AF, e.Address, e.Port)
	}
	return fmt.Sprintf("%s:%s:%s", e.AF, e.Address, e.Port)
}

// Volume is one volume of this node.
type Volume struct {
	VNR    int    `json:"vnr"`
	Minor  int    `json:"minor"`
	Device string `json:"device"` // /dev/drbdN
	Disk   string `json:"disk"`   // backing device or file
	// MetaDisk is "internal" or the meta-data device; MetaIndex is
	// "internal", "flexible" or a slot number.
	MetaDisk    string   `json:"meta_disk"`
	MetaIndex   string   `json:"meta_index"`
	DiskOptions []Option `json:"disk_options,omitempty"`
}

// MetaDevice is the device holding the meta data.
func (v *Volume) MetaDevice() string {
	if v.MetaDisk == "internal" {
		return v.Disk
	}
	return v.MetaDisk
}

// Resource is one resource as this node sees it.
type Resource struct {
	Name       string    `json:"name"`
	ConfigFile string    `json:"config_file"` // canonical path, for DRBD_CONF
	Protocol   string    `json:"protocol"`    // A, B or C
	Local      *Endpoint `json:"local"`
	Peer       *Endpoint `json:"peer,omitempty"` // nil: no peer section
	Volumes    []Volume  `json:"volumes"`
	Net        []Option  `json:"net,omitempty"`
	Disk       []Option  `json:"disk,omitempty"` // resource-level; volumes carry their merged copy
	Startup    []Option  `json:"startup,omitempty"`
	Options    []Option  `json:"options,omitempty"` // resource options (cpu-mask, on-no-data-accessible)
	Handlers   []Option  `json:"handlers,omitempty"`
	// BecomePrimaryOn lists the nodes of `become-primary-on`.
	BecomePrimaryOn []string `json:"become_primary_on,omitempty"`
}

// Volume returns the volume vnr or nil.
func (r *Resource) Volume(vnr int) *Volume {
	for i := range r.Volumes {
		if r.Volumes[i].VNR == vnr {
			return &r.Volumes[i]
		}
	}
	return nil
}

// Request is the argument of every operation.
type Request struct {
	Op       string    `json:"op"`
	Resource string    `json:"resource,omitempty"`
	Volume   *int      `json:"volume,omitempty"` // per-volume operations
	Minor    *int      `json:"minor,omitempty"`
	Config   *Resource `json:"config,omitempty"`
	// Flags are the command's own options (force, discard-my-data,
	// clear-bitmap, size=…, assume-clean, …), name → value ("" for a
	// plain flag); Options the configuration options passed with the step
	// (disk options for attach, net options for connect, …), in
	// drbdadm's order.
	Flags   []Option `json:"flags,omitempty"`
	Options []Option `json:"options,omitempty"`
	// Args are the step's positional arguments as printed (for the dry
	// run and for logs).
	Args []string `json:"args,omitempty"`
}

// Flag reports whether flag name is set, and its value.
func (r *Request) Flag(name string) (string, bool) {
	for _, f := range r.Flags {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}

// String prints the step as one line, drbdsetup-style:
// `connect r0 ipv4:10.0.0.1:7789 ipv4:10.0.0.2:7789 --protocol=C`.
func (r *Request) String() string {
	w := []string{r.Op}
	for _, a := range r.Args {
		w = append(w, ShellEscape(a))
	}
	for _, o := range r.Options {
		w = append(w, ShellEscape("--"+o.Name+"="+o.Value))
	}
	for _, f := range r.Flags {
		if f.Value == "" {
			w = append(w, ShellEscape("--"+f.Name))
		} else {
			w = append(w, ShellEscape("--"+f.Name+"="+f.Value))
		}
	}
	return strings.Join(w, " ")
}

// ShellEscape puts a backslash before every character outside
// [A-Za-z0-9%+-./:=@_], as drbdadm's dry run does.
func ShellEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("%+-./:=@_", c) >= 0
		if !ok {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Reply is the result of every operation.
type Reply struct {
	// Text is printed on stdout as is (role, cstate, dstate, status,
	// proc, dump-md, get-gi, show-gi).
	Text string `json:"text,omitempty"`
	// Messages go to stderr (drbdmeta's and the kernel's chatter, e.g.
	// "New drbd meta data block successfully created.").
	Messages []string `json:"messages,omitempty"`
}
