package cib

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Version is the CIB version: admin_epoch, epoch, num_updates, compared
// in that order.
type Version struct {
	AdminEpoch int `json:"admin_epoch"`
	Epoch      int `json:"epoch"`
	NumUpdates int `json:"num_updates"`
}

func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d", v.AdminEpoch, v.Epoch, v.NumUpdates)
}

// Compare returns -1, 0 or 1 as v is older than, equal to or newer than w.
func (v Version) Compare(w Version) int {
	for _, p := range [][2]int{{v.AdminEpoch, w.AdminEpoch}, {v.Epoch, w.Epoch}, {v.NumUpdates, w.NumUpdates}} {
		if p[0] < p[1] {
			return -1
		}
		if p[0] > p[1] {
			return 1
		}
	}
	return 0
}

// atoi converts as C's atoi does: leading digits, else 0.
func atoi(s string) int {
	s = strings.TrimSpace(s)
	end := 0
	if end < len(s) && (s[end] == '-' || s[end] == '+') {
		end++
	}
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(s[:end])
	return n
}

// Version returns the document's version counters.
func (c *CIB) Version() Version {
	r := c.Root()
	return Version{
		AdminEpoch: atoi(Attr(r, "admin_epoch")),
		Epoch:      atoi(Attr(r, "epoch")),
		NumUpdates: atoi(Attr(r, "num_updates")),
	}
}

// SetVersion writes the three counters.
func (c *CIB) SetVersion(v Version) {
	r := c.Root()
	SetAttr(r, "admin_epoch", strconv.Itoa(v.AdminEpoch))
	SetAttr(r, "epoch", strconv.Itoa(v.Epoch))
	SetAttr(r, "num_updates", strconv.Itoa(v.NumUpdates))
}

// LastWrittenLayout is the format of cib-last-written (C's ctime
// without the newline), as Pacemaker writes it.
const LastWrittenLayout = "Mon Jan _2 15:04:05 2006"

// SetLastWritten stamps cib-last-written.
func (c *CIB) SetLastWritten(t time.Time) {
	SetAttr(c.Root(), "cib-last-written", t.Format(LastWrittenLayout))
}

// Section names cibadmin's -o accepts, with the path to each.
var sections = map[string][]string{
	"cib":              {},
	"all":              {},
	"status":           {"status"},
	"configuration":    {"configuration"},
	"crm_config":       {"configuration", "crm_config"},
	"nodes":            {"configuration", "nodes"},
	"resources":        {"configuration", "resources"},
	"constraints":      {"configuration", "constraints"},
	"op_defaults":      {"configuration", "op_defaults"},
	"rsc_defaults":     {"configuration", "rsc_defaults"},
	"acls":             {"configuration", "acls"},
	"fencing-topology": {"configuration", "fencing-topology"},
	"tags":             {"configuration", "tags"},
	"alerts":           {"configuration", "alerts"},
}

// Sections lists the scope names -o accepts.
func Sections() []string {
	return []string{"nodes", "resources", "constraints", "crm_config", "rsc_defaults", "op_defaults",
		"acls", "fencing-topology", "tags", "alerts", "status", "configuration", "cib", "all"}
}

// IsSection reports whether name is a known scope.
func IsSection(name string) bool { _, ok := sections[name]; return ok }
