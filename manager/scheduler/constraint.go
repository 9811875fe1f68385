package scheduler

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/moby/moby/api/types/swarm"
)

// Operator is how a constraint compares a node attribute with its value.
type Operator int

const (
	// Equal is "==": the attribute must equal the value.
	Equal Operator = iota
	// NotEqual is "!=": the attribute must differ from the value.
	NotEqual
)

func (o Operator) String() string {
	if o == NotEqual {
		return "!="
	}
	return "=="
}

// attrKind names one node attribute a constraint or a spread preference can read.
type attrKind int

const (
	attrNodeID attrKind = iota
	attrHostname
	attrRole
	attrIP
	attrOS
	attrArch
	attrNodeLabel
	attrEngineLabel
)

const (
	nodeLabelPrefix   = "node.labels."
	engineLabelPrefix = "engine.labels."
)

// constraintKeys is the list every malformed-constraint message shows.
const constraintKeys = "node.id, node.hostname, node.role, node.ip, node.platform.os, node.platform.arch, node.labels.<name>, engine.labels.<name>"

var fixedKeys = map[string]attrKind{
	"node.id":            attrNodeID,
	"node.hostname":      attrHostname,
	"node.role":          attrRole,
	"node.ip":            attrIP,
	"node.platform.os":   attrOS,
	"node.platform.arch": attrArch,
}

var labelKeys = []struct {
	prefix string
	kind   attrKind
}{{nodeLabelPrefix, attrNodeLabel}, {engineLabelPrefix, attrEngineLabel}}

// attribute is a parsed key: which node attribute, and for labels which label.
type attribute struct {
	kind  attrKind
	label string // label name, case kept: label names are case-sensitive
}

// parseAttribute reads a key such as "node.labels.zone". Fixed keys and the label prefixes
// are case-insensitive; the label name is taken as written.
func parseAttribute(key string) (attribute, bool) {
	lower := strings.ToLower(key)
	if kind, ok := fixedKeys[lower]; ok {
		return attribute{kind: kind}, true
	}
	for _, l := range labelKeys {
		if strings.HasPrefix(lower, l.prefix) && len(key) > len(l.prefix) {
			return attribute{kind: l.kind, label: key[len(l.prefix):]}, true
		}
	}
	return attribute{}, false
}

// canonical is the key as String prints it: lower-case except the label name.
func (a attribute) canonical() string {
	switch a.kind {
	case attrNodeLabel:
		return nodeLabelPrefix + a.label
	case attrEngineLabel:
		return engineLabelPrefix + a.label
	}
	for k, kind := range fixedKeys {
		if kind == a.kind {
			return k
		}
	}
	return "?"
}

// value is the node's value for the attribute; a missing label or description reads as "".
func (a attribute) value(n *swarm.Node) string {
	switch a.kind {
	case attrNodeID:
		return n.ID
	case attrHostname:
		return n.Description.Hostname
	case attrRole:
		return string(n.Spec.Role)
	case attrIP:
		return n.Status.Addr
	case attrOS:
		return n.Description.Platform.OS
	case attrArch:
		return n.Description.Platform.Architecture
	case attrNodeLabel:
		return n.Spec.Labels[a.label]
	case attrEngineLabel:
		return n.Description.Engine.Labels[a.label]
	}
	return ""
}

// Constraint is one parsed placement constraint, such as node.labels.zone==eu-1.
// Every constraint of a task must hold on a node for the task to go there.
type Constraint struct {
	// Key is the attribute, normalised: node.id, node.hostname, node.role, node.ip,
	// node.platform.os, node.platform.arch, node.labels.NAME or engine.labels.NAME.
	Key   string
	Op    Operator
	Value string

	attr   attribute
	prefix netip.Prefix // node.ip only: the address (as a /32 or /128) or the network
}

func (c Constraint) String() string { return c.Key + c.Op.String() + c.Value }

