package allocator

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

// wantErr checks err against a wanted kind and message; an empty message means no error.
func wantErr(t *testing.T, err error, kind error, msg string) {
	t.Helper()
	if msg == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %q", msg)
	}
	if err.Error() != msg {
		t.Fatalf("error %q,\n want %q", err, msg)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error %q is not %v", err, kind)
	}
}

func TestParseSubnet(t *testing.T) {
	tests := []struct {
		subnet, gateway string
		wantSubnet      string
		wantGateway     string
		kind            error
		err             string
	}{
		{subnet: "", gateway: ""},
		{subnet: "10.0.9.0/24", wantSubnet: "10.0.9.0/24"},
		{subnet: "192.168.7.0/30", gateway: "192.168.7.2", wantSubnet: "192.168.7.0/30", wantGateway: "192.168.7.2"},
		{subnet: "10.0.0.0/8", gateway: "10.200.0.1", wantSubnet: "10.0.0.0/8", wantGateway: "10.200.0.1"},
		{subnet: "10.0.0.0/33", kind: ErrInvalid,
			err: `invalid --subnet "10.0.0.0/33": the prefix length must be a number from 0 to 30`},
		{subnet: "10.0.0.0/x", kind: ErrInvalid,
			err: `invalid --subnet "10.0.0.0/x": the prefix length must be a number from 0 to 30`},
		{subnet: "10.0.0.0", kind: ErrInvalid,
			err: `invalid --subnet "10.0.0.0": missing the prefix length, as in 10.0.9.0/24`},
		{subnet: "10.0.0.300/24", kind: ErrInvalid,
			err: `invalid --subnet "10.0.0.300/24": "10.0.0.300" is not an IP address`},
		{subnet: "fd00::/64", kind: ErrInvalid,
			err: `invalid --subnet "fd00::/64": only IPv4 subnets are supported`},
		{subnet: "10.0.0.0/31", kind: ErrInvalid,
			err: `invalid --subnet "10.0.0.0/31": a /31 leaves no address for tasks; the longest prefix allowed is /30`},
		{subnet: "10.0.0.4/32", kind: ErrInvalid,
			err: `invalid --subnet "10.0.0.4/32": a /32 leaves no address for tasks; the longest prefix allowed is /30`},
		{subnet: "10.0.1.5/24", kind: ErrInvalid,
			err: `invalid --subnet "10.0.1.5/24": host bits are set; the network is 10.0.1.0/24`},
		{gateway: "10.0.1.1", kind: ErrInvalid,
			err: `invalid --gateway "10.0.1.1": a gateway needs a --subnet`},
		{subnet: "10.0.1.0/24", gateway: "gw", kind: ErrInvalid,
			err: `invalid --gateway "gw": not an IP address`},
		{subnet: "10.0.1.0/24", gateway: "10.0.2.1", kind: ErrInvalid,
			err: `invalid --gateway "10.0.2.1": outside the subnet 10.0.1.0/24`},
		{subnet: "10.0.1.0/24", gateway: "fd00::1", kind: ErrInvalid,
			err: `invalid --gateway "fd00::1": outside the subnet 10.0.1.0/24`},
		{subnet: "10.0.1.0/24", gateway: "10.0.1.0", kind: ErrInvalid,
			err: `invalid --gateway "10.0.1.0": that is the network address of 10.0.1.0/24`},
		{subnet: "10.0.1.0/24", gateway: "10.0.1.255", kind: ErrInvalid,
			err: `invalid --gateway "10.0.1.255": that is the broadcast address of 10.0.1.0/24`},
	}
	for _, tt := range tests {
		t.Run(tt.subnet+","+tt.gateway, func(t *testing.T) {
			s, gw, err := ParseSubnet(tt.subnet, tt.gateway)
			wantErr(t, err, tt.kind, tt.err)
			if tt.err != "" {
				return
			}
			if got := prefixString(s); got != tt.wantSubnet {
				t.Errorf("subnet %s, want %q", got, tt.wantSubnet)
			}
			if got := addrString(gw); got != tt.wantGateway {
				t.Errorf("gateway %s, want %q", got, tt.wantGateway)
			}
		})
	}
}

func prefixString(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// ValidateSubnet sees typed values, as the API decodes them; only what ParseSubnet cannot
// already rule out is repeated here.
func TestValidateSubnet(t *testing.T) {
	tests := []struct {
		name    string
		subnet  netip.Prefix
		gateway netip.Addr
		err     string
	}{
		{name: "nothing"},
		{name: "subnet only", subnet: pfx("10.1.0.0/16")},
		{name: "custom gateway", subnet: pfx("10.1.0.0/16"), gateway: addr("10.1.255.254")},
		{name: "v4-in-v6 subnet", subnet: pfx("::ffff:10.0.0.0/120"),
			err: `invalid --subnet "::ffff:10.0.0.0/120": only IPv4 subnets are supported`},
		{name: "host bits", subnet: pfx("10.0.0.128/16"),
			err: `invalid --subnet "10.0.0.128/16": host bits are set; the network is 10.0.0.0/16`},
		{name: "gateway alone", gateway: addr("10.0.0.1"),
			err: `invalid --gateway "10.0.0.1": a gateway needs a --subnet`},
		{name: "gateway in /30", subnet: pfx("10.0.0.0/30"), gateway: addr("10.0.0.3"),
			err: `invalid --gateway "10.0.0.3": that is the broadcast address of 10.0.0.0/30`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, ValidateSubnet(tt.subnet, tt.gateway), ErrInvalid, tt.err)
		})
	}
}

