package allocator

import "net/netip"

// addressSpace is one network's IPAM: the gateway, the tasks' IPs and the services' VIPs
// all come out of the same subnet. Addresses are kept as offsets from the network address;
// offset 0 (network) and the broadcast address are never in range.
type addressSpace struct {
	id, name string
	subnet   netip.Prefix
	base     uint32            // the network address
	last     uint32            // the highest usable offset, just below broadcast
	gateway  uint32            // the gateway's offset; held in used, owned by nobody
	used     bitmap            // offsets held, the gateway's included
	owners   map[string]uint32 // owner → offset
	holders  map[uint32]string // offset → owner
	cursor   uint32            // where the next search starts, in [1, last]
}

// newAddressSpace expects a subnet and gateway that passed ValidateSubnet; a zero gateway
// means the first usable address.
func newAddressSpace(id, name string, subnet netip.Prefix, gateway netip.Addr) *addressSpace {
	first, broadcast := span(subnet)
	s := &addressSpace{
		id: id, name: name, subnet: subnet,
		base: first, last: broadcast - first - 1,
		gateway: 1,
		used:    newBitmap(),
		owners:  map[string]uint32{},
		holders: map[uint32]string{},
		cursor:  1,
	}
	if gateway.IsValid() {
		s.gateway = toU32(gateway) - first
	}
	s.used.add(s.gateway)
	return s
}

func (s *addressSpace) addr(offset uint32) netip.Addr { return fromU32(s.base + offset) }

func (s *addressSpace) gatewayAddr() netip.Addr { return s.addr(s.gateway) }

func (s *addressSpace) label() string { return label(s.id, s.name) }

// usable is how many addresses owners can hold: the subnet minus network, broadcast and
// gateway.
func (s *addressSpace) usable() uint64 { return uint64(s.last) - 1 }

// allocate returns the owner's address, handing out the next free one after the cursor if
// it has none yet.
func (s *addressSpace) allocate(owner string) (netip.Addr, error) {
	if owner == "" {
		return netip.Addr{}, errorf(ErrInvalid, "an address on network %s needs an owner", s.label())
	}
	if o, ok := s.owners[owner]; ok {
		return s.addr(o), nil
	}
	o, ok := s.used.firstFree(s.cursor, s.last)
	if !ok {
		o, ok = s.used.firstFree(1, s.last)
	}
	if !ok {
		return netip.Addr{}, errorf(ErrExhausted, "network %s (%s) has no free address: all %d are in use", s.label(), s.subnet, s.usable())
	}
	s.hold(owner, o)
	s.cursor = o + 1
	if s.cursor > s.last {
		s.cursor = 1
	}
	return s.addr(o), nil
}

// reserve gives the owner a particular address, if it is a host address of the subnet
// that nobody else holds. Reserving what the owner already holds is a no-op; the cursor
// does not move.
func (s *addressSpace) reserve(owner string, a netip.Addr) error {
	if owner == "" {
		return errorf(ErrInvalid, "an address on network %s needs an owner", s.label())
	}
	if !a.Is4() || !s.subnet.Contains(a) {
		return errorf(ErrInvalid, "address %s is outside network %s's subnet %s", a, s.label(), s.subnet)
	}
	o := toU32(a) - s.base
	switch {
	case o == 0:
		return errorf(ErrInvalid, "address %s is the network address of network %s's subnet %s", a, s.label(), s.subnet)
	case o == s.last+1:
		return errorf(ErrInvalid, "address %s is the broadcast address of network %s's subnet %s", a, s.label(), s.subnet)
	case o == s.gateway:
		return errorf(ErrConflict, "address %s is the gateway of network %s", a, s.label())
	}
	if held, ok := s.owners[owner]; ok {
		if held == o {
			return nil
		}
		return errorf(ErrConflict, "%s already holds %s on network %s", owner, s.addr(held), s.label())
	}
	if other, ok := s.holders[o]; ok {
		return errorf(ErrConflict, "address %s on network %s is already held by %s", a, s.label(), other)
	}
	s.hold(owner, o)
	return nil
}

func (s *addressSpace) hold(owner string, o uint32) {
	s.used.add(o)
	s.owners[owner] = o
	s.holders[o] = owner
}

// release frees the owner's address, if it holds one.
func (s *addressSpace) release(owner string) {
	o, ok := s.owners[owner]
	if !ok {
		return
	}
	delete(s.owners, owner)
	delete(s.holders, o)
	s.used.remove(o)
}

// setCursor places the cursor on an address of the subnet; anything else (including the
// zero Addr) puts it right after the highest address in use.
func (s *addressSpace) setCursor(a netip.Addr) {
	if a.Is4() && s.subnet.Contains(a) {
		if o := toU32(a) - s.base; o >= 1 && o <= s.last {
			s.cursor = o
			return
		}
	}
	highest := s.gateway
	for o := range s.holders {
		highest = max(highest, o)
	}
	s.cursor = highest + 1
	if s.cursor > s.last {
		s.cursor = 1
	}
}
