package haresources

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"github.com/linux-ha-go/ha/lib/cib"
)

// Options shape the conversion.
type Options struct {
	// Stickiness is the resource-stickiness set on every group:
	// 0 for auto_failback on (resources go back to their preferred
	// node when it returns), positive for off (they stay).
	Stickiness int
	// LocationScore is the preference for each line's node (default 100).
	LocationScore int
	// IsHeartbeatScript tells whether a script lives in resource.d
	// (class heartbeat); when nil, scripts with arguments are heartbeat
	// scripts and those without are LSB init scripts.
	IsHeartbeatScript func(name string) bool
}

// Objects are the CIB elements one haresources file becomes.
type Objects struct {
	Nodes       []string
	Groups      []*etree.Element
	Constraints []*etree.Element
}

// known OCF agents and the names of their positional arguments, as
// heartbeat's resource.d wrappers passed them.
var ocfParams = map[string][]string{
	"IPaddr":     {"ip", "cidr_netmask", "nic", "broadcast"},
	"IPaddr2":    {"ip", "cidr_netmask", "nic", "broadcast"},
	"Filesystem": {"device", "directory", "fstype", "options"},
	"MailTo":     {"email", "subject"},
	"IPsrcaddr":  {"ipaddress"},
	"SendArp":    {"ip", "nic"},
	"apache":     {"configfile"},
}

// Convert turns groups into CIB objects. IDs are derived from the
// scripts and their first argument and made unique.
func Convert(groups []Group, o Options) *Objects {
	if o.LocationScore == 0 {
		o.LocationScore = 100
	}
	objs := &Objects{}
	used := map[string]bool{}
	unique := func(base string) string {
		id := sanitize(base)
		for i := 2; used[id]; i++ {
			id = fmt.Sprintf("%s_%d", sanitize(base), i)
		}
		used[id] = true
		return id
	}
	seenNode := map[string]bool{}
	for _, g := range groups {
		if !seenNode[g.Node] {
			seenNode[g.Node] = true
			objs.Nodes = append(objs.Nodes, g.Node)
		}
		var prims []*etree.Element
		for _, r := range g.Resources {
			base := r.Script
			if len(r.Args) > 0 {
				base += "_" + r.Args[0]
			}
			prims = append(prims, primitive(unique(base), r, o))
		}
		gid := unique("group_" + cib.ID(prims[0]))
		grp := etree.NewElement("group")
		grp.CreateAttr("id", gid)
		meta := grp.CreateElement("meta_attributes")
		meta.CreateAttr("id", gid+"-meta_attributes")
		nv := meta.CreateElement("nvpair")
		nv.CreateAttr("id", gid+"-meta_attributes-resource-stickiness")
		nv.CreateAttr("name", "resource-stickiness")
		nv.CreateAttr("value", strconv.Itoa(o.Stickiness))
		for _, p := range prims {
			grp.AddChild(p)
		}
		objs.Groups = append(objs.Groups, grp)
		loc := etree.NewElement("rsc_location")
		loc.CreateAttr("id", unique("location_"+gid))
		loc.CreateAttr("rsc", gid)
		loc.CreateAttr("node", g.Node)
		loc.CreateAttr("score", strconv.Itoa(o.LocationScore))
		objs.Constraints = append(objs.Constraints, loc)
	}
	return objs
}

