package lrm

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
)

// LSBHeader is an init script's "### BEGIN INIT INFO" block.
type LSBHeader struct {
	Provides, RequiredStart, RequiredStop, ShouldStart, ShouldStop string
	DefaultStart, DefaultStop, ShortDescription, Description       string
}

// ParseLSBHeader reads the LSB comment block of an init script. Lines
// continuing Description start with "#" and a tab or two spaces. A
// script without the block gives an empty header.
func ParseLSBHeader(script string) LSBHeader {
	var h LSBHeader
	in := false
	var last *string
	for _, line := range strings.Split(script, "\n") {
		t := strings.TrimRight(line, " \t\r")
		if t == "### BEGIN INIT INFO" {
			in = true
			continue
		}
		if !in {
			continue
		}
		if t == "### END INIT INFO" {
			break
		}
		if !strings.HasPrefix(t, "#") {
			break
		}
		body := t[1:]
		if last != nil && (strings.HasPrefix(body, "\t") || strings.HasPrefix(body, "  ")) {
			*last += " " + strings.TrimSpace(body)
			continue
		}
		last = nil
		k, v, ok := strings.Cut(strings.TrimSpace(body), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		var f *string
		switch strings.ToLower(k) {
		case "provides":
			f = &h.Provides
		case "required-start":
			f = &h.RequiredStart
		case "required-stop":
			f = &h.RequiredStop
		case "should-start":
			f = &h.ShouldStart
		case "should-stop":
			f = &h.ShouldStop
		case "default-start":
			f = &h.DefaultStart
		case "default-stop":
			f = &h.DefaultStop
		case "short-description":
			f = &h.ShortDescription
		case "description":
			f = &h.Description
			last = f
		}
		if f != nil {
			*f = v
		}
	}
	return h
}

func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// LSBMetadata makes up meta-data for an init script from its header, in
// the shape Pacemaker gives for lsb: agents.
func LSBMetadata(name string, h LSBHeader) string {
	long := h.Description
	if long == "" {
		long = name
	}
	short := h.ShortDescription
	if short == "" {
		short = name
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="%s" version="0.1">
  <version>1.0</version>
  <longdesc lang="en">%s</longdesc>
  <shortdesc lang="en">%s</shortdesc>
  <parameters/>
  <actions>
    <action name="meta-data" timeout="5s"/>
    <action name="start" timeout="15s"/>
    <action name="stop" timeout="15s"/>
    <action name="status" timeout="15s"/>
    <action name="restart" timeout="15s"/>
    <action name="force-reload" timeout="15s"/>
    <action name="monitor" timeout="15s" interval="15s"/>
  </actions>
  <special tag="LSB">
`, esc(name), esc(long), esc(short))
	for _, f := range []struct{ tag, v string }{
		{"Provides", h.Provides}, {"Required-Start", h.RequiredStart}, {"Required-Stop", h.RequiredStop},
		{"Should-Start", h.ShouldStart}, {"Should-Stop", h.ShouldStop},
		{"Default-Start", h.DefaultStart}, {"Default-Stop", h.DefaultStop},
	} {
		if f.v != "" {
			fmt.Fprintf(&b, "    <%s>%s</%s>\n", f.tag, esc(f.v), f.tag)
		}
	}
	b.WriteString("  </special>\n</resource-agent>\n")
	return b.String()
}

// HeartbeatMetadata makes up meta-data for a heartbeat resource.d script:
// its arguments are the parameters 1, 2, … .
func HeartbeatMetadata(name string) string {
	return fmt.Sprintf(`<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="%s" version="0.1">
  <version>1.0</version>
  <longdesc lang="en">heartbeat resource.d script %s, called as: %s [1 [2 …]] start|stop|status. Its status is judged by its output: "running" or "OK" means started.</longdesc>
  <shortdesc lang="en">heartbeat resource script %s</shortdesc>
  <parameters>
    <parameter name="1" unique="0" required="0"><longdesc lang="en">first argument (haresources: %s::ARG1)</longdesc><shortdesc lang="en">argument 1</shortdesc><content type="string"/></parameter>
    <parameter name="2" unique="0" required="0"><longdesc lang="en">second argument</longdesc><shortdesc lang="en">argument 2</shortdesc><content type="string"/></parameter>
  </parameters>
  <actions>
    <action name="start" timeout="20s"/>
    <action name="stop" timeout="20s"/>
    <action name="status" timeout="20s"/>
    <action name="monitor" timeout="20s" interval="10s"/>
    <action name="meta-data" timeout="5s"/>
  </actions>
</resource-agent>
`, esc(name), esc(name), esc(name), esc(name), esc(name))
}

// SystemdMetadata makes up meta-data for a systemd unit.
func SystemdMetadata(unit string) string {
	return fmt.Sprintf(`<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="%s" version="0.1">
  <version>1.0</version>
  <longdesc lang="en">systemd unit %s, started and stopped through systemd's D-Bus API</longdesc>
  <shortdesc lang="en">systemd unit %s</shortdesc>
  <parameters/>
  <actions>
    <action name="start" timeout="100s"/>
    <action name="stop" timeout="100s"/>
    <action name="status" timeout="100s"/>
    <action name="monitor" timeout="100s" interval="60s"/>
    <action name="meta-data" timeout="5s"/>
  </actions>
</resource-agent>
`, esc(unit), esc(unit), esc(unit))
}
