package cib

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"github.com/linux-ha-go/ha/lib/exitcode"
)

// Kind is a CIB operation, as cibadmin names its commands.
type Kind string

// The operations. Their semantics follow Pacemaker's cib_ops.c so that
// hb-cibadmin and cibadmin give the same document for the same request.
const (
	Query   Kind = "query"   // -Q
	Create  Kind = "create"  // -C
	Modify  Kind = "modify"  // -M
	Replace Kind = "replace" // -R
	Delete  Kind = "delete"  // -D
	Erase   Kind = "erase"   // -E
	Bump    Kind = "bump"    // -B
)

// Request is one operation on the CIB. It crosses the hb-crmd socket as
// JSON, so it holds XML as text.
type Request struct {
	Op          Kind   `json:"op"`
	Section     string `json:"section,omitempty"`      // -o scope
	XPath       string `json:"xpath,omitempty"`        // -A/--xpath
	Input       string `json:"input,omitempty"`        // -X/-x/-p XML
	AllowCreate bool   `json:"allow_create,omitempty"` // -c: modify creates a missing object
	Multiple    bool   `json:"multiple,omitempty"`     // --delete-all: every XPath match
	NoChildren  bool   `json:"no_children,omitempty"`  // -n: query without children
	NodePath    bool   `json:"node_path,omitempty"`    // -e: query returns paths
	Force       bool   `json:"force,omitempty"`        // --force, needed by erase
}

// Error is a refused operation: an exit code from Pacemaker's table, a
// message, an optional hint and an optional XML answer (the <failed>
// element cibadmin prints for a refused create).
type Error struct {
	Code   exitcode.Code
	Msg    string
	Hint   string
	Answer *etree.Element
}

func (e *Error) Error() string { return e.Msg }

// ExitCode lets exitcode-aware callers read the code.
func (e *Error) Unwrap() error {
	return &exitcode.E{Code: e.Code, Err: fmt.Errorf("%s", e.Msg), Hint: e.Hint}
}

