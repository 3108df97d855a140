package conf

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Esc quotes a value for drbd.conf as drbdadm's dump does: a value with
// a character outside [a-zA-Z0-9/._-], or longer than 80 characters, is
// written in double quotes with `"` and `\` escaped; an empty value is
// `""`.
func Esc(s string) string {
	if s == "" {
		return `""`
	}
	plain := len(s) <= 80
	for i := 0; plain && i < len(s); i++ {
		plain = isStringCh(s[i])
	}
	if plain {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// EscXML escapes ' " < > & for XML content, as drbdadm's esc_xml.
func EscXML(s string) string {
	if !strings.ContainsAny(s, "\"'<>&\\") {
		return s
	}
	r := strings.NewReplacer("'", "&apos;", `"`, "&quot;", "<", "&lt;", ">", "&gt;", "&", "&amp;")
	return r.Replace(s)
}

// DumpOptions controls Dump.
type DumpOptions struct {
	Verbose bool // -v: always print the global section
}

type dumper struct {
	w      *bufio.Writer
	indent int
	opt    DumpOptions
}

func (d *dumper) printI(format string, args ...any) {
	fmt.Fprintf(d.w, "%*s", 4*d.indent, "")
	fmt.Fprintf(d.w, format, args...)
}

func (d *dumper) printA(name, val string) {
	w := 24 - 4*d.indent
	fmt.Fprintf(d.w, "%*s%-*s %3s;\n", 4*d.indent, "", w, name, val)
}

func (d *dumper) options(name string, opts Options, within func()) {
	if len(opts) == 0 && within == nil {
		return
	}
	d.printI("%s {\n", name)
	d.indent++
	for _, o := range opts {
		switch {
		case o.NoValue:
			d.printI("%s;\n", o.Name)
		case o.escaped:
			d.printA(o.Name, o.Value)
		default:
			d.printA(o.Name, Esc(o.Value))
		}
	}
	if within != nil {
		within()
	}
	d.indent--
	d.printI("}\n")
}

func (d *dumper) plugins(p Options) func() {
	if p == nil {
		return nil
	}
	return func() { d.options("plugin", p, nil) }
}

// startupOptions is drbdadm's fake_startup_options: the startup section
// with stacked-timeouts and become-primary-on added.
func startupOptions(r *Resource) Options {
	opts := append(Options(nil), r.Startup...)
	if r.StackedTimeouts {
		opts = append(opts, Option{Name: "stacked-timeouts", NoValue: true})
	}
	if r.BecomePrimaryOn != nil {
		opts = append(opts, Option{Name: "become-primary-on", Value: strings.Join(r.BecomePrimaryOn, " "), escaped: true})
	}
	return opts
}

func (d *dumper) sections(r *Resource) {
	d.options("options", r.ResOptions, nil)
	d.options("net", r.Net, nil)
	d.options("disk", r.Disk, nil)
	d.options("startup", startupOptions(r), nil)
	d.options("proxy", r.ProxyOptions, d.plugins(r.ProxyPlugins))
	d.options("handlers", r.Handlers, nil)
}

func (d *dumper) global(g *Global) {
	if g.MinorCount == 0 && !g.DisableIPVerification && g.DialogRefresh == 1 && g.UsageCount == UsageAsk && !d.opt.Verbose {
		return
	}
	d.printI("global {\n")
	d.indent++
	if g.DisableIPVerification {
		d.printI("disable-ip-verification;\n")
	}
	if g.MinorCount != 0 {
		d.printI("minor-count %d;\n", g.MinorCount)
	}
	if g.DialogRefresh != 1 {
		d.printI("dialog-refresh %d;\n", g.DialogRefresh)
	}
	if g.UsageCount != UsageAsk {
		d.printI("usage-count %s;\n", [...]string{"ask", "yes", "no"}[g.UsageCount])
	}
	if g.CmdTimeoutShort != 5 {
		d.printI("cmd-timeout-short %d;\n", g.CmdTimeoutShort)
	}
	if g.CmdTimeoutMedium != 121 {
		d.printI("cmd-timeout-medium %d;\n", g.CmdTimeoutMedium)
	}
	if g.CmdTimeoutLong != 600 {
		d.printI("cmd-timeout-long %d;\n", g.CmdTimeoutLong)
	}
	d.indent--
	d.printI("}\n\n")
}

func (d *dumper) address(name, addr, port, af string) {
	if af == "ipv6" {
		d.printI("%-16s %s [%s]:%s;\n", name, af, addr, port)
	} else {
		d.printI("%-16s %s %s:%s;\n", name, af, addr, port)
	}
}

func (d *dumper) volume(hasLower bool, v *Volume) {
	if !v.Implicit {
		d.printI("volume %d {\n", v.VNR)
		d.indent++
	}
	if !(v.Minor == -1 && v.Device == "" && v.Disk == "" && v.MetaDisk == "" && v.MetaIndex == "") {
		d.options("disk", v.DiskOptions, nil)
		pad := 19 - 4*d.indent
		if pad < 0 {
			pad = 0
		}
		d.printI("device%s", strings.Repeat(" ", pad))
		if v.Device != "" {
			fmt.Fprintf(d.w, "%s ", Esc(v.Device))
		}
		fmt.Fprintf(d.w, "minor %d;\n", v.Minor)
		if !hasLower {
			d.printA("disk", Esc(v.Disk))
			switch v.MetaIndex {
			case "flexible":
				d.printI("%-16s %s;\n", "meta-disk", Esc(v.MetaDisk))
			case "internal":
				d.printA("meta-disk", "internal")
			default:
				d.printI("%-16s %s [%s];\n", "meta-disk", Esc(v.MetaDisk), v.MetaIndex)
			}
		}
	}
	if !v.Implicit {
		d.indent--
		d.printI("}\n")
	}
}

func (d *dumper) host(h *Host) {
	switch {
	case h.Lower != nil:
		d.printI("stacked-on-top-of %s {\n", Esc(h.Lower.Name))
		d.indent++
		d.printI("# on %s \n", namesStr(h.Names))
	case h.ByAddress:
		if h.AF == "ipv6" {
			d.printI("floating ipv6 [%s]:%s {\n", h.Address, h.Port)
		} else {
			d.printI("floating %s %s:%s {\n", h.AF, h.Address, h.Port)
		}
		d.indent++
	default:
		d.printI("on %s {\n", namesStr(h.Names))
		d.indent++
	}
	d.options("options", h.ResOptions, nil)
	for _, v := range h.Volumes {
		d.volume(h.Lower != nil, v)
	}
	if !h.ByAddress {
		d.address("address", h.Address, h.Port, h.AF)
	}
	if h.AltAddress != "" {
		d.address("alternate-link-address", h.AltAddress, h.AltPort, h.AltAF)
	}
	if px := h.Proxy; px != nil {
		d.printI("proxy on %s {\n", namesStr(px.OnHosts))
		d.indent++
		d.address("inside", px.InsideAddr, px.InsidePort, px.InsideAF)
		d.address("outside", px.OutsideAddr, px.OutsidePort, px.OutAF)
		d.options("options", px.Options, d.plugins(px.Plugins))
		d.indent--
		d.printI("}\n")
	}
	d.indent--
	d.printI("}\n")
}

// DumpHeader prints what `drbdadm dump` prints before the resources when
// it dumps them all: the file name, the global and the common section.
func (c *Config) DumpHeader(w io.Writer, o DumpOptions) error {
	d := &dumper{w: bufio.NewWriter(w), opt: o}
	fmt.Fprintf(d.w, "# %s\n", c.File)
	d.global(&c.Global)
	if cm := c.Common; cm != nil {
		d.printI("common {\n")
		d.indent++
		d.sections(cm)
		d.indent--
		fmt.Fprintf(d.w, "}\n\n")
	}
	return d.w.Flush()
}

// DumpResource prints one resource as `drbdadm dump` does.
func (c *Config) DumpResource(w io.Writer, r *Resource, o DumpOptions) error {
	d := &dumper{w: bufio.NewWriter(w), opt: o}
	ign, st := "not ignored", "not stacked"
	if r.Ignore {
		ign = "ignored"
	}
	if r.Stacked {
		st = "stacked"
	}
	d.printI("# resource %s on %s: %s, %s\n", Esc(r.Name), c.Node, ign, st)
	d.printI("# defined at %s:%d\n", r.File, r.Line)
	d.printI("resource %s {\n", Esc(r.Name))
	d.indent++
	for _, h := range r.Hosts {
		d.host(h)
	}
	d.sections(r)
	d.indent--
	fmt.Fprintf(d.w, "}\n\n")
	return d.w.Flush()
}

// Dump prints the whole configuration as `drbdadm dump` (no resource
// named) does.
func (c *Config) Dump(w io.Writer, o DumpOptions) error {
	if err := c.DumpHeader(w, o); err != nil {
		return err
	}
	for _, r := range c.Resources {
		if err := c.DumpResource(w, r, o); err != nil {
			return err
		}
	}
	return nil
}
