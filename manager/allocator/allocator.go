package allocator

import (
	"cmp"
	"net/netip"
	"slices"
)

// Config is the cluster's address settings, as swarm init takes them; the leader fills it
// from the cluster object (swarm.ClusterInfo's DefaultAddrPool and SubnetSize).
type Config struct {
	// DefaultAddrPool is where network subnets come from (--default-addr-pool);
	// 10.0.0.0/8 when empty.
	DefaultAddrPool []netip.Prefix
	// SubnetSize is the prefix length of each network cut from the pool
	// (--default-addr-pool-mask-length); 24 when 0.
	SubnetSize uint32
}

// Allocator is the leader's record of subnets, addresses and published ports. The zero
// value is not usable; call New, then Rebuild with the cluster state.
type Allocator struct {
	cfg      Config
	pool     *Pool
	networks map[string]*addressSpace // by network ID
	ports    portTable
}

// New makes an empty allocator, or says what is wrong with the config.
func New(cfg Config) (*Allocator, error) {
	pool, err := NewPool(cfg.DefaultAddrPool, cfg.SubnetSize)
	if err != nil {
		return nil, err
	}
	return &Allocator{cfg: cfg, pool: pool, networks: map[string]*addressSpace{}, ports: newPortTable()}, nil
}

// NetworkRequest asks for a network's subnet and gateway.
type NetworkRequest struct {
	ID   string
	Name string // for messages
	// Subnet is the user's --subnet; the zero value means the next free subnet of the pool.
	Subnet netip.Prefix
	// Gateway is the user's --gateway, only with Subnet; the zero value means the first
	// usable address of the subnet.
	Gateway netip.Addr
}

// Network is what the allocator holds for a network.
type Network struct {
	ID, Name string
	Subnet   netip.Prefix
	Gateway  netip.Addr
}

// AddNetwork gives a network its subnet and gateway: the user's, checked, or the next
// free subnet of the pool with its first usable address as gateway. It is idempotent: a
// network already added gets its record back, as long as the request does not ask for a
// different subnet or gateway.
func (a *Allocator) AddNetwork(req NetworkRequest) (Network, error) {
	if req.ID == "" {
		return Network{}, errorf(ErrInvalid, "a network needs an ID")
	}
	if err := ValidateSubnet(req.Subnet, req.Gateway); err != nil {
		return Network{}, err
	}
	if s, ok := a.networks[req.ID]; ok {
		if (req.Subnet.IsValid() && req.Subnet != s.subnet) || (req.Gateway.IsValid() && req.Gateway != s.gatewayAddr()) {
			return Network{}, errorf(ErrConflict, "network %s already has subnet %s with gateway %s", s.label(), s.subnet, s.gatewayAddr())
		}
		return s.network(), nil
	}
	subnet := req.Subnet
	if subnet.IsValid() {
		if err := a.pool.Claim(req.ID, req.Name, subnet); err != nil {
			return Network{}, err
		}
	} else {
		var err error
		if subnet, err = a.pool.Allocate(req.ID, req.Name); err != nil {
			return Network{}, err
		}
	}
	s := newAddressSpace(req.ID, req.Name, subnet, req.Gateway)
	a.networks[req.ID] = s
	return s.network(), nil
}

// RemoveNetwork gives the network's subnet back to the pool and forgets every address on
// it. Refusing `network rm` while services or tasks use the network is the API's job; by
// the time the leader calls this, nothing may keep an address there. Removing an unknown
// network is a no-op.
func (a *Allocator) RemoveNetwork(id string) {
	delete(a.networks, id)
	a.pool.Release(id)
}

// Network returns what the allocator holds for the network.
func (a *Allocator) Network(id string) (Network, bool) {
	s, ok := a.networks[id]
	if !ok {
		return Network{}, false
	}
	return s.network(), true
}

