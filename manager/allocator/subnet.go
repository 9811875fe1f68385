package allocator

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Subnet rules. The pool's mask length stops at /29 as swarm's does (eight addresses: the
// smallest overlay worth cutting automatically); a user's --subnet may go to /30, the
// longest prefix that still leaves one address besides network, gateway and broadcast.
const (
	DefaultSubnetSize = 24
	maxPoolSubnetSize = 29
	maxSubnetBits     = 30
)

// DefaultAddrPool is the pool networks get their subnets from unless swarm init says
// otherwise.
var DefaultAddrPool = netip.MustParsePrefix("10.0.0.0/8")

// ParseSubnet reads the text of --subnet and --gateway (either may be empty) and checks it
// with ValidateSubnet. Errors name the flag and say what is allowed:
// `invalid --subnet "10.0.0.0/33": the prefix length must be a number from 0 to 30`.
func ParseSubnet(subnet, gateway string) (netip.Prefix, netip.Addr, error) {
	var p netip.Prefix
	if subnet != "" {
		addrText, bitsText, ok := strings.Cut(subnet, "/")
		if !ok {
			return netip.Prefix{}, netip.Addr{}, errorf(ErrInvalid, "invalid --subnet %q: missing the prefix length, as in 10.0.9.0/24", subnet)
		}
		a, err := netip.ParseAddr(addrText)
		if err != nil {
			return netip.Prefix{}, netip.Addr{}, errorf(ErrInvalid, "invalid --subnet %q: %q is not an IP address", subnet, addrText)
		}
		if !a.Is4() {
			return netip.Prefix{}, netip.Addr{}, errorf(ErrInvalid, "invalid --subnet %q: only IPv4 subnets are supported", subnet)
		}
		bits, err := strconv.Atoi(bitsText)
		if err != nil || bits < 0 || bits > 32 {
			return netip.Prefix{}, netip.Addr{}, errorf(ErrInvalid, "invalid --subnet %q: the prefix length must be a number from 0 to %d", subnet, maxSubnetBits)
		}
		p = netip.PrefixFrom(a, bits)
	}
	var gw netip.Addr
	if gateway != "" {
		var err error
		if gw, err = netip.ParseAddr(gateway); err != nil {
			return netip.Prefix{}, netip.Addr{}, errorf(ErrInvalid, "invalid --gateway %q: not an IP address", gateway)
		}
	}
	if err := ValidateSubnet(p, gw); err != nil {
		return netip.Prefix{}, netip.Addr{}, err
	}
	return p, gw, nil
}

// ValidateSubnet checks a user's subnet and gateway as the API receives them (the zero
// values mean "not given"): an IPv4 network no longer than /30 with no host bits set, and a
// gateway only together with a subnet, inside it, and neither its network nor its broadcast
// address. Whether the subnet overlaps another network is the Pool's question.
func ValidateSubnet(subnet netip.Prefix, gateway netip.Addr) error {
	if !subnet.IsValid() {
		if gateway.IsValid() {
			return errorf(ErrInvalid, "invalid --gateway %q: a gateway needs a --subnet", gateway)
		}
		return nil
	}
	if !subnet.Addr().Is4() {
		return errorf(ErrInvalid, "invalid --subnet %q: only IPv4 subnets are supported", subnet)
	}
	if subnet.Bits() > maxSubnetBits {
		return errorf(ErrInvalid, "invalid --subnet %q: a /%d leaves no address for tasks; the longest prefix allowed is /%d", subnet, subnet.Bits(), maxSubnetBits)
	}
	if m := subnet.Masked(); m != subnet {
		return errorf(ErrInvalid, "invalid --subnet %q: host bits are set; the network is %s", subnet, m)
	}
	if !gateway.IsValid() {
		return nil
	}
	first, last := span(subnet)
	switch {
	case !gateway.Is4() || !subnet.Contains(gateway):
		return errorf(ErrInvalid, "invalid --gateway %q: outside the subnet %s", gateway, subnet)
	case toU32(gateway) == first:
		return errorf(ErrInvalid, "invalid --gateway %q: that is the network address of %s", gateway, subnet)
	case toU32(gateway) == last:
		return errorf(ErrInvalid, "invalid --gateway %q: that is the broadcast address of %s", gateway, subnet)
	}
	return nil
}

// Pool hands out network subnets from the default address pools and keeps every network's
// subnet, whether it came from the pools or from the user, so that no two overlap.
type Pool struct {
	bases   []netip.Prefix
	size    int                  // prefix length of the subnets cut from bases
	subnets map[string]poolEntry // by network ID
}

type poolEntry struct {
	id, name string
	subnet   netip.Prefix
}

// NewPool makes a pool that cuts subnets of length size (24 when 0) out of bases
// (10.0.0.0/8 when empty), in the order given, as swarm init's --default-addr-pool and
// --default-addr-pool-mask-length describe them.
func NewPool(bases []netip.Prefix, size uint32) (*Pool, error) {
	if len(bases) == 0 {
		bases = []netip.Prefix{DefaultAddrPool}
	}
	if size == 0 {
		size = DefaultSubnetSize
	}
	for i, b := range bases {
		switch {
		case !b.IsValid():
			return nil, errorf(ErrInvalid, "invalid --default-addr-pool: an empty network")
		case !b.Addr().Is4():
			return nil, errorf(ErrInvalid, "invalid --default-addr-pool %s: only IPv4 pools are supported", b)
		case b.Masked() != b:
			return nil, errorf(ErrInvalid, "invalid --default-addr-pool %s: host bits are set; the network is %s", b, b.Masked())
		case size > maxPoolSubnetSize || int(size) < b.Bits():
			return nil, errorf(ErrInvalid, "invalid --default-addr-pool-mask-length %d: must be from %d (the length of pool %s) to %d", size, b.Bits(), b, maxPoolSubnetSize)
		}
		for _, other := range bases[:i] {
			if b.Overlaps(other) {
				return nil, errorf(ErrInvalid, "invalid --default-addr-pool %s: overlaps the pool %s", b, other)
			}
		}
	}
	return &Pool{bases: slices.Clone(bases), size: int(size), subnets: map[string]poolEntry{}}, nil
}

// Subnet returns the subnet the pool keeps for the network.
func (p *Pool) Subnet(network string) (netip.Prefix, bool) {
	e, ok := p.subnets[network]
	return e.subnet, ok
}

// Allocate gives the network the lowest free subnet of the pools, as the reference does,
// so that a network removed and created again gets the same subnet. name is used in
// messages. It is idempotent: a network that has a subnet keeps it.
func (p *Pool) Allocate(network, name string) (netip.Prefix, error) {
	if network == "" {
		return netip.Prefix{}, errorf(ErrInvalid, "a network needs an ID")
	}
	if e, ok := p.subnets[network]; ok {
		return e.subnet, nil
	}
	s, ok := p.lowestFree()
	if !ok {
		return netip.Prefix{}, p.exhausted()
	}
	p.subnets[network] = poolEntry{id: network, name: name, subnet: s}
	return s, nil
}

// Claim records a user's subnet (--subnet) for the network, inside the pools or outside
// them, if it overlaps no other network's subnet. Claiming the subnet the network already
// has is a no-op.
func (p *Pool) Claim(network, name string, subnet netip.Prefix) error {
	if network == "" {
		return errorf(ErrInvalid, "a network needs an ID")
	}
	if err := ValidateSubnet(subnet, netip.Addr{}); err != nil {
		return err
	}
	if !subnet.IsValid() {
		return errorf(ErrInvalid, "network %s: no subnet to claim", label(network, name))
	}
	if e, ok := p.subnets[network]; ok {
		if e.subnet == subnet {
			return nil
		}
		return errorf(ErrConflict, "network %s already has subnet %s", label(network, name), e.subnet)
	}
	if err := p.overlap(network, subnet); err != nil {
		return err
	}
	p.subnets[network] = poolEntry{id: network, name: name, subnet: subnet}
	return nil
}

// Release gives the network's subnet back. Releasing a network that has none is a no-op.
func (p *Pool) Release(network string) {
	delete(p.subnets, network)
}

// overlap reports the first network (in address order) other than network whose subnet
// overlaps subnet.
func (p *Pool) overlap(network string, subnet netip.Prefix) error {
	for _, e := range p.sorted() {
		if e.id != network && e.subnet.Overlaps(subnet) {
			return errorf(ErrConflict, "subnet %s overlaps network %s's %s", subnet, label(e.id, e.name), e.subnet)
		}
	}
	return nil
}

// sorted returns every recorded subnet by start address, then length, then network ID.
func (p *Pool) sorted() []poolEntry {
	out := make([]poolEntry, 0, len(p.subnets))
	for _, e := range p.subnets {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b poolEntry) int {
		if c := a.subnet.Addr().Compare(b.subnet.Addr()); c != 0 {
			return c
		}
		if c := cmp.Compare(a.subnet.Bits(), b.subnet.Bits()); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	return out
}

// lowestFree walks each base pool from its start in steps of the subnet size, jumping over
// every recorded subnet in its way (recorded subnets may be of any size and alignment,
// and after a corrupt state even overlap each other).
func (p *Pool) lowestFree() (netip.Prefix, bool) {
	used := p.sorted()
	step := uint64(1) << (32 - p.size)
	for _, base := range p.bases {
		baseFirst, baseLast := span(base)
		c, i := uint64(baseFirst), 0
		for c+step-1 <= uint64(baseLast) {
			for i < len(used) && uint64(spanLast(used[i].subnet)) < c {
				i++
			}
			if i == len(used) || uint64(toU32(used[i].subnet.Addr())) > c+step-1 {
				return netip.PrefixFrom(fromU32(uint32(c)), p.size), true
			}
			next := uint64(spanLast(used[i].subnet)) + 1
			c = (next + step - 1) / step * step
		}
	}
	return netip.Prefix{}, false
}

func (p *Pool) exhausted() error {
	names := make([]string, len(p.bases))
	for i, b := range p.bases {
		names[i] = b.String()
	}
	const hint = "; remove networks no longer needed or give this one a --subnet"
	if len(names) == 1 {
		return errorf(ErrExhausted, "the address pool %s is exhausted%s", names[0], hint)
	}
	return errorf(ErrExhausted, "the address pools %s are exhausted%s", strings.Join(names, ", "), hint)
}

// label is how messages name a network: by name when it has one.
func label(id, name string) string {
	if name != "" {
		return name
	}
	return id
}

// IPv4 arithmetic on addresses as integers.

func toU32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func fromU32(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// span returns the first and last address of an IPv4 prefix.
func span(p netip.Prefix) (first, last uint32) {
	return toU32(p.Masked().Addr()), spanLast(p)
}

func spanLast(p netip.Prefix) uint32 {
	size := uint64(1) << (32 - p.Bits())
	return uint32(uint64(toU32(p.Masked().Addr())) + size - 1)
}