// ParseConstraints parses constraints as `docker service create --constraint` takes them:
// KEY==VALUE or KEY!=VALUE. Keys are case-insensitive apart from label names; values are
// compared case-insensitively, as the reference does; node.ip takes an address or a CIDR.
func ParseConstraints(exprs []string) ([]Constraint, error) {
	out := make([]Constraint, 0, len(exprs))
	for _, e := range exprs {
		c, err := ParseConstraint(e)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// ValidateConstraints checks constraints without keeping them (for API validation).
func ValidateConstraints(exprs []string) error {
	_, err := ParseConstraints(exprs)
	return err
}

// ParseConstraint parses one constraint; see ParseConstraints.
func ParseConstraint(expr string) (Constraint, error) {
	malformed := fmt.Errorf("invalid constraint %q: must be KEY==VALUE or KEY!=VALUE; keys: %s", expr, constraintKeys)
	at, op := -1, Equal
	if i := strings.Index(expr, "=="); i >= 0 {
		at = i
	}
	if i := strings.Index(expr, "!="); i >= 0 && (at < 0 || i < at) {
		at, op = i, NotEqual
	}
	if at < 0 {
		return Constraint{}, malformed
	}
	key := strings.TrimSpace(expr[:at])
	value := strings.TrimSpace(expr[at+2:])
	if key == "" {
		return Constraint{}, malformed
	}
	if value == "" {
		return Constraint{}, fmt.Errorf("invalid constraint %q: missing value after %q", expr, op.String())
	}
	if strings.ContainsAny(value, "=!<>~") {
		return Constraint{}, fmt.Errorf("invalid constraint %q: value %q may not contain =, !, <, > or ~", expr, value)
	}
	attr, ok := parseAttribute(key)
	if !ok || strings.ContainsAny(key, " \t") {
		return Constraint{}, fmt.Errorf("invalid constraint %q: unknown key %q; keys: %s", expr, key, constraintKeys)
	}
	c := Constraint{Key: attr.canonical(), Op: op, Value: value, attr: attr}
	switch attr.kind {
	case attrIP:
		p, err := parseIPOrCIDR(value)
		if err != nil {
			return Constraint{}, fmt.Errorf("invalid constraint %q: node.ip takes an IP address or a CIDR such as 10.0.0.0/24, not %q", expr, value)
		}
		c.prefix = p
	case attrRole:
		if !strings.EqualFold(value, string(swarm.NodeRoleManager)) && !strings.EqualFold(value, string(swarm.NodeRoleWorker)) {
			return Constraint{}, fmt.Errorf("invalid constraint %q: node.role is manager or worker, not %q", expr, value)
		}
	}
	return c, nil
}

func parseIPOrCIDR(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()).Masked(), nil
}

// nodeAddr reads a node's address, tolerating a port after it.
func nodeAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// Match reports whether the node satisfies the constraint. A node without the attribute
// (no such label, no address) has the empty value: == fails and != holds.
func (c Constraint) Match(n *swarm.Node) bool {
	var equal bool
	if c.attr.kind == attrIP {
		a, ok := nodeAddr(n.Status.Addr)
		equal = ok && c.prefix.IsValid() && c.prefix.Contains(a)
	} else {
		equal = strings.EqualFold(c.attr.value(n), c.Value)
	}
	return equal == (c.Op == Equal)
}

// MatchAll reports whether every constraint holds on the node.
func MatchAll(cs []Constraint, n *swarm.Node) bool {
	for _, c := range cs {
		if !c.Match(n) {
			return false
		}
	}
	return true
}

// ValidateSpread checks a placement preference's spread descriptor, such as
// node.labels.zone; it takes the same keys as constraints.
func ValidateSpread(descriptor string) error {
	if _, ok := parseAttribute(strings.TrimSpace(descriptor)); !ok {
		return fmt.Errorf("invalid placement preference spread=%q: must be one of %s", descriptor, constraintKeys)
	}
	return nil
}
