package conf

import (
	"bufio"
	"fmt"
	"io"
)

func (d *dumper) optionsXML(name string, opts Options, within func()) {
	if len(opts) == 0 && within == nil {
		return
	}
	d.printI("<section name=\"%s\">\n", name)
	d.indent++
	for _, o := range opts {
		switch {
		case o.NoValue:
			d.printI("<option name=\"%s\"/>\n", o.Name)
		case o.escaped:
			d.printI("<option name=\"%s\" value=\"%s\"/>\n", o.Name, o.Value)
		default:
			d.printI("<option name=\"%s\" value=\"%s\"/>\n", o.Name, EscXML(o.Value))
		}
	}
	if within != nil {
		within()
	}
	d.indent--
	d.printI("</section>\n")
}

func (d *dumper) pluginsXML(p Options) func() {
	if p == nil {
		return nil
	}
	return func() { d.optionsXML("plugin", p, nil) }
}

func (d *dumper) sectionsXML(r *Resource) {
	d.optionsXML("options", r.ResOptions, nil)
	d.optionsXML("net", r.Net, nil)
	d.optionsXML("disk", r.Disk, nil)
	d.optionsXML("startup", startupOptions(r), nil)
	d.optionsXML("proxy", r.ProxyOptions, d.pluginsXML(r.ProxyPlugins))
	d.optionsXML("handlers", r.Handlers, nil)
}

// DumpXMLHeader prints `<config file=…>` with the global and common
// sections, as `drbdadm dump-xml` does before the resources.
func (c *Config) DumpXMLHeader(w io.Writer) error {
	d := &dumper{w: bufio.NewWriter(w)}
	fmt.Fprintf(d.w, "<config file=\"%s\">\n", c.File)
	d.indent = 1
	c.xmlIndent = 1
	g := &c.Global
	if g.MinorCount != 0 || g.DisableIPVerification || g.DialogRefresh != 1 {
		d.printI("<global>\n")
		d.indent++
		if g.DisableIPVerification {
			d.printI("<disable-ip-verification/>\n")
		}
		if g.MinorCount != 0 {
			d.printI("<minor-count count=\"%d\"/>\n", g.MinorCount)
		}
		if g.DialogRefresh != 1 {
			d.printI("<dialog-refresh refresh=\"%d\"/>\n", g.DialogRefresh)
		}
		d.indent--
		d.printI("</global>\n")
	}
	if cm := c.Common; cm != nil {
		d.printI("<common>\n")
		d.indent++
		d.sectionsXML(cm)
		d.indent--
		d.printI("</common>\n")
	}
	return d.w.Flush()
}

// DumpXMLResource prints one resource as `drbdadm dump-xml` does. Inside
// a whole dump it is indented one level (header first).
func (c *Config) DumpXMLResource(w io.Writer, r *Resource) error {
	d := &dumper{w: bufio.NewWriter(w), indent: c.xmlIndent}
	d.printI("<resource name=\"%s\" conf-file-line=\"%s:%d\">\n", EscXML(r.Name), EscXML(r.File), r.Line)
	d.indent++
	for _, h := range r.Hosts {
		if h.ByAddress {
			d.printI("<host floating=\"1\">\n")
		} else {
			d.printI("<host name=\"%s\">\n", namesStr(h.Names))
		}
		d.indent++
		d.optionsXML("options", h.ResOptions, nil)
		for _, v := range h.Volumes {
			d.printI("<volume vnr=\"%d\">\n", v.VNR)
			d.indent++
			d.optionsXML("disk", v.DiskOptions, nil)
			d.printI("<device minor=\"%d\">%s</device>\n", v.Minor, EscXML(v.Device))
			d.printI("<disk>%s</disk>\n", EscXML(v.Disk))
			switch v.MetaIndex {
			case "flexible":
				d.printI("<meta-disk>%s</meta-disk>\n", EscXML(v.MetaDisk))
			case "internal":
				d.printI("<meta-disk>internal</meta-disk>\n")
			default:
				d.printI("<meta-disk index=\"%s\">%s</meta-disk>\n", v.MetaIndex, EscXML(v.MetaDisk))
			}
			d.indent--
			d.printI("</volume>\n")
		}
		d.printI("<address family=\"%s\" port=\"%s\">%s</address>\n", h.AF, h.Port, h.Address)
		if px := h.Proxy; px != nil {
			d.printI("<proxy hostname=\"%s\">\n", namesStr(px.OnHosts))
			d.indent++
			d.printI("<inside family=\"%s\" port=\"%s\">%s</inside>\n", px.InsideAF, px.InsidePort, px.InsideAddr)
			d.printI("<outside family=\"%s\" port=\"%s\">%s</outside>\n", px.OutAF, px.OutsidePort, px.OutsideAddr)
			d.optionsXML("options", px.Options, d.pluginsXML(px.Plugins))
			d.indent--
			d.printI("</proxy>\n")
		}
		d.indent--
		d.printI("</host>\n")
	}
	d.sectionsXML(r)
	d.indent--
	d.printI("</resource>\n")
	return d.w.Flush()
}