// Networks returns every network the allocator holds, by subnet.
func (a *Allocator) Networks() []Network {
	out := make([]Network, 0, len(a.networks))
	for _, s := range a.networks {
		out = append(out, s.network())
	}
	slices.SortFunc(out, func(x, y Network) int {
		if c := x.Subnet.Addr().Compare(y.Subnet.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(x.ID, y.ID)
	})
	return out
}

func (s *addressSpace) network() Network {
	return Network{ID: s.id, Name: s.name, Subnet: s.subnet, Gateway: s.gatewayAddr()}
}

// Allocate returns the owner's address on the network, handing out a free one if it has
// none: the next after the network's round-robin cursor, so that a released address comes
// back only after every other free one has had its turn. The same owner always gets the
// same address until it releases it.
func (a *Allocator) Allocate(network, owner string) (netip.Addr, error) {
	s, err := a.space(network)
	if err != nil {
		return netip.Addr{}, err
	}
	return s.allocate(owner)
}

// Reserve gives the owner a particular address on the network (an address kept from
// before, or a user's --ip on an attachable network), if it is a host address of the
// subnet, not the gateway, and nobody else holds it. Reserving what the owner already
// holds is a no-op; an owner holds at most one address per network.
func (a *Allocator) Reserve(network, owner string, addr netip.Addr) error {
	s, err := a.space(network)
	if err != nil {
		return err
	}
	return s.reserve(owner, addr)
}

// Release frees the owner's address on the network, if it holds one there.
func (a *Allocator) Release(network, owner string) {
	if s, ok := a.networks[network]; ok {
		s.release(owner)
	}
}

// Address returns the owner's address on the network, if it holds one.
func (a *Allocator) Address(network, owner string) (netip.Addr, bool) {
	s, ok := a.networks[network]
	if !ok {
		return netip.Addr{}, false
	}
	o, ok := s.owners[owner]
	if !ok {
		return netip.Addr{}, false
	}
	return s.addr(o), true
}

// Cursor returns the address the network's next allocation tries first. A leader that
// keeps it, and hands it back in NetworkState.Cursor, gets a rebuilt allocator that goes
// on exactly where this one stood.
func (a *Allocator) Cursor(network string) (netip.Addr, bool) {
	s, ok := a.networks[network]
	if !ok {
		return netip.Addr{}, false
	}
	return s.addr(s.cursor), true
}

func (a *Allocator) space(network string) (*addressSpace, error) {
	s, ok := a.networks[network]
	if !ok {
		return nil, errorf(ErrNotFound, "network %q is not known to the allocator", network)
	}
	return s, nil
}

// ReservePort publishes an ingress-mode port for a service (owner: the service's name),
// unless another service has it for the same protocol. proto is tcp, udp or sctp (empty
// means tcp). Reserving a port the owner already has is a no-op. Host-mode ports do not
// come here: they bind only where a task runs, and the scheduler places them.
func (a *Allocator) ReservePort(proto string, port uint32, owner string) error {
	return a.ports.reserve(proto, port, owner)
}

// AutoPort publishes a free port of 30000–32767 for the owner, the next after the
// protocol's round-robin cursor. Each call publishes another port: a service update keeps
// the ports it has by reserving them again by number.
func (a *Allocator) AutoPort(proto, owner string) (uint32, error) {
	return a.ports.auto(proto, owner)
}

// ReleasePort unpublishes one of the owner's ports; a port the owner does not have is
// left alone.
func (a *Allocator) ReleasePort(proto string, port uint32, owner string) {
	a.ports.release(proto, port, owner)
}

// ReleasePorts unpublishes every port of the owner, as when its service is removed.
func (a *Allocator) ReleasePorts(owner string) {
	a.ports.releaseAll(owner)
}

// Ports returns the owner's published ports, by protocol then number.
func (a *Allocator) Ports(owner string) []Port {
	return a.ports.of(owner)
}

// PortOwner returns who published the port.
func (a *Allocator) PortOwner(proto string, port uint32) (string, bool) {
	proto, err := normalizeProtocol(proto)
	if err != nil {
		return "", false
	}
	owner, ok := a.ports.owners[Port{proto, port}]
	return owner, ok
}

// NextAutoPort returns the port the protocol's next AutoPort tries first; see Cursor.
func (a *Allocator) NextAutoPort(proto string) uint32 {
	proto, err := normalizeProtocol(proto)
	if err != nil {
		return 0
	}
	return a.ports.nextAuto(proto)
}
