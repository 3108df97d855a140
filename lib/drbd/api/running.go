package api

// OpShow asks for a resource's running configuration (drbdsetup show):
// the reply's Text is a Running in JSON. A resource godrbd does not run
// is refused with ErrResourceUnknown.
const OpShow = "show"

// Running is what godrbd runs for a resource, as drbdsetup show tells
// drbdadm's adjust: the options as they were applied by new-resource,
// attach, connect and the *-options requests.
type Running struct {
	Name    string          `json:"name"`
	Options []Option        `json:"options,omitempty"` // resource options
	Net     *RunningNet     `json:"net,omitempty"`     // nil: no network configuration (StandAlone)
	Volumes []RunningVolume `json:"volumes,omitempty"`
}

// RunningNet is the network configuration of a resource.
type RunningNet struct {
	Local   *Endpoint `json:"local"`
	Peer    *Endpoint `json:"peer"`
	Options []Option  `json:"options,omitempty"`
}

// RunningVolume is one minor; Disk is "" while it is diskless.
type RunningVolume struct {
	VNR         int      `json:"vnr"`
	Minor       int      `json:"minor"`
	Disk        string   `json:"disk,omitempty"`
	MetaDisk    string   `json:"meta_disk,omitempty"`
	MetaIndex   string   `json:"meta_index,omitempty"`
	DiskOptions []Option `json:"disk_options,omitempty"`
}

// SetDefaults is the argument of disk-options, net-options and
// resource-options that resets every option not given to its default
// (drbdadm adjust passes it with all configured options).
const SetDefaults = "--set-defaults"

// ChangeOptions applies a *-options request's options to the options in
// force: with SetDefaults among args the given options replace them all,
// else they are changed one by one.
func ChangeOptions(cur []Option, args []string, given []Option) []Option {
	for _, a := range args {
		if a == SetDefaults {
			return append([]Option(nil), given...)
		}
	}
	out := append([]Option(nil), cur...)
	for _, g := range given {
		found := false
		for i := range out {
			if out[i].Name == g.Name {
				out[i].Value, found = g.Value, true
			}
		}
		if !found {
			out = append(out, g)
		}
	}
	return out
}
