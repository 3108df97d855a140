// Package cibverify checks a CIB the way crm_verify does, and a little
// more: the shape of the document (the elements and attributes
// Pacemaker's schema requires), unique and well-formed ids, references
// that resolve (constraints to resources and nodes, groups to members,
// id-refs, templates, tags), well-formed values (scores, intervals,
// timeouts, roles, booleans, cluster options), resource agents that
// exist and have their required parameters, and warnings about risky
// but valid configurations.
//
// Checking is pure: agents are looked up through the Agents interface.
package cibverify

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"github.com/linux-ha-go/ha/lib/cib"
	"github.com/linux-ha-go/ha/lib/exitcode"
)

// Severity of a finding.
type Severity string

// Severities.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Finding is one problem.
type Finding struct {
	Severity Severity `json:"severity" xml:"severity,attr"`
	Where    string   `json:"where" xml:"where,attr"` // file:line
	ID       string   `json:"id,omitempty" xml:"id,attr,omitempty"`
	Msg      string   `json:"message" xml:"message,attr"`
	// Cluster marks errors about how the cluster would behave (no fence
	// device) rather than about the document; hb-cibadmin does not
	// refuse changes for them, as cibadmin does not.
	Cluster bool `json:"cluster,omitempty" xml:"cluster,attr,omitempty"`
}

func (f Finding) String() string {
	return fmt.Sprintf("%s: %s: %s", f.Where, f.Severity, f.Msg)
}

// Report is every finding of one check.
type Report struct {
	XMLName  struct{}  `json:"-" xml:"verify"`
	Name     string    `json:"file" xml:"file,attr"`
	Findings []Finding `json:"findings" xml:"finding"`
}

// Errors counts the errors.
func (r *Report) Errors() int { return r.count(Error) }

// Warnings counts the warnings.
func (r *Report) Warnings() int { return r.count(Warning) }

func (r *Report) count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Code is hb-verify's exit status: 0 clean, 78 (Invalid configuration)
// when there are errors, as crm_verify; 107 (Operation not safe) when
// there are only warnings (crm_verify gives 78 for both).
func (r *Report) Code() exitcode.Code {
	switch {
	case r.Errors() > 0:
		return exitcode.Config
	case r.Warnings() > 0:
		return exitcode.Unsafe
	}
	return exitcode.OK
}

// WriteText prints one finding a line and a summary.
func (r *Report) WriteText(w io.Writer) error {
	for _, f := range r.Findings {
		if _, err := fmt.Fprintln(w, f.String()); err != nil {
			return err
		}
	}
	var err error
	switch {
	case r.Errors() > 0:
		_, err = fmt.Fprintf(w, "Errors found during check: config not valid (%d errors, %d warnings)\n", r.Errors(), r.Warnings())
	case r.Warnings() > 0:
		_, err = fmt.Fprintf(w, "Warnings found during check: config may not be valid (%d warnings)\n", r.Warnings())
	}
	return err
}

// Param is a resource agent parameter from its meta-data.
type Param struct {
	Name     string
	Required bool
}

// Agents looks resource agents up. Exists reports whether the agent is
// installed; Params returns its parameters (nil when unknown).
type Agents interface {
	Exists(class, provider, typ string) (bool, error)
	Params(class, provider, typ string) ([]Param, error)
}

// Options tune a check.
type Options struct {
	// Agents, when set, checks that agents exist and that required
	// parameters are given.
	Agents Agents
}