func primitive(id string, r Resource, o Options) *etree.Element {
	p := etree.NewElement("primitive")
	p.CreateAttr("id", id)
	var names []string
	if n, ok := ocfParams[r.Script]; ok {
		p.CreateAttr("class", "ocf")
		p.CreateAttr("provider", "heartbeat")
		p.CreateAttr("type", r.Script)
		names = n
		args := r.Args
		if (r.Script == "IPaddr" || r.Script == "IPaddr2") && len(args) == 1 && strings.Contains(args[0], "/") {
			args = strings.Split(args[0], "/")
		}
		r.Args = args
	} else {
		hb := len(r.Args) > 0
		if o.IsHeartbeatScript != nil {
			hb = o.IsHeartbeatScript(r.Script)
		}
		if hb {
			p.CreateAttr("class", "heartbeat")
		} else {
			p.CreateAttr("class", "lsb")
		}
		p.CreateAttr("type", r.Script)
	}
	if len(r.Args) > 0 {
		ia := p.CreateElement("instance_attributes")
		ia.CreateAttr("id", id+"-instance_attributes")
		for i, a := range r.Args {
			name := strconv.Itoa(i + 1)
			if i < len(names) {
				name = names[i]
			}
			nv := ia.CreateElement("nvpair")
			nv.CreateAttr("id", sanitize(id+"-instance_attributes-"+name))
			nv.CreateAttr("name", name)
			nv.CreateAttr("value", a)
		}
	}
	if p.SelectAttrValue("class", "") == "ocf" {
		ops := p.CreateElement("operations")
		op := ops.CreateElement("op")
		op.CreateAttr("id", id+"-monitor-10s")
		op.CreateAttr("name", "monitor")
		op.CreateAttr("interval", "10s")
		op.CreateAttr("timeout", "20s")
	}
	return p
}

// sanitize makes s a valid XML ID: letters, digits, '_', '-', '.',
// starting with a letter or '_'.
func sanitize(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	id := b.String()
	if id == "" || !(id[0] == '_' || (id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z')) {
		id = "r_" + id
	}
	return id
}

// Fragment returns the objects as one <configuration> element with
// <nodes>, <resources> and <constraints>, for a cibadmin -M on scope
// configuration, which merges them into an existing CIB. Nodes whose
// uname is in have are left out.
func (o *Objects) Fragment(haveUname map[string]bool) *etree.Element {
	conf := etree.NewElement("configuration")
	nodes := conf.CreateElement("nodes")
	for _, n := range o.Nodes {
		if haveUname[n] {
			continue
		}
		e := nodes.CreateElement("node")
		e.CreateAttr("id", n)
		e.CreateAttr("uname", n)
	}
	if len(nodes.Child) == 0 {
		conf.RemoveChild(nodes)
	}
	res := conf.CreateElement("resources")
	for _, g := range o.Groups {
		res.AddChild(g.Copy())
	}
	cons := conf.CreateElement("constraints")
	for _, c := range o.Constraints {
		cons.AddChild(c.Copy())
	}
	return conf
}

// IDs lists every id the objects define.
func (o *Objects) IDs() []string {
	var ids []string
	for _, e := range append(append([]*etree.Element(nil), o.Groups...), o.Constraints...) {
		var walk func(x *etree.Element)
		walk = func(x *etree.Element) {
			if cib.HasAttr(x, "id") {
				ids = append(ids, cib.ID(x))
			}
			for _, c := range x.ChildElements() {
				walk(c)
			}
		}
		walk(e)
	}
	return ids
}

// NewCIB returns a new CIB holding the objects: the nodes, fencing off
// and no-quorum-policy=ignore (heartbeat v1 clusters had neither fencing
// in their configuration nor a quorum rule: a lone node kept running its
// resources), the groups and the constraints.
func NewCIB(o *Objects) *cib.CIB {
	c := cib.Empty()
	c.SetVersion(cib.Version{Epoch: 1})
	conf := cib.Child(c.Root(), "configuration")
	props := cib.Child(conf, "crm_config").CreateElement("cluster_property_set")
	props.CreateAttr("id", "cib-bootstrap-options")
	nv := props.CreateElement("nvpair")
	nv.CreateAttr("id", "cib-bootstrap-options-stonith-enabled")
	nv.CreateAttr("name", "stonith-enabled")
	nv.CreateAttr("value", "false")
	nq := props.CreateElement("nvpair")
	nq.CreateAttr("id", "cib-bootstrap-options-no-quorum-policy")
	nq.CreateAttr("name", "no-quorum-policy")
	nq.CreateAttr("value", "ignore")
	frag := o.Fragment(nil)
	for _, sec := range frag.ChildElements() {
		dst := cib.Child(conf, sec.Tag)
		for _, e := range sec.ChildElements() {
			dst.AddChild(e.Copy())
		}
	}
	return c
}
