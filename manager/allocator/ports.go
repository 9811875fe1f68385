package allocator

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// The range auto-assigned published ports come from, as in the reference.
const (
	AutoPortFirst = 30000
	AutoPortLast  = 32767
)

// Port is a published port of the routing mesh.
type Port struct {
	Protocol string // tcp, udp or sctp
	Port     uint32
}

func (p Port) String() string { return fmt.Sprintf("%d/%s", p.Port, p.Protocol) }

// portTable holds the cluster's ingress-mode published ports: one owner per port and
// protocol, since every node listens on every one of them.
type portTable struct {
	owners  map[Port]string
	byOwner map[string]map[Port]struct{}
	next    map[string]uint32 // per protocol: where the next automatic search starts
}

func newPortTable() portTable {
	return portTable{owners: map[Port]string{}, byOwner: map[string]map[Port]struct{}{}, next: map[string]uint32{}}
}

// normalizeProtocol accepts the protocols swarm publishes, in any case; empty means tcp,
// as in swarm.
func normalizeProtocol(proto string) (string, error) {
	switch p := strings.ToLower(proto); p {
	case "":
		return "tcp", nil
	case "tcp", "udp", "sctp":
		return p, nil
	}
	return "", errorf(ErrInvalid, "invalid protocol %q: must be tcp, udp or sctp", proto)
}

func (t *portTable) reserve(proto string, port uint32, owner string) error {
	proto, err := normalizeProtocol(proto)
	if err != nil {
		return err
	}
	if port == 0 || port > 65535 {
		return errorf(ErrInvalid, "invalid published port %d: must be from 1 to 65535", port)
	}
	if owner == "" {
		return errorf(ErrInvalid, "published port %d/%s needs an owner", port, proto)
	}
	p := Port{proto, port}
	if other, ok := t.owners[p]; ok {
		if other == owner {
			return nil
		}
		return errorf(ErrConflict, "port %s is already published by service %s", p, other)
	}
	t.hold(p, owner)
	return nil
}

func (t *portTable) auto(proto, owner string) (uint32, error) {
	proto, err := normalizeProtocol(proto)
	if err != nil {
		return 0, err
	}
	if owner == "" {
		return 0, errorf(ErrInvalid, "an automatic %s port needs an owner", proto)
	}
	start := t.nextAuto(proto)
	for i := range uint32(AutoPortLast - AutoPortFirst + 1) {
		port := AutoPortFirst + (start-AutoPortFirst+i)%(AutoPortLast-AutoPortFirst+1)
		p := Port{proto, port}
		if _, taken := t.owners[p]; taken {
			continue
		}
		t.hold(p, owner)
		t.next[proto] = port + 1
		if port == AutoPortLast {
			t.next[proto] = AutoPortFirst
		}
		return port, nil
	}
	return 0, errorf(ErrExhausted, "no %s port is free in the automatic range %d-%d; publish one explicitly or release some", proto, AutoPortFirst, AutoPortLast)
}

func (t *portTable) nextAuto(proto string) uint32 {
	if n, ok := t.next[proto]; ok {
		return n
	}
	return AutoPortFirst
}

// setNextAuto places the protocol's cursor on a port of the automatic range; anything else
// puts it right after the highest automatic-range port in use.
func (t *portTable) setNextAuto(proto string, port uint32) {
	if port >= AutoPortFirst && port <= AutoPortLast {
		t.next[proto] = port
		return
	}
	next := uint32(AutoPortFirst)
	for p := range t.owners {
		if p.Protocol == proto && p.Port >= AutoPortFirst && p.Port <= AutoPortLast {
			next = max(next, p.Port+1)
		}
	}
	if next > AutoPortLast {
		next = AutoPortFirst
	}
	t.next[proto] = next
}

func (t *portTable) hold(p Port, owner string) {
	t.owners[p] = owner
	if t.byOwner[owner] == nil {
		t.byOwner[owner] = map[Port]struct{}{}
	}
	t.byOwner[owner][p] = struct{}{}
}

func (t *portTable) release(proto string, port uint32, owner string) {
	proto, err := normalizeProtocol(proto)
	if err != nil {
		return
	}
	p := Port{proto, port}
	if held, ok := t.owners[p]; !ok || held != owner {
		return
	}
	delete(t.owners, p)
	delete(t.byOwner[owner], p)
	if len(t.byOwner[owner]) == 0 {
		delete(t.byOwner, owner)
	}
}

func (t *portTable) releaseAll(owner string) {
	for p := range t.byOwner[owner] {
		delete(t.owners, p)
	}
	delete(t.byOwner, owner)
}

// of returns the owner's ports, sorted by protocol then number.
func (t *portTable) of(owner string) []Port {
	out := make([]Port, 0, len(t.byOwner[owner]))
	for p := range t.byOwner[owner] {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Port) int {
		if c := cmp.Compare(a.Protocol, b.Protocol); c != 0 {
			return c
		}
		return cmp.Compare(a.Port, b.Port)
	})
	return out
}