// Refuse is the validation hb-cibadmin runs before writing: the
// document's errors (not its warnings, and no agent look-ups) refuse
// the change.
func Refuse(c *cib.CIB) error {
	r := Check(c, Options{})
	var lines []string
	for _, f := range r.Findings {
		if f.Severity == Error && !f.Cluster {
			lines = append(lines, f.Msg)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	if len(lines) > 5 {
		lines = append(lines[:5], fmt.Sprintf("and %d more", len(lines)-5))
	}
	return exitcode.Wrap(exitcode.Config,
		fmt.Errorf("the change was refused, nothing was written: the result would not be a valid CIB: %s", strings.Join(lines, "; ")),
		"check the result with hb-verify to see every problem")
}

type checker struct {
	c        *cib.CIB
	o        Options
	r        *Report
	ids      map[string]*etree.Element // xsd:ID ids of the configuration
	rscs     map[string]*etree.Element // resources, templates, bundles
	nodes    map[string]*etree.Element // by uname
	nodeIDs  map[string]*etree.Element
	tags     map[string]*etree.Element
	stonith  int
	enabled  map[string]string // cluster options
	replicas bool
	// cloneChild maps the child of a clone to the clone: constraints
	// must name the clone.
	cloneChild map[string]string
	// schema3 is set for validate-with pacemaker-3.x, whose schema
	// allows only known attributes on the elements in schemaAttrs.
	schema3 bool
	schema  string
}

// schemaAttrs are the attributes Pacemaker's 3.x schemas allow on the
// elements they define strictly (the union over pacemaker-3.0 ... 3.9).
var schemaAttrs = map[string][]string{
	"primitive":      {"id", "class", "provider", "type", "template", "description"},
	"template":       {"id", "class", "provider", "type", "description"},
	"group":          {"id", "description"},
	"clone":          {"id", "description"},
	"master":         {"id", "description"},
	"op":             {"id", "name", "interval", "description", "start-delay", "interval-origin", "timeout", "enabled", "record-pending", "role", "on-fail"},
	"node":           {"id", "uname", "type", "description", "score"},
	"nvpair":         {"id", "id-ref", "name", "value"},
	"rsc_location":   {"id", "rsc", "rsc-pattern", "role", "score", "node", "resource-discovery"},
	"rsc_colocation": {"id", "score", "influence", "rsc", "with-rsc", "node-attribute", "rsc-role", "with-rsc-role"},
	"rsc_order":      {"id", "symmetrical", "require-all", "score", "kind", "first", "then", "first-action", "then-action"},
	"rsc_ticket":     {"id", "rsc", "rsc-role", "ticket", "loss-policy"},
	"resource_set":   {"id", "id-ref", "sequential", "require-all", "ordering", "action", "role", "score", "kind"},
	"resource_ref":   {"id"},
}

// attrs reports attributes of e that the document's schema does not allow.
func (k *checker) attrs(e *etree.Element) {
	allowed, ok := schemaAttrs[e.Tag]
	if !k.schema3 || !ok {
		return
	}
	for _, a := range e.Attr {
		if !oneOf(a.FullKey(), allowed...) {
			k.errorf(e, "<%s%s> has attribute %s, which the schema %s does not allow", e.Tag, idPart(e), a.FullKey(), k.schema)
		}
	}
}

func (k *checker) add(s Severity, e *etree.Element, format string, args ...any) {
	id := ""
	if e != nil {
		id = cib.ID(e)
	}
	where := k.c.Name
	if e != nil {
		where = k.c.Where(e)
	}
	k.r.Findings = append(k.r.Findings, Finding{Severity: s, Where: where, ID: id, Msg: fmt.Sprintf(format, args...)})
}

func (k *checker) errorf(e *etree.Element, format string, args ...any) {
	k.add(Error, e, format, args...)
}

func (k *checker) warnf(e *etree.Element, format string, args ...any) {
	k.add(Warning, e, format, args...)
}

// Check checks a whole CIB.
func Check(c *cib.CIB, o Options) *Report {
	k := &checker{c: c, o: o, r: &Report{Name: c.Name, Findings: []Finding{}}, ids: map[string]*etree.Element{},
		rscs: map[string]*etree.Element{}, nodes: map[string]*etree.Element{}, nodeIDs: map[string]*etree.Element{},
		tags: map[string]*etree.Element{}, enabled: map[string]string{}, cloneChild: map[string]string{}}
	root := c.Root()
	k.checkRoot(root)
	conf := cib.Child(root, "configuration")
	if conf == nil {
		k.errorf(root, "<cib> has no <configuration> section")
		return k.r
	}
	k.collectIDs(conf)
	for _, sec := range []string{"crm_config", "nodes", "resources", "constraints"} {
		if cib.Child(conf, sec) == nil {
			k.errorf(conf, "<configuration> has no <%s> section (Pacemaker's schema requires it)", sec)
		}
	}
	for _, e := range conf.ChildElements() {
		switch e.Tag {
		case "crm_config":
			k.checkCrmConfig(e)
		case "nodes":
			k.checkNodes(e)
		case "resources":
			for _, r := range e.ChildElements() {
				k.checkResource(r, "")
			}
		case "rsc_defaults", "op_defaults":
			k.checkSets(e, "meta_attributes")
		case "constraints", "tags", "fencing-topology", "acls", "alerts":
		default:
			k.errorf(e, "unknown section <%s> in <configuration>", e.Tag)
		}
	}
	if t := cib.Child(conf, "tags"); t != nil {
		k.checkTags(t)
	}
	if cs := cib.Child(conf, "constraints"); cs != nil {
		for _, e := range cs.ChildElements() {
			k.checkConstraint(e)
		}
	}
	k.checkIDRefs(conf)
	k.checkFencing(conf)
	if st := cib.Child(root, "status"); st != nil {
		k.checkStatus(st)
	}
	return k.r
}

var schemaRe = regexp.MustCompile(`^pacemaker-(\d+)\.(\d+)$`)

func (k *checker) checkRoot(root *etree.Element) {
	v := cib.Attr(root, "validate-with")
	k.schema = v
	k.schema3 = strings.HasPrefix(v, "pacemaker-3.")
	switch {
	case v == "":
		k.warnf(root, "<cib> has no validate-with; set validate-with=\"pacemaker-3.7\" so the document is checked against a schema")
	case v == "none":
		k.warnf(root, "validate-with=\"none\": schema validation of the configuration is disabled")
	case v == "pacemaker-next":
	default:
		m := schemaRe.FindStringSubmatch(v)
		if m == nil {
			k.errorf(root, "validate-with=%q is not a known schema (pacemaker-1.0 ... %s)", v, cib.LatestSchema)
		} else if maj, _ := strconv.Atoi(m[1]); maj < 2 {
			k.warnf(root, "validate-with=%q is an old schema; upgrade with cibadmin --upgrade", v)
		} else if maj > 3 || (maj == 3 && mustAtoi(m[2]) > 9) {
			k.errorf(root, "validate-with=%q is newer than this version supports (%s)", v, cib.LatestSchema)
		}
	}
	for _, a := range []string{"admin_epoch", "epoch", "num_updates"} {
		if !cib.HasAttr(root, a) {
			if a != "num_updates" {
				k.errorf(root, "<cib> has no %s attribute", a)
			}
			continue
		}
		if n, err := strconv.Atoi(cib.Attr(root, a)); err != nil || n < 0 {
			k.errorf(root, "%s=%q is not a non-negative integer", a, cib.Attr(root, a))
		}
	}
	if fs := cib.Attr(root, "crm_feature_set"); fs != "" && compareVersion(fs, "3.0.13") < 0 && hasPerOpFailCounts(root) {
		k.warnf(root, "crm_feature_set=%q is older than 3.0.13: the per-operation fail counts in the status section will be ignored", fs)
	}
	if cib.Child(root, "status") == nil {
		k.warnf(root, "<cib> has no <status> section (an empty one is assumed)")
	}
}

// hasPerOpFailCounts reports whether the status section holds
// fail-count-RSC#OP_INTERVAL attributes.
func hasPerOpFailCounts(root *etree.Element) bool {
	st := cib.Child(root, "status")
	if st == nil {
		return false
	}
	found := false
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		if found {
			return
		}
		if e.Tag == "nvpair" {
			if n := cib.Attr(e, "name"); strings.HasPrefix(n, "fail-count-") && strings.Contains(n, "#") {
				found = true
			}
		}
		for _, c := range e.ChildElements() {
			walk(c)
		}
	}
	walk(st)
	return found
}

func mustAtoi(s string) int { n, _ := strconv.Atoi(s); return n }

func compareVersion(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		x, y := 0, 0
		if i < len(as) {
			x = mustAtoi(as[i])
		}
		if i < len(bs) {
			y = mustAtoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

var ncName = regexp.MustCompile(`^[\p{L}_][\p{L}\p{N}_.\-]*$`)

// collectIDs records every id of the configuration (node ids, which
// Pacemaker's schema types as text, apart) and reports duplicates and
// ids that are not XML names.
func (k *checker) collectIDs(conf *etree.Element) {
	var walk func(e *etree.Element, inNode bool)
	walk = func(e *etree.Element, inNode bool) {
		if cib.HasAttr(e, "id") && e.Tag != "node" && e.Tag != "resource_ref" && e.Tag != "obj_ref" {
			id := cib.ID(e)
			if !ncName.MatchString(id) {
				k.errorf(e, "<%s id=%q>: an id must start with a letter or '_' and hold only letters, digits, '_', '-' and '.'", e.Tag, id)
			}
			if prev, dup := k.ids[id]; dup {
				k.errorf(e, "id %q of <%s> is already used by <%s> at %s; ids must be unique in the whole CIB", id, e.Tag, prev.Tag, k.c.Where(prev))
			} else {
				k.ids[id] = e
			}
		}
		for _, ch := range e.ChildElements() {
			walk(ch, inNode)
		}
	}
	walk(conf, false)
}

func (k *checker) checkIDRefs(conf *etree.Element) {
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		if cib.HasAttr(e, "id-ref") {
			ref := cib.Attr(e, "id-ref")
			if t, ok := k.ids[ref]; !ok {
				k.errorf(e, "<%s id-ref=%q> refers to an id that does not exist", e.Tag, ref)
			} else if t.Tag != e.Tag && e.Tag != "rule" {
				k.errorf(e, "<%s id-ref=%q> refers to a <%s>, not a <%s>", e.Tag, ref, t.Tag, e.Tag)
			}
		}
		for _, ch := range e.ChildElements() {
			walk(ch)
		}
	}
	walk(conf)
}

func need(k *checker, e *etree.Element, attrs ...string) bool {
	ok := true
	for _, a := range attrs {
		if !cib.HasAttr(e, a) {
			if cib.HasAttr(e, "id-ref") && a != "id-ref" {
				continue
			}
			k.errorf(e, "<%s%s> has no %s attribute", e.Tag, idPart(e), a)
			ok = false
		}
	}
	return ok
}

func idPart(e *etree.Element) string {
	if cib.HasAttr(e, "id") {
		return fmt.Sprintf(" id=%q", cib.ID(e))
	}
	return ""
}

// checkSets checks the nvsets (tag) under e.
func (k *checker) checkSets(e *etree.Element, tags ...string) {
	for _, s := range e.ChildElements() {
		okTag := false
		for _, t := range tags {
			if s.Tag == t {
				okTag = true
			}
		}
		if !okTag {
			k.errorf(s, "<%s> cannot hold <%s> (expected %s)", e.Tag, s.Tag, strings.Join(tags, " or "))
			continue
		}
		k.checkNVSet(s)
	}
}

func (k *checker) checkNVSet(s *etree.Element) map[string]string {
	vals := map[string]string{}
	if !cib.HasAttr(s, "id") && !cib.HasAttr(s, "id-ref") {
		k.errorf(s, "<%s> has no id", s.Tag)
	}
	if sc := cib.Attr(s, "score"); sc != "" && !validScore(sc) {
		k.errorf(s, "<%s%s> score=%q is not a score (an integer, INFINITY or -INFINITY)", s.Tag, idPart(s), sc)
	}
	for _, nv := range s.ChildElements() {
		switch nv.Tag {
		case "nvpair":
			k.attrs(nv)
			if cib.HasAttr(nv, "id-ref") {
				continue
			}
			need(k, nv, "id", "name")
			vals[cib.Attr(nv, "name")] = cib.Attr(nv, "value")
		case "rule":
			k.checkRule(nv)
		default:
			k.errorf(nv, "<%s> cannot hold <%s> (expected nvpair or rule)", s.Tag, nv.Tag)
		}
	}
	return vals
}

func (k *checker) checkRule(r *etree.Element) {
	if cib.HasAttr(r, "id-ref") {
		return
	}
	need(k, r, "id")
	if sc := cib.Attr(r, "score"); sc != "" && !validScore(sc) {
		k.errorf(r, "<rule id=%q> score=%q is not a score", cib.ID(r), sc)
	}
	if bo := cib.Attr(r, "boolean-op"); bo != "" && bo != "and" && bo != "or" {
		k.errorf(r, "<rule id=%q> boolean-op=%q: use and or or", cib.ID(r), bo)
	}
	for _, e := range r.ChildElements() {
		switch e.Tag {
		case "expression":
			need(k, e, "id", "attribute", "operation")
			op := cib.Attr(e, "operation")
			switch op {
			case "lt", "gt", "lte", "gte", "eq", "ne":
				if !cib.HasAttr(e, "value") {
					k.errorf(e, "<expression id=%q> operation %s needs a value", cib.ID(e), op)
				}
			case "defined", "not_defined", "":
			default:
				k.errorf(e, "<expression id=%q> operation=%q: use lt, gt, lte, gte, eq, ne, defined or not_defined", cib.ID(e), op)
			}
			if t := cib.Attr(e, "type"); t != "" && !oneOf(t, "string", "integer", "number", "version") {
				k.errorf(e, "<expression id=%q> type=%q: use string, integer, number or version", cib.ID(e), t)
			}
		case "rule":
			k.checkRule(e)
		case "date_expression", "rsc_expression", "op_expression":
			need(k, e, "id")
		default:
			k.errorf(e, "<rule> cannot hold <%s>", e.Tag)
		}
	}
}

func oneOfFold(s string, vals ...string) bool {
	for _, v := range vals {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

func oneOf(s string, vals ...string) bool {
	for _, v := range vals {
		if s == v {
			return true
		}
	}
	return false
}

// validScore accepts what Pacemaker's schema accepts as a score.
func validScore(s string) bool {
	switch strings.ToUpper(s) {
	case "INFINITY", "+INFINITY", "-INFINITY":
		return true
	}
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

var looseScoreRe = regexp.MustCompile(`^\s*[+-]?\d`)

// looseScore accepts what Pacemaker's char2score makes a number of
// (meta attributes are not checked by the schema): INFINITY forms,
// node-health colours, or a leading integer ("1.0" is 1).
func looseScore(s string) bool {
	return validScore(s) || oneOfFold(s, "red", "yellow", "green") || looseScoreRe.MatchString(s)
}

var intervalRe = regexp.MustCompile(`^\s*\d+\s*(ms|msec|us|usec|s|sec|m|min|h|hr)?\s*$`)
var isoDurRe = regexp.MustCompile(`^P[0-9YMWDTHS.]+$`)

// ValidInterval reports whether s is a Pacemaker time spec ("10", "10s",
// "500ms", "2min", "1h") or an ISO 8601 duration ("PT10S").
func ValidInterval(s string) bool {
	if intervalRe.MatchString(s) {
		return true
	}
	return len(s) > 1 && isoDurRe.MatchString(s) && s != "PT"
}

// IntervalMS converts a time spec to milliseconds (0 when invalid).
func IntervalMS(s string) int64 {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "P") {
		var total float64
		num := ""
		inTime := false
		for _, c := range s[1:] {
			switch {
			case c >= '0' && c <= '9' || c == '.':
				num += string(c)
			case c == 'T':
				inTime = true
			default:
				f, _ := strconv.ParseFloat(num, 64)
				num = ""
				switch {
				case c == 'Y':
					f *= 365 * 86400
				case c == 'M' && !inTime:
					f *= 30 * 86400
				case c == 'W':
					f *= 7 * 86400
				case c == 'D':
					f *= 86400
				case c == 'H':
					f *= 3600
				case c == 'M':
					f *= 60
				}
				total += f
			}
		}
		return int64(total * 1000)
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, _ := strconv.ParseInt(s[:i], 10, 64)
	switch strings.TrimSpace(s[i:]) {
	case "ms", "msec":
		return n
	case "us", "usec":
		return n / 1000
	case "m", "min":
		return n * 60000
	case "h", "hr":
		return n * 3600000
	}
	return n * 1000
}

func validBool(s string) bool {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "1", "0", "y", "n":
		return true
	}
	return false
}

func isTrue(s string) bool {
	switch strings.ToLower(s) {
	case "true", "yes", "on", "1", "y":
		return true
	}
	return false
}

var roles = []string{"Stopped", "Started", "Promoted", "Unpromoted", "Slave", "Master"}

var clusterEnums = map[string][]string{
	"no-quorum-policy":     {"stop", "freeze", "ignore", "demote", "suicide"},
	"placement-strategy":   {"default", "utilization", "minimal", "balanced"},
	"stonith-action":       {"reboot", "off", "poweroff"},
	"node-health-strategy": {"none", "migrate-on-red", "only-green", "progressive", "custom"},
}

var clusterBools = []string{"stonith-enabled", "symmetric-cluster", "maintenance-mode", "start-failure-is-fatal",
	"stop-all-resources", "startup-fencing", "stop-orphan-resources", "stop-orphan-actions", "concurrent-fencing",
	"shutdown-lock", "enable-startup-probes", "enable-acl", "have-watchdog", "is-managed-default"}

var clusterTimes = []string{"cluster-recheck-interval", "dc-deadtime", "election-timeout", "shutdown-escalation",
	"stonith-timeout", "priority-fencing-delay", "shutdown-lock-limit", "join-integration-timeout", "join-finalization-timeout",
	"transition-delay", "fence-reaction"}

func (k *checker) checkCrmConfig(e *etree.Element) {
	for _, s := range e.ChildElements() {
		if s.Tag != "cluster_property_set" {
			k.errorf(s, "<crm_config> cannot hold <%s> (expected cluster_property_set)", s.Tag)
			continue
		}
		vals := k.checkNVSet(s)
		for n, v := range vals {
			k.enabled[n] = v
			nv := nvpairNamed(s, n)
			if enum, ok := clusterEnums[n]; ok && !oneOf(v, enum...) {
				k.errorf(nv, "cluster option %s=%q: use one of %s", n, v, strings.Join(enum, ", "))
			}
			if oneOf(n, clusterBools...) && !validBool(v) {
				k.errorf(nv, "cluster option %s=%q is not a boolean (true/false, yes/no, on/off, 1/0)", n, v)
			}
			if oneOf(n, "stonith-timeout", "cluster-recheck-interval", "dc-deadtime", "election-timeout", "shutdown-escalation") && v != "" && !ValidInterval(v) {
				k.errorf(nv, "cluster option %s=%q is not a time (e.g. 60s, 15min)", n, v)
			}
		}
	}
}

func nvpairNamed(set *etree.Element, name string) *etree.Element {
	for _, nv := range set.ChildElements() {
		if nv.Tag == "nvpair" && cib.Attr(nv, "name") == name {
			return nv
		}
	}
	return set
}

func (k *checker) checkNodes(e *etree.Element) {
	for _, n := range e.ChildElements() {
		if n.Tag != "node" {
			k.errorf(n, "<nodes> cannot hold <%s> (expected node)", n.Tag)
			continue
		}
		need(k, n, "id", "uname")
		k.attrs(n)
		id, un := cib.ID(n), cib.Attr(n, "uname")
		if prev, dup := k.nodeIDs[id]; dup && id != "" {
			k.errorf(n, "node id %q is already used by node %q at %s", id, cib.Attr(prev, "uname"), k.c.Where(prev))
		}
		k.nodeIDs[id] = n
		if prev, dup := k.nodes[un]; dup && un != "" {
			k.errorf(n, "node name %q is already used by the node at %s", un, k.c.Where(prev))
		}
		k.nodes[un] = n
		if t := cib.Attr(n, "type"); t != "" && !oneOf(t, "member", "normal", "ping", "remote") {
			k.errorf(n, "<node uname=%q> type=%q: use member, ping or remote", un, t)
		}
		for _, s := range n.ChildElements() {
			switch s.Tag {
			case "instance_attributes", "utilization":
				vals := k.checkNVSet(s)
				if v, ok := vals["standby"]; ok && s.Tag == "instance_attributes" && !validBool(v) {
					k.errorf(nvpairNamed(s, "standby"), "node %s: standby=%q is not a boolean", un, v)
				}
			case "score":
			default:
				k.errorf(s, "<node> cannot hold <%s>", s.Tag)
			}
		}
	}
}

var metaBools = []string{"is-managed", "maintenance", "allow-migrate", "globally-unique", "ordered", "interleave",
	"notify", "promotable", "critical", "collocated"}

func (k *checker) checkMeta(owner *etree.Element, vals map[string]string, set *etree.Element) {
	for n, v := range vals {
		nv := nvpairNamed(set, n)
		if v == "#default" {
			continue
		}
		k := metaWarner{k}
		switch {
		case n == "target-role":
			if !oneOfFold(v, roles...) {
				k.errorf(nv, "%s: target-role=%q: use one of %s", cib.ID(owner), v, strings.Join(roles, ", "))
			}
		case oneOf(n, metaBools...):
			if !validBool(v) {
				k.errorf(nv, "%s: %s=%q is not a boolean", cib.ID(owner), n, v)
			}
		case oneOf(n, "resource-stickiness", "migration-threshold", "priority"):
			if !looseScore(v) {
				k.errorf(nv, "%s: %s=%q is not a score (an integer, INFINITY or -INFINITY)", cib.ID(owner), n, v)
			}
		case n == "failure-timeout":
			if !ValidInterval(v) {
				k.errorf(nv, "%s: failure-timeout=%q is not a time (e.g. 10min)", cib.ID(owner), v)
			}
		case oneOf(n, "clone-max", "clone-node-max", "promoted-max", "promoted-node-max", "master-max", "master-node-max"):
			if x, err := strconv.Atoi(v); err != nil || x < 0 {
				k.errorf(nv, "%s: %s=%q is not a non-negative integer", cib.ID(owner), n, v)
			}
		case n == "requires":
			if !oneOf(v, "nothing", "quorum", "fencing", "unfencing") {
				k.errorf(nv, "%s: requires=%q: use nothing, quorum, fencing or unfencing", cib.ID(owner), v)
			}
		case n == "multiple-active":
			if !oneOf(v, "block", "stop_only", "stop_start", "stop_unexpected") {
				k.errorf(nv, "%s: multiple-active=%q: use block, stop_only, stop_start or stop_unexpected", cib.ID(owner), v)
			}
		}
	}
}

// metaWarner reports meta-attribute values as warnings: Pacemaker's
// schema does not check them and the scheduler falls back to defaults.
type metaWarner struct{ c *checker }

func (m metaWarner) errorf(e *etree.Element, format string, args ...any) {
	m.c.warnf(e, format, args...)
}

func (k *checker) checkResource(r *etree.Element, parent string) {
	k.attrs(r)
	switch r.Tag {
	case "primitive", "template":
		if !need(k, r, "id") {
			return
		}
		k.rscs[cib.ID(r)] = r
		k.checkPrimitive(r)
	case "group":
		if !need(k, r, "id") {
			return
		}
		k.rscs[cib.ID(r)] = r
		if parent == "group" {
			k.errorf(r, "group %q is inside another group; groups cannot be nested", cib.ID(r))
		}
		members := 0
		for _, ch := range r.ChildElements() {
			switch ch.Tag {
			case "primitive":
				members++
				k.checkResource(ch, "group")
			case "meta_attributes":
				k.checkMeta(r, k.checkNVSet(ch), ch)
			case "instance_attributes", "utilization":
				k.checkNVSet(ch)
			default:
				k.errorf(ch, "group %q cannot hold <%s> (only primitives and attribute sets)", cib.ID(r), ch.Tag)
			}
		}
		if members == 0 {
			k.errorf(r, "group %q has no members; a group needs at least one primitive", cib.ID(r))
		}
	case "clone", "master":
		if !need(k, r, "id") {
			return
		}
		k.rscs[cib.ID(r)] = r
		if parent != "" {
			k.errorf(r, "%s %q cannot be inside a %s", r.Tag, cib.ID(r), parent)
		}
		children := 0
		for _, ch := range r.ChildElements() {
			switch ch.Tag {
			case "primitive", "group":
				children++
				k.checkResource(ch, r.Tag)
				k.cloneChild[cib.ID(ch)] = cib.ID(r)
			case "meta_attributes":
				k.checkMeta(r, k.checkNVSet(ch), ch)
			case "instance_attributes", "utilization":
				k.checkNVSet(ch)
			default:
				k.errorf(ch, "%s %q cannot hold <%s>", r.Tag, cib.ID(r), ch.Tag)
			}
		}
		if children != 1 {
			k.errorf(r, "%s %q must hold exactly one primitive or group, it holds %d", r.Tag, cib.ID(r), children)
		}
	case "bundle":
		if need(k, r, "id") {
			k.rscs[cib.ID(r)] = r
			for _, ch := range r.ChildElements() {
				if ch.Tag == "primitive" {
					k.checkResource(ch, "bundle")
				}
			}
		}
	default:
		k.errorf(r, "<%s> is not a resource (expected primitive, group, clone, bundle or template)", r.Tag)
	}
}

func (k *checker) checkPrimitive(r *etree.Element) {
	id := cib.ID(r)
	class, provider, typ := cib.Attr(r, "class"), cib.Attr(r, "provider"), cib.Attr(r, "type")
	if tpl := cib.Attr(r, "template"); tpl != "" && r.Tag == "primitive" {
		// class and type come from the template, checked at the end
		k.rscs["\x00tpl-user\x00"+id] = r
	} else {
		if class == "" {
			k.errorf(r, "%s %q has no class (ocf, lsb, systemd, service, stonith, heartbeat)", r.Tag, id)
		} else if !oneOf(class, "ocf", "lsb", "heartbeat", "stonith", "upstart", "service", "systemd", "nagios") {
			k.errorf(r, "%s %q: class=%q is not a resource class (ocf, lsb, systemd, service, stonith, heartbeat)", r.Tag, id, class)
		}
		if typ == "" {
			k.errorf(r, "%s %q has no type (the agent's name)", r.Tag, id)
		}
		if class == "ocf" && provider == "" {
			k.errorf(r, "%s %q is class ocf but has no provider (e.g. heartbeat, pacemaker, linbit)", r.Tag, id)
		}
		if class != "ocf" && provider != "" && class != "" {
			k.errorf(r, "%s %q: provider=%q is only allowed with class ocf", r.Tag, id, provider)
		}
		if class == "stonith" {
			k.stonith++
		}
		if strings.Contains(strings.ToLower(typ), "drbd") {
			k.replicas = true
		}
	}
	params := map[string]string{}
	for _, ch := range r.ChildElements() {
		switch ch.Tag {
		case "instance_attributes":
			for n, v := range k.checkNVSet(ch) {
				params[n] = v
			}
		case "meta_attributes":
			k.checkMeta(r, k.checkNVSet(ch), ch)
		case "utilization":
			k.checkNVSet(ch)
		case "operations":
			k.checkOps(r, ch)
		default:
			k.errorf(ch, "%s %q cannot hold <%s>", r.Tag, id, ch.Tag)
		}
	}
	if k.o.Agents != nil && r.Tag == "primitive" && class != "" && typ != "" {
		k.checkAgent(r, class, provider, typ, params)
	}
}

func (k *checker) checkAgent(r *etree.Element, class, provider, typ string, params map[string]string) {
	agent := class + ":" + typ
	if provider != "" {
		agent = class + ":" + provider + ":" + typ
	}
	ok, err := k.o.Agents.Exists(class, provider, typ)
	if err != nil {
		k.warnf(r, "resource %q: cannot check agent %s: %v", cib.ID(r), agent, err)
		return
	}
	if !ok {
		k.warnf(r, "resource %q: agent %s is not installed on this node", cib.ID(r), agent)
		return
	}
	ps, err := k.o.Agents.Params(class, provider, typ)
	if err != nil {
		k.warnf(r, "resource %q: cannot read the meta-data of %s: %v", cib.ID(r), agent, err)
		return
	}
	for _, p := range ps {
		if _, set := params[p.Name]; p.Required && !set {
			k.errorf(r, "resource %q: agent %s requires parameter %q, which is not set", cib.ID(r), agent, p.Name)
		}
	}
}

func (k *checker) checkOps(r, ops *etree.Element) {
	seen := map[string]*etree.Element{}
	for _, op := range ops.ChildElements() {
		if op.Tag == "op" && ValidInterval(cib.Attr(op, "interval")) && IntervalMS(cib.Attr(op, "interval")) > 0 {
			key := cib.Attr(op, "name") + "/" + strconv.FormatInt(IntervalMS(cib.Attr(op, "interval")), 10)
			if prev, dup := seen[key]; dup {
				k.errorf(op, "op %q of %q has the same name and interval as op %q; use each combination once", cib.ID(op), cib.ID(r), cib.ID(prev))
			}
			seen[key] = op
		}
		if op.Tag != "op" {
			k.errorf(op, "<operations> cannot hold <%s> (expected op)", op.Tag)
			continue
		}
		if cib.HasAttr(op, "id-ref") {
			continue
		}
		k.attrs(op)
		need(k, op, "id", "name", "interval")
		oid := cib.ID(op)
		if v := cib.Attr(op, "interval"); cib.HasAttr(op, "interval") && !ValidInterval(v) {
			k.errorf(op, "op %q of %q: interval=%q is not a time (e.g. 0, 10s, 1min)", oid, cib.ID(r), v)
		}
		for _, a := range []string{"timeout", "start-delay", "interval-origin"} {
			if v := cib.Attr(op, a); cib.HasAttr(op, a) && a != "interval-origin" && !ValidInterval(v) {
				k.errorf(op, "op %q of %q: %s=%q is not a time (e.g. 20s)", oid, cib.ID(r), a, v)
			}
		}
		if v := cib.Attr(op, "role"); v != "" && !oneOf(v, roles...) {
			k.errorf(op, "op %q of %q: role=%q: use one of %s", oid, cib.ID(r), v, strings.Join(roles, ", "))
		}
		if v := cib.Attr(op, "on-fail"); v != "" && !oneOf(v, "ignore", "block", "stop", "restart", "standby", "fence", "demote", "restart-container") {
			k.errorf(op, "op %q of %q: on-fail=%q: use ignore, block, stop, restart, standby, fence or demote", oid, cib.ID(r), v)
		}
		for _, s := range op.ChildElements() {
			if s.Tag == "meta_attributes" || s.Tag == "instance_attributes" {
				k.checkNVSet(s)
			}
		}
	}
}

func (k *checker) checkTags(t *etree.Element) {
	for _, tag := range t.ChildElements() {
		if tag.Tag != "tag" {
			k.errorf(tag, "<tags> cannot hold <%s>", tag.Tag)
			continue
		}
		need(k, tag, "id")
		k.tags[cib.ID(tag)] = tag
		for _, ref := range tag.ChildElements() {
			if ref.Tag != "obj_ref" {
				k.errorf(ref, "<tag> cannot hold <%s> (expected obj_ref)", ref.Tag)
				continue
			}
			if _, ok := k.ids[cib.ID(ref)]; !ok {
				k.errorf(ref, "tag %q refers to %q, which does not exist", cib.ID(tag), cib.ID(ref))
			}
		}
	}
}

func (k *checker) rsc(e *etree.Element, attr, what string) {
	v := cib.Attr(e, attr)
	if v == "" {
		return
	}
	if cl, ok := k.cloneChild[v]; ok {
		k.errorf(e, "%s %q: %s=%q is inside clone %q; constraints must name the clone", what, cib.ID(e), attr, v, cl)
		return
	}
	if _, ok := k.rscs[v]; ok {
		return
	}
	if _, ok := k.tags[v]; ok {
		return
	}
	k.errorf(e, "%s %q: %s=%q is not a resource (or tag) of this CIB", what, cib.ID(e), attr, v)
}

func (k *checker) checkSetsOf(e *etree.Element, what string) int {
	n := 0
	for _, s := range e.ChildElements() {
		switch s.Tag {
		case "resource_set":
			n++
			k.attrs(s)
			need(k, s, "id")
			for _, ref := range s.ChildElements() {
				if ref.Tag != "resource_ref" {
					k.errorf(ref, "<resource_set> cannot hold <%s>", ref.Tag)
					continue
				}
				need(k, ref, "id")
				k.attrs(ref)
				k.rsc(ref, "id", what+" "+cib.ID(e)+" set member")
			}
			if sc := cib.Attr(s, "score"); sc != "" && !validScore(sc) {
				k.errorf(s, "resource_set %q: score=%q is not a score", cib.ID(s), sc)
			}
			if r := cib.Attr(s, "role"); r != "" && !oneOf(r, roles...) {
				k.errorf(s, "resource_set %q: role=%q: use one of %s", cib.ID(s), r, strings.Join(roles, ", "))
			}
		case "rule":
			if what != "rsc_location" {
				k.errorf(s, "%s %q cannot hold <rule>", what, cib.ID(e))
			}
		default:
			k.errorf(s, "%s %q cannot hold <%s>", what, cib.ID(e), s.Tag)
		}
	}
	return n
}

func (k *checker) checkConstraint(e *etree.Element) {
	if !need(k, e, "id") {
		return
	}
	k.attrs(e)
	id := cib.ID(e)
	score := func() {
		if sc := cib.Attr(e, "score"); cib.HasAttr(e, "score") && !validScore(sc) {
			k.errorf(e, "%s %q: score=%q is not a score (an integer, INFINITY or -INFINITY)", e.Tag, id, sc)
		}
	}
	role := func(attrs ...string) {
		for _, a := range attrs {
			if v := cib.Attr(e, a); v != "" && !oneOf(v, roles...) {
				k.errorf(e, "%s %q: %s=%q: use one of %s", e.Tag, id, a, v, strings.Join(roles, ", "))
			}
		}
	}
	switch e.Tag {
	case "rsc_location":
		sets := k.checkSetsOf(e, "rsc_location")
		rules := 0
		for _, ch := range e.ChildElements() {
			if ch.Tag == "rule" {
				rules++
				k.checkRule(ch)
			}
		}
		if !cib.HasAttr(e, "rsc") && !cib.HasAttr(e, "rsc-pattern") && sets == 0 {
			k.errorf(e, "rsc_location %q names no resource (rsc, rsc-pattern or a resource_set)", id)
		}
		k.rsc(e, "rsc", "rsc_location")
		if rules == 0 {
			if !cib.HasAttr(e, "node") {
				k.errorf(e, "rsc_location %q has neither node+score nor a rule", id)
			} else {
				if !cib.HasAttr(e, "score") && !cib.HasAttr(e, "score-attribute") {
					k.errorf(e, "rsc_location %q has a node but no score", id)
				}
				if n := cib.Attr(e, "node"); len(k.nodes) > 0 && k.nodes[n] == nil {
					k.warnf(e, "rsc_location %q: node %q is not in <nodes>", id, n)
				}
			}
		} else if cib.HasAttr(e, "node") {
			k.errorf(e, "rsc_location %q has both node and a rule; use one", id)
		}
		score()
		role("role")
	case "rsc_colocation":
		sets := k.checkSetsOf(e, "rsc_colocation")
		if sets == 0 {
			need(k, e, "rsc", "with-rsc")
			k.rsc(e, "rsc", "rsc_colocation")
			k.rsc(e, "with-rsc", "rsc_colocation")
			if cib.Attr(e, "rsc") != "" && cib.Attr(e, "rsc") == cib.Attr(e, "with-rsc") && cib.Attr(e, "rsc-role") == cib.Attr(e, "with-rsc-role") {
				k.errorf(e, "rsc_colocation %q colocates %q with itself", id, cib.Attr(e, "rsc"))
			}
		}
		score()
		role("rsc-role", "with-rsc-role")
	case "rsc_order":
		sets := k.checkSetsOf(e, "rsc_order")
		if sets == 0 {
			need(k, e, "first", "then")
			k.rsc(e, "first", "rsc_order")
			k.rsc(e, "then", "rsc_order")
			if cib.Attr(e, "first") != "" && cib.Attr(e, "first") == cib.Attr(e, "then") && cib.Attr(e, "first-action") == cib.Attr(e, "then-action") {
				k.errorf(e, "rsc_order %q orders %q after itself", id, cib.Attr(e, "first"))
			}
		}
		if v := cib.Attr(e, "kind"); v != "" && !oneOf(v, "Optional", "Mandatory", "Serialize") {
			k.errorf(e, "rsc_order %q: kind=%q: use Mandatory, Optional or Serialize", id, v)
		}
		for _, a := range []string{"first-action", "then-action"} {
			if v := cib.Attr(e, a); v != "" && !oneOf(v, "start", "promote", "demote", "stop") {
				k.errorf(e, "rsc_order %q: %s=%q: use start, stop, promote or demote", id, a, v)
			}
		}
		score()
	case "rsc_ticket":
		k.checkSetsOf(e, "rsc_ticket")
		need(k, e, "ticket")
		k.rsc(e, "rsc", "rsc_ticket")
	default:
		k.errorf(e, "<%s> is not a constraint (expected rsc_location, rsc_colocation, rsc_order or rsc_ticket)", e.Tag)
	}
}

func (k *checker) checkFencing(conf *etree.Element) {
	// templates used by primitives
	for key, r := range k.rscs {
		if !strings.HasPrefix(key, "\x00tpl-user\x00") {
			continue
		}
		t := k.rscs[cib.Attr(r, "template")]
		if t == nil || t.Tag != "template" {
			k.errorf(r, "primitive %q: template=%q is not a template of this CIB", cib.ID(r), cib.Attr(r, "template"))
		}
	}
	for key := range k.rscs {
		if strings.HasPrefix(key, "\x00") {
			delete(k.rscs, key)
		}
	}
	stonith := true
	if v, ok := k.enabled["stonith-enabled"]; ok {
		stonith = isTrue(v)
	}
	res := cib.Child(conf, "resources")
	if stonith && k.stonith == 0 && res != nil && len(res.ChildElements()) > 0 {
		k.add(Error, res, "fencing is enabled (stonith-enabled=true, the default) but no fence device (class stonith) is configured: no resource will start; configure one, or set stonith-enabled=false if you accept the risk")
		k.r.Findings[len(k.r.Findings)-1].Cluster = true
	}
	if !stonith && k.replicas && len(k.nodes) == 2 {
		k.warnf(res, "fencing is disabled in a two-node cluster with a replicated device: after a split, both nodes can become primary and the data diverge; configure a fence device and stonith-enabled=true")
	}
}

func (k *checker) checkStatus(st *etree.Element) {
	for _, ns := range st.ChildElements() {
		if ns.Tag != "node_state" {
			continue
		}
		if !cib.HasAttr(ns, "id") {
			k.errorf(ns, "<node_state> has no id")
			continue
		}
		if len(k.nodeIDs) > 0 && k.nodeIDs[cib.ID(ns)] == nil {
			k.warnf(ns, "node_state %q (%s) is for a node that is not in <nodes>", cib.ID(ns), cib.Attr(ns, "uname"))
		}
		lrm := cib.Child(ns, "lrm")
		if lrm == nil {
			continue
		}
		rs := cib.Child(lrm, "lrm_resources")
		if rs == nil {
			continue
		}
		for _, lr := range rs.ChildElements() {
			for _, op := range lr.ChildElements() {
				if op.Tag != "lrm_rsc_op" {
					continue
				}
				rc, st := cib.Attr(op, "rc-code"), cib.Attr(op, "op-status")
				if strings.HasSuffix(cib.ID(op), "_last_failure_0") && rc != "" && (rc != "0" && rc != "7" && rc != "8" || st != "0" && st != "") {
					k.warnf(op, "resource %q failed %s on node %s (rc=%s, op-status=%s); clear it with hb-resource --cleanup", cib.ID(lr), cib.Attr(op, "operation"), cib.Attr(ns, "uname"), rc, st)
				}
			}
		}
	}
}

// ErrInvalid is returned by callers that refuse a document.
var ErrInvalid = errors.New("invalid CIB")
