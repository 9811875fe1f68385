package allocator

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
)

// State is what a new leader reads from its store to rebuild the allocator: every
// allocated network, every service with its VIPs and published ports, every task that
// still holds addresses. The package documentation shows how the swarm objects map in.
type State struct {
	Networks []NetworkState
	Services []ServiceState
	Tasks    []TaskState
	// NextAutoPort optionally carries Allocator.NextAutoPort per protocol from the old
	// leader; without it, automatic ports continue after the highest one in use.
	NextAutoPort map[string]uint32
}

// NetworkState is an allocated network.
type NetworkState struct {
	ID, Name string
	Subnet   netip.Prefix
	Gateway  netip.Addr // the zero value means the first usable address
	// Cursor optionally carries Allocator.Cursor from the old leader; without it, the
	// next allocation goes after the highest address in use.
	Cursor netip.Addr
}

// ServiceState is a service's allocated endpoint.
type ServiceState struct {
	ID, Name string
	VIPs     []Attachment
	Ports    []PublishedPort
}

// TaskState is a task's addresses.
type TaskState struct {
	ID        string
	Addresses []Attachment
}

// Attachment is one address on one network.
type Attachment struct {
	Network string       // network ID
	Addr    netip.Prefix // CIDR form as swarm stores it ("10.0.1.5/24"); only the address counts
}

// PublishedPort is a port a service publishes.
type PublishedPort struct {
	Protocol string // tcp, udp or sctp; empty means tcp
	Port     uint32
	Mode     string // ingress (or empty) or host; host-mode ports are not the allocator's
}

// Rebuild replaces everything the allocator holds with the state, and reports what it
// could not take as it was. It is deterministic: networks, services and tasks are taken in
// ID order whatever order they come in, services before tasks (a VIP is what clients know
// a service by, while a task can be replaced), so when two records claim one address or
// port the first in that order keeps it and the other gets a Problem. Nothing is ever
// recorded for two holders. Networks whose subnets overlap are both kept (their tasks have
// their addresses either way) but reported; a new network never gets a subnet that
// overlaps either.
func (a *Allocator) Rebuild(s State) []Problem {
	a.pool, _ = NewPool(a.cfg.DefaultAddrPool, a.cfg.SubnetSize) // checked by New
	a.networks = map[string]*addressSpace{}
	a.ports = newPortTable()

	r := rebuild{a: a, kinds: map[string]string{}}
	r.networks(s.Networks)
	r.services(s.Services)
	r.tasks(s.Tasks)

	for _, ns := range s.Networks {
		if sp, ok := a.networks[ns.ID]; ok {
			sp.setCursor(ns.Cursor)
		}
	}
	for _, proto := range []string{"tcp", "udp", "sctp"} {
		a.ports.setNextAuto(proto, s.NextAutoPort[proto])
	}
	return r.problems
}

// rebuild carries one Rebuild's progress.
type rebuild struct {
	a        *Allocator
	kinds    map[string]string // owner ID → "service" or "task", for messages
	problems []Problem
}

func (r *rebuild) report(kind, id, network string, err error) {
	r.problems = append(r.problems, Problem{Kind: kind, ID: id, Network: network, Err: err})
}

func (r *rebuild) networks(list []NetworkState) {
	list = slices.Clone(list)
	slices.SortStableFunc(list, func(x, y NetworkState) int { return cmp.Compare(x.ID, y.ID) })
	for _, n := range list {
		switch {
		case n.ID == "":
			r.report("network", n.ID, "", errorf(ErrInvalid, "network %q has no ID", n.Name))
			continue
		case r.a.networks[n.ID] != nil:
			r.report("network", n.ID, n.ID, errorf(ErrConflict, "network %s is listed twice", label(n.ID, n.Name)))
			continue
		case !n.Subnet.IsValid():
			r.report("network", n.ID, n.ID, errorf(ErrInvalid, "network %s has no subnet recorded; leave it out of the state and add it after Rebuild", label(n.ID, n.Name)))
			continue
		}
		if err := ValidateSubnet(n.Subnet, n.Gateway); err != nil {
			r.report("network", n.ID, n.ID, errorf(ErrInvalid, "network %s: %v", label(n.ID, n.Name), err))
			continue
		}
		if err := r.a.pool.overlap(n.ID, n.Subnet); err != nil {
			r.report("network", n.ID, n.ID, errorf(ErrConflict, "network %s: %v", label(n.ID, n.Name), err))
		}
		// Recorded even when it overlaps: forgetting it would let its addresses be
		// handed out again and its subnet be cut for yet another network.
		r.a.pool.subnets[n.ID] = poolEntry{id: n.ID, name: n.Name, subnet: n.Subnet}
		r.a.networks[n.ID] = newAddressSpace(n.ID, n.Name, n.Subnet, n.Gateway)
	}
}