func TestNewPool(t *testing.T) {
	tests := []struct {
		name  string
		bases []netip.Prefix
		size  uint32
		first string // the first subnet the pool hands out
		err   string
	}{
		{name: "defaults", first: "10.0.0.0/24"},
		{name: "swarm init pools", bases: []netip.Prefix{pfx("10.20.0.0/16"), pfx("10.30.0.0/16")}, size: 26, first: "10.20.0.0/26"},
		{name: "mask equals pool", bases: []netip.Prefix{pfx("192.168.5.0/29")}, size: 29, first: "192.168.5.0/29"},
		{name: "empty pool", bases: []netip.Prefix{{}},
			err: `invalid --default-addr-pool: an empty network`},
		{name: "ipv6 pool", bases: []netip.Prefix{pfx("fd00::/48")},
			err: `invalid --default-addr-pool fd00::/48: only IPv4 pools are supported`},
		{name: "host bits", bases: []netip.Prefix{pfx("10.0.0.1/8")},
			err: `invalid --default-addr-pool 10.0.0.1/8: host bits are set; the network is 10.0.0.0/8`},
		{name: "mask too long", size: 30,
			err: `invalid --default-addr-pool-mask-length 30: must be from 8 (the length of pool 10.0.0.0/8) to 29`},
		{name: "mask shorter than pool", bases: []netip.Prefix{pfx("10.20.0.0/16")}, size: 12,
			err: `invalid --default-addr-pool-mask-length 12: must be from 16 (the length of pool 10.20.0.0/16) to 29`},
		{name: "overlapping pools", bases: []netip.Prefix{pfx("10.0.0.0/8"), pfx("10.5.0.0/16")},
			err: `invalid --default-addr-pool 10.5.0.0/16: overlaps the pool 10.0.0.0/8`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPool(tt.bases, tt.size)
			wantErr(t, err, ErrInvalid, tt.err)
			if tt.err != "" {
				return
			}
			s, err := p.Allocate("n1", "net1")
			if err != nil || s.String() != tt.first {
				t.Fatalf("first subnet %v, %v; want %s", s, err, tt.first)
			}
		})
	}
}

// poolStep is one call in a scripted pool test: allocate (subnet empty) or claim a subnet
// for a network, or release one.
type poolStep struct {
	op, network, subnet string
	want                string // allocate: the subnet handed out
	kind                error
	err                 string
}

func runPool(t *testing.T, p *Pool, steps []poolStep) {
	t.Helper()
	for i, s := range steps {
		var err error
		switch s.op {
		case "alloc":
			var got netip.Prefix
			got, err = p.Allocate(s.network, s.network+"-name")
			if err == nil && got.String() != s.want {
				t.Fatalf("step %d: allocate %s got %s, want %s", i, s.network, got, s.want)
			}
		case "claim":
			var sub netip.Prefix
			if s.subnet != "" {
				sub = pfx(s.subnet)
			}
			err = p.Claim(s.network, s.network+"-name", sub)
		case "release":
			p.Release(s.network)
		}
		if s.err == "" && err != nil {
			t.Fatalf("step %d (%s %s): %v", i, s.op, s.network, err)
		}
		if s.err != "" {
			if err == nil || err.Error() != s.err || !errors.Is(err, s.kind) {
				t.Fatalf("step %d (%s %s): error %v, want %q (%v)", i, s.op, s.network, err, s.err, s.kind)
			}
		}
	}
}