func errorf(code exitcode.Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Section returns the element a -o scope names, or nil when it is not
// in the document. An unknown scope is an error.
func (c *CIB) Section(name string) (*etree.Element, error) {
	path, ok := sections[name]
	if name == "" {
		path, ok = nil, true
	}
	if !ok {
		return nil, errorf(exitcode.InvalidParam, "unknown section %q (one of: %s)", name, strings.Join(Sections(), ", "))
	}
	e := c.Root()
	for _, p := range path {
		if e = Child(e, p); e == nil {
			return nil, nil
		}
	}
	return e, nil
}

// Apply performs r on c in place and returns the answer (for queries
// and some failures). It does not manage the version counters; Perform
// does.
func (c *CIB) Apply(r *Request) (*etree.Element, error) {
	var input *etree.Element
	if r.Input != "" {
		e, _, err := ParseElement("input", []byte(r.Input))
		if err != nil {
			return nil, errorf(exitcode.DataErr, "the XML given is not valid: %v", err)
		}
		input = e
	}
	section := r.Section
	if section == "all" {
		section = ""
	}
	if r.XPath != "" {
		return c.applyXPath(r, input)
	}
	switch r.Op {
	case Query:
		obj, err := c.Section(section)
		if err != nil {
			return nil, err
		}
		if obj == nil {
			return nil, errorf(exitcode.NoSuch, "section <%s> is not in the CIB", section)
		}
		if r.NoChildren {
			return shallow(obj), nil
		}
		return obj.Copy(), nil
	case Create:
		if input == nil {
			return nil, errorf(exitcode.Usage, "create needs XML (-X, -x or -p)")
		}
		return c.create(section, input)
	case Modify:
		if input == nil {
			return nil, errorf(exitcode.Usage, "modify needs XML (-X, -x or -p)")
		}
		return nil, c.modify(section, input, r.AllowCreate)
	case Replace:
		if input == nil {
			return nil, errorf(exitcode.Usage, "replace needs XML (-X, -x or -p)")
		}
		return nil, c.replace(section, input)
	case Delete:
		if input == nil {
			return nil, errorf(exitcode.Usage, "delete needs XML (-X, -x or -p) or --xpath")
		}
		return nil, c.delete(section, input)
	case Erase:
		if !r.Force {
			return nil, &Error{Code: exitcode.Unsafe, Msg: "erasing the CIB is dangerous and was not done", Hint: "add --force to erase the whole configuration"}
		}
		c.erase()
		return nil, nil
	case Bump:
		bumpCounter(c.Root(), "epoch", false)
		return nil, nil
	}
	return nil, errorf(exitcode.Usage, "unknown operation %q", r.Op)
}

func shallow(e *etree.Element) *etree.Element {
	s := etree.NewElement(e.Tag)
	s.Space = e.Space
	for _, a := range e.Attr {
		s.CreateAttr(a.FullKey(), a.Value)
	}
	return s
}

func bumpCounter(e *etree.Element, name string, reset bool) {
	v := "1"
	if !reset && HasAttr(e, name) {
		v = strconv.Itoa(atoi(Attr(e, name)) + 1)
	}
	SetAttr(e, name, v)
}

// LatestSchema is the validate-with an erased or new CIB gets.
const LatestSchema = "pacemaker-3.9"

// FeatureSet is the crm_feature_set this implementation speaks.
const FeatureSet = "3.16.1"

// Empty returns a new CIB as Pacemaker's createEmptyCib makes it.
func Empty() *CIB {
	root := etree.NewElement("cib")
	root.CreateAttr("crm_feature_set", FeatureSet)
	root.CreateAttr("validate-with", LatestSchema)
	root.CreateAttr("epoch", "0")
	root.CreateAttr("num_updates", "0")
	root.CreateAttr("admin_epoch", "0")
	conf := root.CreateElement("configuration")
	root.CreateElement("status")
	for _, s := range []string{"crm_config", "nodes", "resources", "constraints"} {
		conf.CreateElement(s)
	}
	return New(root)
}

func (c *CIB) erase() {
	e := Empty().Root()
	old := c.Root()
	for _, a := range old.Attr {
		SetAttr(e, a.FullKey(), a.Value)
	}
	bumpCounter(e, "admin_epoch", false)
	c.doc.SetRoot(e)
}

// copyInProperties copies src's attributes into target, expanding
// "name++" and "name+=N" values as Pacemaker does.
func copyInProperties(target, src *etree.Element) {
	for _, a := range src.Attr {
		expandPlusPlus(target, a.FullKey(), a.Value, false)
	}
}

const infinity = 1000000

// Score parses a score as Pacemaker's char2score does.
func Score(s string) int {
	switch strings.ToLower(s) {
	case "-infinity":
		return -infinity
	case "infinity", "+infinity":
		return infinity
	case "red":
		return -infinity
	case "yellow", "green", "":
		return 0
	}
	n := int64(0)
	neg := false
	i := 0
	t := strings.TrimLeft(s, " \t\n")
	if i < len(t) && (t[i] == '-' || t[i] == '+') {
		neg = t[i] == '-'
		i++
	}
	for ; i < len(t) && t[i] >= '0' && t[i] <= '9'; i++ {
		n = n*10 + int64(t[i]-'0')
		if n > infinity {
			n = infinity + 1
		}
	}
	if neg {
		n = -n
	}
	if n > infinity {
		return infinity
	}
	if n < -infinity {
		return -infinity
	}
	return int(n)
}

func expandPlusPlus(target *etree.Element, name, value string, self bool) {
	old := target.SelectAttr(name)
	set := func() {
		if !self {
			setFull(target, name, value)
		}
	}
	if old == nil || !strings.HasPrefix(value, name) {
		set()
		return
	}
	n := len(name)
	if len(value) < n+2 || value[n] != '+' || (value[n+1] != '+' && value[n+1] != '=') {
		set()
		return
	}
	v := 0
	if !self {
		v = Score(old.Value)
	}
	off := 1
	if value[n+1] != '+' {
		off = Score(value[n+2:])
	}
	v += off
	if v > infinity {
		v = infinity
	}
	setFull(target, name, strconv.Itoa(v))
}

func setFull(e *etree.Element, key, value string) {
	if a := e.SelectAttr(key); a != nil {
		a.Value = value
		return
	}
	e.CreateAttr(key, value)
}

// fixPlusPlus expands "name++" values left in the document itself.
func fixPlusPlus(e *etree.Element) {
	for _, a := range append([]etree.Attr(nil), e.Attr...) {
		expandPlusPlus(e, a.FullKey(), a.Value, true)
	}
	for _, c := range e.ChildElements() {
		fixPlusPlus(c)
	}
}

// stripText removes text nodes, as Pacemaker does on every update.
func stripText(e *etree.Element) {
	kept := e.Child[:0]
	for _, t := range e.Child {
		if _, ok := t.(*etree.CharData); ok {
			continue
		}
		kept = append(kept, t)
	}
	e.Child = kept
	e.ReindexChildren()
	for _, c := range e.ChildElements() {
		stripText(c)
	}
}

// matchChild returns parent's first child element named name whose id
// is id (or, when id is "", the first named name).
func matchChild(parent *etree.Element, name, attr, val string) *etree.Element {
	for _, c := range parent.ChildElements() {
		if c.FullTag() == name && (attr == "" || (HasAttr(c, attr) && Attr(c, attr) == val)) {
			return c
		}
	}
	return nil
}

// xmlUpdate merges update into target (pcmk__xml_update): attributes
// are copied in, each child of update is merged into the child of
// target with the same name and id (or id-ref), or added.
func xmlUpdate(parent, target *etree.Element, update etree.Token) {
	if cm, ok := update.(*etree.Comment); ok {
		for _, t := range parent.Child {
			if x, ok := t.(*etree.Comment); ok && strings.EqualFold(x.Data, cm.Data) {
				return
			}
		}
		parent.AddChild(etree.NewComment(cm.Data))
		return
	}
	u, ok := update.(*etree.Element)
	if !ok {
		return
	}
	if target == nil {
		attr, val := "", ""
		if HasAttr(u, "id") {
			attr, val = "id", ID(u)
		} else if HasAttr(u, "id-ref") {
			attr, val = "id-ref", Attr(u, "id-ref")
		}
		target = matchChild(parent, u.FullTag(), attr, val)
		if target == nil {
			target = parent.CreateElement(u.FullTag())
		}
	}
	if !strings.EqualFold(target.FullTag(), u.FullTag()) {
		return
	}
	copyInProperties(target, u)
	for _, c := range u.Child {
		xmlUpdate(target, nil, c)
	}
}

// updateXMLChild finds, depth first from child, the first element with
// update's name and id and merges update into it.
func updateXMLChild(child, update *etree.Element) bool {
	if child.FullTag() == update.FullTag() && Attr(child, "id") == Attr(update, "id") && HasAttr(child, "id") == HasAttr(update, "id") {
		xmlUpdate(nil, child, update)
		return true
	}
	for _, c := range child.ChildElements() {
		if updateXMLChild(c, update) {
			return true
		}
	}
	return false
}

// replaceXMLChild finds, depth first below child, the first element with
// update's name (and id when update has one) and replaces it with a copy
// of update in place, or deletes it. For a delete every attribute of
// update must match.
func replaceXMLChild(parent, child, update *etree.Element, deleteOnly bool) bool {
	can := false
	if !HasAttr(update, "id") || (HasAttr(child, "id") && ID(child) == ID(update)) {
		can = true
	}
	if !strings.EqualFold(update.FullTag(), child.FullTag()) {
		can = false
	}
	if can && deleteOnly {
		for _, a := range update.Attr {
			o := child.SelectAttr(a.FullKey())
			if o == nil || !strings.EqualFold(o.Value, a.Value) {
				can = false
			}
		}
	}
	if can && parent != nil {
		if deleteOnly {
			parent.RemoveChild(child)
		} else {
			cp := update.Copy()
			parent.InsertChildAt(child.Index(), cp)
			parent.RemoveChild(child)
		}
		return true
	}
	for _, c := range child.ChildElements() {
		if replaceXMLChild(child, c, update, deleteOnly) {
			return true
		}
	}
	return false
}

func (c *CIB) create(section string, input *etree.Element) (*etree.Element, error) {
	if section == "cib" || input.FullTag() == "cib" {
		section = ""
	}
	if section == "" {
		return nil, c.modify("", input, false)
	}
	parent, err := c.Section(section)
	if err != nil {
		return nil, err
	}
	if parent == nil {
		return nil, errorf(exitcode.NoSuch, "section <%s> is not in the CIB", section)
	}
	failed := etree.NewElement("failed")
	var firstErr *Error
	add := func(obj *etree.Element) bool {
		if e := addCibObject(parent, obj); e != nil {
			fu := failed.CreateElement("failed_update")
			fu.CreateAttr("id", ID(obj))
			fu.CreateAttr("object_type", obj.FullTag())
			fu.CreateAttr("operation", "cib_create")
			fu.CreateAttr("reason", "File exists")
			fu.AddChild(obj.Copy())
			if firstErr == nil {
				firstErr = e
			}
			return true
		}
		return false
	}
	if input.FullTag() == section {
		for _, ch := range input.ChildElements() {
			if add(ch) {
				break
			}
		}
	} else {
		add(input)
	}
	if firstErr != nil {
		firstErr.Answer = failed
		return failed, firstErr
	}
	return nil, nil
}

func addCibObject(parent, obj *etree.Element) *Error {
	attr := ""
	if HasAttr(obj, "id") {
		attr = "id"
	}
	if matchChild(parent, obj.FullTag(), attr, ID(obj)) != nil {
		what := "<" + obj.FullTag() + ">"
		if attr != "" {
			what = fmt.Sprintf("<%s id=%q>", obj.FullTag(), ID(obj))
		}
		return &Error{Code: exitcode.Exists, Msg: fmt.Sprintf("%s already exists in <%s> (File exists)", what, parent.FullTag()),
			Hint: "use -M to change it or -R to replace it"}
	}
	updateCibObject(parent, obj)
	return nil
}

func updateCibObject(parent, update *etree.Element) {
	attr := ""
	if HasAttr(update, "id") {
		attr = "id"
	}
	target := matchChild(parent, update.FullTag(), attr, ID(update))
	if target == nil {
		target = parent.CreateElement(update.FullTag())
	}
	if HasAttr(update, "replace") {
		for _, item := range strings.Split(Attr(update, "replace"), ",") {
			if item == "" {
				continue
			}
			if rm := Child(target, item); rm != nil {
				target.RemoveChild(rm)
			}
		}
		update = update.Copy()
		update.RemoveAttr("replace")
		target.RemoveAttr("replace")
	}
	copyInProperties(target, update)
	for _, ch := range update.ChildElements() {
		updateCibObject(target, ch)
	}
}

// parentPath gives, for sections that modify may create, where to.
func (c *CIB) ensureSection(section string) (*etree.Element, error) {
	obj, err := c.Section(section)
	if err != nil || obj != nil {
		return obj, err
	}
	path := sections[section]
	parent := c.Root()
	for _, p := range path[:len(path)-1] {
		if parent = Child(parent, p); parent == nil {
			return nil, errorf(exitcode.NoSuch, "section <%s> is not in the CIB", path[len(path)-2])
		}
	}
	return parent.CreateElement(section), nil
}

func (c *CIB) modify(section string, input *etree.Element, allowCreate bool) error {
	obj, err := c.ensureSection(section)
	if err != nil {
		return err
	}
	if !updateXMLChild(obj, input) {
		if allowCreate {
			obj.AddChild(input.Copy())
			return nil
		}
		return &Error{Code: exitcode.NoSuch, Msg: fmt.Sprintf("no %s to modify (No such device or address)", describe(input)),
			Hint: "create it with -C, or add -c (--allow-create) to -M"}
	}
	return nil
}

func describe(e *etree.Element) string {
	if HasAttr(e, "id") {
		return fmt.Sprintf("<%s id=%q>", e.FullTag(), ID(e))
	}
	return "<" + e.FullTag() + ">"
}

func (c *CIB) replace(section string, input *etree.Element) error {
	if section == input.FullTag() {
		section = ""
	}
	if input.FullTag() == "cib" {
		in := New(input.Copy())
		if in.Version().Compare(c.Version()) < 0 {
			return &Error{Code: exitcode.Old, Msg: fmt.Sprintf("the replacement's version %s is older than the CIB's %s (Update was older than existing configuration)", in.Version(), c.Version()),
				Hint: "raise admin_epoch or epoch in the replacement"}
		}
		c.doc.SetRoot(in.Root())
		return nil
	}
	obj, err := c.Section(section)
	if err != nil {
		return err
	}
	if obj == nil || !replaceXMLChild(nil, obj, input, false) {
		return &Error{Code: exitcode.NoSuch, Msg: fmt.Sprintf("no %s to replace (No such device or address)", describe(input)),
			Hint: "create it with -C"}
	}
	return nil
}

func (c *CIB) delete(section string, input *etree.Element) error {
	obj, err := c.Section(section)
	if err != nil {
		return err
	}
	if obj == nil {
		return nil
	}
	if section != "" && input.FullTag() == section {
		for _, ch := range input.ChildElements() {
			replaceXMLChild(nil, obj, ch, true)
		}
		return nil
	}
	replaceXMLChild(nil, obj, input, true)
	return nil
}

func (c *CIB) applyXPath(r *Request, input *etree.Element) (*etree.Element, error) {
	matches, err := c.XPath(r.XPath)
	if err != nil {
		return nil, errorf(exitcode.InvalidParam, "%v", err)
	}
	if len(matches) == 0 {
		if r.Op == Delete {
			return nil, nil
		}
		return nil, &Error{Code: exitcode.NoSuch, Msg: fmt.Sprintf("nothing matches %s (No such device or address)", r.XPath)}
	}
	switch r.Op {
	case Query:
		var answer *etree.Element
		if len(matches) > 1 || r.NodePath {
			answer = etree.NewElement("xpath-query")
		}
		for _, m := range matches {
			var item *etree.Element
			switch {
			case r.NodePath:
				item = etree.NewElement("xpath-query-path")
				item.CreateAttr("id", nodePath(m))
			case r.NoChildren:
				item = shallow(m)
			default:
				item = m.Copy()
			}
			if answer == nil {
				return item, nil
			}
			answer.AddChild(item)
		}
		return answer, nil
	case Delete:
		if r.Multiple && !r.Force {
			return nil, &Error{Code: exitcode.Unsafe, Msg: "deleting every match is dangerous and was not done", Hint: "add --force to delete every match of " + r.XPath}
		}
		for _, m := range matches {
			if m == c.Root() {
				return nil, errorf(exitcode.InvalidParam, "%s addresses the whole CIB, which cannot be deleted", r.XPath)
			}
			if p := m.Parent(); p != nil {
				p.RemoveChild(m)
			}
			if !r.Multiple {
				break
			}
		}
		return nil, nil
	case Modify:
		if input == nil {
			return nil, errorf(exitcode.Usage, "modify needs XML (-X, -x or -p)")
		}
		var rerr error
		for _, m := range matches {
			if !updateXMLChild(m, input) {
				rerr = &Error{Code: exitcode.NoSuch, Msg: fmt.Sprintf("no %s under %s (No such device or address)", describe(input), r.XPath)}
			} else if !r.Multiple {
				break
			}
		}
		return nil, rerr
	case Create:
		if input == nil {
			return nil, errorf(exitcode.Usage, "create needs XML (-X, -x or -p)")
		}
		matches[0].AddChild(input.Copy())
		return nil, nil
	case Replace:
		for _, m := range matches {
			if m == c.Root() {
				if input == nil || input.FullTag() != "cib" {
					return nil, errorf(exitcode.InvalidParam, "%s addresses the whole CIB, which only a <cib> can replace", r.XPath)
				}
				c.doc.SetRoot(input.Copy())
				break
			}
			p := m.Parent()
			p.RemoveChild(m)
			if input != nil {
				p.AddChild(input.Copy())
			}
			if !r.Multiple {
				break
			}
		}
		return nil, nil
	}
	return nil, errorf(exitcode.Usage, "--xpath cannot be used with %s", r.Op)
}

func nodePath(e *etree.Element) string {
	var parts []string
	for p := e; p != nil && p.Tag != ""; p = p.Parent() {
		if HasAttr(p, "id") {
			parts = append(parts, fmt.Sprintf("/%s[@id='%s']", p.FullTag(), ID(p)))
		} else {
			parts = append(parts, "/"+p.FullTag())
		}
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteString(parts[i])
	}
	return b.String()
}

// Perform runs r against a copy of cur and returns the new document,
// with admin_epoch/epoch/num_updates managed as Pacemaker manages them:
// no change leaves them alone; a change inside <configuration> increments
// epoch and resets num_updates; any other change increments num_updates.
// cur is not modified. For a query, next is nil.
func Perform(cur *CIB, r *Request) (next *CIB, answer *etree.Element, err error) {
	if r.Op == Query {
		answer, err = cur.Apply(r)
		return nil, answer, err
	}
	next = cur.Copy()
	answer, err = next.Apply(r)
	if err != nil {
		return nil, answer, err
	}
	stripText(next.Root())
	fixPlusPlus(next.Root())
	if Equal(cur.Root(), next.Root()) {
		return next, answer, nil
	}
	old, nv := cur.Version(), next.Version()
	if nv.AdminEpoch < old.AdminEpoch || (nv.AdminEpoch == old.AdminEpoch && nv.Epoch < old.Epoch) {
		return nil, nil, &Error{Code: exitcode.Old, Msg: fmt.Sprintf("the update would take the CIB back from %s to %s (Update was older than existing configuration)", old, nv)}
	}
	if ConfigChanged(cur, next) {
		SetAttr(next.Root(), "epoch", strconv.Itoa(nv.Epoch+1))
		SetAttr(next.Root(), "num_updates", "0")
	} else {
		SetAttr(next.Root(), "num_updates", strconv.Itoa(nv.NumUpdates+1))
	}
	return next, answer, nil
}

// ConfigChanged reports whether the <configuration> sections differ.
func ConfigChanged(a, b *CIB) bool {
	x, y := Child(a.Root(), "configuration"), Child(b.Root(), "configuration")
	if x == nil || y == nil {
		return x != y
	}
	return !Equal(x, y)
}