func (r *rebuild) services(list []ServiceState) {
	list = slices.Clone(list)
	slices.SortStableFunc(list, func(x, y ServiceState) int { return cmp.Compare(x.ID, y.ID) })
	names := map[string]string{} // port owner → service ID
	for _, svc := range list {
		if !r.claimOwner("service", svc.ID) {
			continue
		}
		for _, v := range sortedAttachments(svc.VIPs) {
			r.address("service", svc.ID, v)
		}
		owner := label(svc.ID, svc.Name)
		if first, dup := names[owner]; dup {
			r.report("service", svc.ID, "", errorf(ErrConflict, "service name %s is also service %s's; its published ports were not recorded", owner, first))
			continue
		}
		names[owner] = svc.ID
		for _, p := range svc.Ports {
			switch strings.ToLower(p.Mode) {
			case "host":
				continue
			case "", "ingress":
			default:
				r.report("service", svc.ID, "", errorf(ErrInvalid, "published port %d/%s has publish mode %q; want ingress or host", p.Port, p.Protocol, p.Mode))
				continue
			}
			if err := r.a.ports.reserve(p.Protocol, p.Port, owner); err != nil {
				r.report("service", svc.ID, "", err)
			}
		}
	}
}

func (r *rebuild) tasks(list []TaskState) {
	list = slices.Clone(list)
	slices.SortStableFunc(list, func(x, y TaskState) int { return cmp.Compare(x.ID, y.ID) })
	for _, t := range list {
		if !r.claimOwner("task", t.ID) {
			continue
		}
		for _, at := range sortedAttachments(t.Addresses) {
			r.address("task", t.ID, at)
		}
	}
}

// claimOwner makes sure an owner ID is used by one object only: the address tables know
// owners by ID alone, so a second object with the same ID would silently share them.
func (r *rebuild) claimOwner(kind, id string) bool {
	if id == "" {
		r.report(kind, id, "", errorf(ErrInvalid, "a %s without an ID", kind))
		return false
	}
	if other, dup := r.kinds[id]; dup {
		if other == kind {
			r.report(kind, id, "", errorf(ErrConflict, "%s %s is listed twice; only the first was recorded", kind, id))
			return false
		}
		r.report(kind, id, "", errorf(ErrConflict, "ID %s is also a %s's; none of this %s's addresses were recorded", id, other, kind))
		return false
	}
	r.kinds[id] = kind
	return true
}

// address records one VIP or task IP, or reports why it cannot.
func (r *rebuild) address(kind, id string, at Attachment) {
	sp, ok := r.a.networks[at.Network]
	if !ok {
		r.report(kind, id, at.Network, errorf(ErrNotFound, "address %s is on network %q, which is not allocated", at.Addr, at.Network))
		return
	}
	addr := at.Addr.Addr()
	if !addr.IsValid() {
		r.report(kind, id, at.Network, errorf(ErrInvalid, "an empty address on network %s", sp.label()))
		return
	}
	if addr.Is4() && sp.subnet.Contains(addr) {
		if holder, held := sp.holders[toU32(addr)-sp.base]; held && holder != id {
			r.report(kind, id, at.Network, errorf(ErrConflict, "address %s on network %s is also %s %s's", addr, sp.label(), r.kinds[holder], holder))
			return
		}
	}
	if err := sp.reserve(id, addr); err != nil {
		r.report(kind, id, at.Network, err)
	}
}

func sortedAttachments(list []Attachment) []Attachment {
	list = slices.Clone(list)
	slices.SortStableFunc(list, func(x, y Attachment) int {
		if c := cmp.Compare(x.Network, y.Network); c != 0 {
			return c
		}
		return x.Addr.Addr().Compare(y.Addr.Addr())
	})
	return list
}