func TestPoolAllocate(t *testing.T) {
	tests := []struct {
		name  string
		bases []netip.Prefix
		size  uint32
		steps []poolStep
	}{
		{name: "lowest free, idempotent", steps: []poolStep{
			{op: "alloc", network: "ingress", want: "10.0.0.0/24"},
			{op: "alloc", network: "a", want: "10.0.1.0/24"},
			{op: "alloc", network: "a", want: "10.0.1.0/24"},
			{op: "alloc", network: "b", want: "10.0.2.0/24"},
			{op: "release", network: "a"},
			{op: "alloc", network: "c", want: "10.0.1.0/24"},
		}},
		{name: "skips claimed subnets of any size", steps: []poolStep{
			{op: "claim", network: "u1", subnet: "10.0.0.128/25"},
			{op: "claim", network: "u2", subnet: "10.0.2.0/23"},
			{op: "claim", network: "u3", subnet: "10.0.4.4/30"},
			{op: "alloc", network: "a", want: "10.0.1.0/24"},
			{op: "alloc", network: "b", want: "10.0.5.0/24"},
			{op: "claim", network: "u4", subnet: "10.0.0.0/16", kind: ErrConflict,
				err: "subnet 10.0.0.0/16 overlaps network u1-name's 10.0.0.128/25"},
		}},
		{name: "covering claim pushes past", steps: []poolStep{
			{op: "claim", network: "big", subnet: "10.0.0.0/12"},
			{op: "alloc", network: "a", want: "10.16.0.0/24"},
		}},
		{name: "exhausted, then freed", bases: []netip.Prefix{pfx("10.9.0.0/28")}, size: 29, steps: []poolStep{
			{op: "alloc", network: "a", want: "10.9.0.0/29"},
			{op: "alloc", network: "b", want: "10.9.0.8/29"},
			{op: "alloc", network: "c", kind: ErrExhausted,
				err: "the address pool 10.9.0.0/28 is exhausted; remove networks no longer needed or give this one a --subnet"},
			{op: "release", network: "a"},
			{op: "alloc", network: "c", want: "10.9.0.0/29"},
		}},
		{name: "second pool when the first is full", bases: []netip.Prefix{pfx("10.9.0.0/29"), pfx("172.20.0.0/29")}, size: 29, steps: []poolStep{
			{op: "alloc", network: "a", want: "10.9.0.0/29"},
			{op: "alloc", network: "b", want: "172.20.0.0/29"},
			{op: "alloc", network: "c", kind: ErrExhausted,
				err: "the address pools 10.9.0.0/29, 172.20.0.0/29 are exhausted; remove networks no longer needed or give this one a --subnet"},
		}},
		{name: "top of the address space", bases: []netip.Prefix{pfx("255.255.255.0/24")}, size: 25, steps: []poolStep{
			{op: "alloc", network: "a", want: "255.255.255.0/25"},
			{op: "alloc", network: "b", want: "255.255.255.128/25"},
			{op: "alloc", network: "c", kind: ErrExhausted,
				err: "the address pool 255.255.255.0/24 is exhausted; remove networks no longer needed or give this one a --subnet"},
		}},
		{name: "no ID", steps: []poolStep{
			{op: "alloc", network: "", kind: ErrInvalid, err: "a network needs an ID"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPool(tt.bases, tt.size)
			if err != nil {
				t.Fatal(err)
			}
			runPool(t, p, tt.steps)
		})
	}
}

func TestPoolClaim(t *testing.T) {
	p, err := NewPool(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	runPool(t, p, []poolStep{
		{op: "alloc", network: "ingress", want: "10.0.0.0/24"},
		{op: "claim", network: "webnet", subnet: "10.0.1.0/24"},
		{op: "claim", network: "webnet", subnet: "10.0.1.0/24"}, // idempotent
		{op: "claim", network: "outside", subnet: "192.168.50.0/24"},
		{op: "claim", network: "dup", subnet: "10.0.1.0/24", kind: ErrConflict,
			err: "subnet 10.0.1.0/24 overlaps network webnet-name's 10.0.1.0/24"},
		{op: "claim", network: "inner", subnet: "10.0.1.128/25", kind: ErrConflict,
			err: "subnet 10.0.1.128/25 overlaps network webnet-name's 10.0.1.0/24"},
		{op: "claim", network: "outer", subnet: "10.0.0.0/16", kind: ErrConflict,
			err: "subnet 10.0.0.0/16 overlaps network ingress-name's 10.0.0.0/24"},
		{op: "claim", network: "webnet", subnet: "10.0.2.0/24", kind: ErrConflict,
			err: "network webnet-name already has subnet 10.0.1.0/24"},
		{op: "claim", network: "", subnet: "10.0.2.0/24", kind: ErrInvalid, err: "a network needs an ID"},
		{op: "claim", network: "x", subnet: "", kind: ErrInvalid, err: "network x-name: no subnet to claim"},
		{op: "claim", network: "x", subnet: "10.0.7.1/24", kind: ErrInvalid,
			err: `invalid --subnet "10.0.7.1/24": host bits are set; the network is 10.0.7.0/24`},
		{op: "alloc", network: "a", want: "10.0.2.0/24"},
		{op: "release", network: "webnet"},
		{op: "release", network: "never-there"},
		{op: "claim", network: "inner", subnet: "10.0.1.128/25"},
		{op: "alloc", network: "b", want: "10.0.3.0/24"},
	})
	if s, ok := p.Subnet("outside"); !ok || s != pfx("192.168.50.0/24") {
		t.Errorf("Subnet(outside) = %v, %v", s, ok)
	}
	if _, ok := p.Subnet("webnet"); ok {
		t.Errorf("Subnet(webnet) still there after Release")
	}
}

func TestLabel(t *testing.T) {
	if got := label("id1", ""); got != "id1" {
		t.Errorf("label without a name = %q", got)
	}
	if got := label("id1", "webnet"); got != "webnet" {
		t.Errorf("label with a name = %q", got)
	}
	if !strings.Contains(errorf(ErrInvalid, "x %d", 1).Error(), "x 1") {
		t.Errorf("errorf does not format")
	}
}
