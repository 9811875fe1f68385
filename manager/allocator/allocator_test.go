package allocator

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"pgregory.net/rapid"
)

func newAllocator(t rapid.TB, cfg Config) *Allocator {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustAddNetwork(t testing.TB, a *Allocator, id, subnet, gateway string) Network {
	t.Helper()
	req := NetworkRequest{ID: id, Name: id}
	if subnet != "" {
		req.Subnet = pfx(subnet)
	}
	if gateway != "" {
		req.Gateway = addr(gateway)
	}
	n, err := a.AddNetwork(req)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNew(t *testing.T) {
	if _, err := New(Config{}); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	_, err := New(Config{SubnetSize: 31})
	wantErr(t, err, ErrInvalid, "invalid --default-addr-pool-mask-length 31: must be from 8 (the length of pool 10.0.0.0/8) to 29")
}

func TestAddNetwork(t *testing.T) {
	a := newAllocator(t, Config{})
	mustAddNetwork(t, a, "ingress", "", "")
	mustAddNetwork(t, a, "webnet", "10.0.1.0/24", "")
	tests := []struct {
		name        string
		req         NetworkRequest
		wantSubnet  string
		wantGateway string
		kind        error
		err         string
	}{
		{name: "from the pool", req: NetworkRequest{ID: "n1", Name: "backend"},
			wantSubnet: "10.0.2.0/24", wantGateway: "10.0.2.1"},
		{name: "user subnet outside the pool", req: NetworkRequest{ID: "n2", Name: "lan", Subnet: pfx("192.168.9.0/24")},
			wantSubnet: "192.168.9.0/24", wantGateway: "192.168.9.1"},
		{name: "user gateway", req: NetworkRequest{ID: "n3", Subnet: pfx("172.28.0.0/16"), Gateway: addr("172.28.5.254")},
			wantSubnet: "172.28.0.0/16", wantGateway: "172.28.5.254"},
		{name: "again: same record", req: NetworkRequest{ID: "n3", Subnet: pfx("172.28.0.0/16")},
			wantSubnet: "172.28.0.0/16", wantGateway: "172.28.5.254"},
		{name: "again without subnet", req: NetworkRequest{ID: "webnet"},
			wantSubnet: "10.0.1.0/24", wantGateway: "10.0.1.1"},
		{name: "again with another subnet", req: NetworkRequest{ID: "webnet", Subnet: pfx("10.0.9.0/24")}, kind: ErrConflict,
			err: "network webnet already has subnet 10.0.1.0/24 with gateway 10.0.1.1"},
		{name: "again with another gateway", req: NetworkRequest{ID: "webnet", Subnet: pfx("10.0.1.0/24"), Gateway: addr("10.0.1.9")}, kind: ErrConflict,
			err: "network webnet already has subnet 10.0.1.0/24 with gateway 10.0.1.1"},
		{name: "overlap", req: NetworkRequest{ID: "n4", Name: "other", Subnet: pfx("10.0.1.0/24")}, kind: ErrConflict,
			err: "subnet 10.0.1.0/24 overlaps network webnet's 10.0.1.0/24"},
		{name: "no ID", req: NetworkRequest{Name: "x"}, kind: ErrInvalid, err: "a network needs an ID"},
		{name: "gateway without subnet", req: NetworkRequest{ID: "n5", Gateway: addr("10.0.5.1")}, kind: ErrInvalid,
			err: `invalid --gateway "10.0.5.1": a gateway needs a --subnet`},
		{name: "bad subnet", req: NetworkRequest{ID: "n5", Subnet: pfx("10.0.5.0/31")}, kind: ErrInvalid,
			err: `invalid --subnet "10.0.5.0/31": a /31 leaves no address for tasks; the longest prefix allowed is /30`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := a.AddNetwork(tt.req)
			wantErr(t, err, tt.kind, tt.err)
			if tt.err != "" {
				return
			}
			if n.Subnet.String() != tt.wantSubnet || n.Gateway.String() != tt.wantGateway || n.ID != tt.req.ID {
				t.Fatalf("got %+v, want %s via %s", n, tt.wantSubnet, tt.wantGateway)
			}
			if got, ok := a.Network(tt.req.ID); !ok || got != n {
				t.Fatalf("Network(%s) = %+v, %v; want %+v", tt.req.ID, got, ok, n)
			}
		})
	}
	var order []string
	for _, n := range a.Networks() {
		order = append(order, n.Subnet.String())
	}
	if got, want := fmt.Sprint(order), "[10.0.0.0/24 10.0.1.0/24 10.0.2.0/24 172.28.0.0/16 192.168.9.0/24]"; got != want {
		t.Errorf("Networks() in order %s, want %s", got, want)
	}
}

func TestAddNetworkPoolExhausted(t *testing.T) {
	a := newAllocator(t, Config{DefaultAddrPool: []netip.Prefix{pfx("10.9.0.0/24")}, SubnetSize: 25})
	mustAddNetwork(t, a, "a", "", "")
	mustAddNetwork(t, a, "b", "", "")
	_, err := a.AddNetwork(NetworkRequest{ID: "c"})
	wantErr(t, err, ErrExhausted, "the address pool 10.9.0.0/24 is exhausted; remove networks no longer needed or give this one a --subnet")
	mustAddNetwork(t, a, "c", "10.10.0.0/24", "") // a user subnet still works
}

func TestRemoveNetwork(t *testing.T) {
	a := newAllocator(t, Config{})
	mustAddNetwork(t, a, "ingress", "", "")
	mustAddNetwork(t, a, "webnet", "", "")
	if _, err := a.Allocate("webnet", "t1"); err != nil {
		t.Fatal(err)
	}
	a.RemoveNetwork("webnet")
	a.RemoveNetwork("webnet") // again: no-op
	a.RemoveNetwork("never")
	if _, ok := a.Network("webnet"); ok {
		t.Fatal("network still there")
	}
	if _, ok := a.Address("webnet", "t1"); ok {
		t.Fatal("address survived its network")
	}
	_, err := a.Allocate("webnet", "t2")
	wantErr(t, err, ErrNotFound, `network "webnet" is not known to the allocator`)
	// The subnet went back to the pool, and a new network starts with every address free.
	n := mustAddNetwork(t, a, "webnet2", "", "")
	if n.Subnet != pfx("10.0.1.0/24") {
		t.Fatalf("new network got %s, want the released 10.0.1.0/24", n.Subnet)
	}
	if got, _ := a.Allocate("webnet2", "t1"); got != addr("10.0.1.2") {
		t.Fatalf("first address %s, want 10.0.1.2", got)
	}
}

// addrStep is one call in a scripted address test.
type addrStep struct {
	op      string // alloc, reserve, release
	network string
	owner   string
	addr    string // reserve: the address asked for; alloc: the address wanted
	kind    error
	err     string
}

func runAddrs(t *testing.T, a *Allocator, steps []addrStep) {
	t.Helper()
	for i, s := range steps {
		var err error
		switch s.op {
		case "alloc":
			var got netip.Addr
			got, err = a.Allocate(s.network, s.owner)
			if err == nil && got.String() != s.addr {
				t.Fatalf("step %d: Allocate(%s, %s) = %s, want %s", i, s.network, s.owner, got, s.addr)
			}
		case "reserve":
			var want netip.Addr
			if s.addr != "" {
				want = addr(s.addr)
			}
			err = a.Reserve(s.network, s.owner, want)
		case "release":
			a.Release(s.network, s.owner)
		}
		if s.err == "" && err != nil {
			t.Fatalf("step %d (%s %s %s): %v", i, s.op, s.network, s.owner, err)
		}
		if s.err != "" && (err == nil || err.Error() != s.err || !errors.Is(err, s.kind)) {
			t.Fatalf("step %d (%s %s %s): error %v,\n want %q (%v)", i, s.op, s.network, s.owner, err, s.err, s.kind)
		}
		checkConsistent(t, a)
	}
}

func TestAllocate(t *testing.T) {
	tests := []struct {
		name    string
		subnet  string
		gateway string
		steps   []addrStep
	}{
		{name: "in order from the first after the gateway, idempotent", subnet: "10.0.1.0/24", steps: []addrStep{
			{op: "alloc", owner: "svc-web", addr: "10.0.1.2"},
			{op: "alloc", owner: "t1", addr: "10.0.1.3"},
			{op: "alloc", owner: "t2", addr: "10.0.1.4"},
			{op: "alloc", owner: "t1", addr: "10.0.1.3"},
		}},
		{name: "a released address waits for its turn", subnet: "10.0.1.0/24", steps: []addrStep{
			{op: "alloc", owner: "t1", addr: "10.0.1.2"},
			{op: "alloc", owner: "t2", addr: "10.0.1.3"},
			{op: "release", owner: "t1"},
			{op: "alloc", owner: "t3", addr: "10.0.1.4"},
			{op: "alloc", owner: "t1", addr: "10.0.1.5"},
		}},
		{name: "wraps around, skipping held addresses", subnet: "10.0.1.0/29", steps: []addrStep{
			{op: "alloc", owner: "t1", addr: "10.0.1.2"},
			{op: "alloc", owner: "t2", addr: "10.0.1.3"},
			{op: "alloc", owner: "t3", addr: "10.0.1.4"},
			{op: "alloc", owner: "t4", addr: "10.0.1.5"},
			{op: "alloc", owner: "t5", addr: "10.0.1.6"},
			{op: "release", owner: "t2"},
			{op: "release", owner: "t4"},
			{op: "alloc", owner: "t6", addr: "10.0.1.3"},
			{op: "alloc", owner: "t7", addr: "10.0.1.5"},
			{op: "alloc", owner: "t8", kind: ErrExhausted,
				err: "network net (10.0.1.0/29) has no free address: all 5 are in use"},
			{op: "release", owner: "t5"},
			{op: "alloc", owner: "t8", addr: "10.0.1.6"},
		}},
		{name: "wraps when everything after the cursor is held", subnet: "10.0.1.0/29", steps: []addrStep{
			{op: "alloc", owner: "t1", addr: "10.0.1.2"},
			{op: "alloc", owner: "t2", addr: "10.0.1.3"},
			{op: "alloc", owner: "t3", addr: "10.0.1.4"},
			{op: "alloc", owner: "t4", addr: "10.0.1.5"},
			{op: "alloc", owner: "t5", addr: "10.0.1.6"},
			{op: "release", owner: "t2"},
			{op: "alloc", owner: "t6", addr: "10.0.1.3"},
			{op: "release", owner: "t1"},
			{op: "alloc", owner: "t7", addr: "10.0.1.2"},
		}},
		{name: "a /30 has one address", subnet: "10.0.1.0/30", steps: []addrStep{
			{op: "alloc", owner: "t1", addr: "10.0.1.2"},
			{op: "alloc", owner: "t2", kind: ErrExhausted,
				err: "network net (10.0.1.0/30) has no free address: all 1 are in use"},
		}},
		{name: "gateway in the middle is never handed out", subnet: "10.0.1.0/29", gateway: "10.0.1.3", steps: []addrStep{
			{op: "alloc", owner: "t1", addr: "10.0.1.1"},
			{op: "alloc", owner: "t2", addr: "10.0.1.2"},
			{op: "alloc", owner: "t3", addr: "10.0.1.4"},
		}},
		{name: "gateway at the top", subnet: "10.0.1.0/30", gateway: "10.0.1.2", steps: []addrStep{
			{op: "alloc", owner: "t1", addr: "10.0.1.1"},
		}},
		{name: "no owner", subnet: "10.0.1.0/24", steps: []addrStep{
			{op: "alloc", owner: "", kind: ErrInvalid, err: "an address on network net needs an owner"},
		}},
		{name: "unknown network", subnet: "10.0.1.0/24", steps: []addrStep{
			{op: "alloc", network: "nope", owner: "t1", kind: ErrNotFound, err: `network "nope" is not known to the allocator`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAllocator(t, Config{})
			mustAddNetwork(t, a, "net", tt.subnet, tt.gateway)
			for i := range tt.steps {
				if tt.steps[i].network == "" {
					tt.steps[i].network = "net"
				}
			}
			runAddrs(t, a, tt.steps)
		})
	}
}

func TestReserve(t *testing.T) {
	a := newAllocator(t, Config{})
	mustAddNetwork(t, a, "webnet", "10.0.1.0/24", "")
	runAddrs(t, a, []addrStep{
		{op: "reserve", network: "webnet", owner: "svc-web", addr: "10.0.1.2"},
		{op: "reserve", network: "webnet", owner: "svc-web", addr: "10.0.1.2"}, // idempotent
		{op: "reserve", network: "webnet", owner: "t1", addr: "10.0.1.200"},
		{op: "alloc", network: "webnet", owner: "t2", addr: "10.0.1.3"}, // the cursor did not move
		{op: "reserve", network: "webnet", owner: "t3", addr: "10.0.1.2", kind: ErrConflict,
			err: "address 10.0.1.2 on network webnet is already held by svc-web"},
		{op: "reserve", network: "webnet", owner: "t1", addr: "10.0.1.9", kind: ErrConflict,
			err: "t1 already holds 10.0.1.200 on network webnet"},
		{op: "reserve", network: "webnet", owner: "t3", addr: "10.0.1.1", kind: ErrConflict,
			err: "address 10.0.1.1 is the gateway of network webnet"},
		{op: "reserve", network: "webnet", owner: "t3", addr: "10.0.1.0", kind: ErrInvalid,
			err: "address 10.0.1.0 is the network address of network webnet's subnet 10.0.1.0/24"},
		{op: "reserve", network: "webnet", owner: "t3", addr: "10.0.1.255", kind: ErrInvalid,
			err: "address 10.0.1.255 is the broadcast address of network webnet's subnet 10.0.1.0/24"},
		{op: "reserve", network: "webnet", owner: "t3", addr: "10.0.2.5", kind: ErrInvalid,
			err: "address 10.0.2.5 is outside network webnet's subnet 10.0.1.0/24"},
		{op: "reserve", network: "webnet", owner: "t3", addr: "fd00::5", kind: ErrInvalid,
			err: "address fd00::5 is outside network webnet's subnet 10.0.1.0/24"},
		{op: "reserve", network: "webnet", owner: "", addr: "10.0.1.9", kind: ErrInvalid,
			err: "an address on network webnet needs an owner"},
		{op: "reserve", network: "nope", owner: "t3", addr: "10.0.1.9", kind: ErrNotFound,
			err: `network "nope" is not known to the allocator`},
		{op: "release", network: "webnet", owner: "svc-web"},
		{op: "reserve", network: "webnet", owner: "t3", addr: "10.0.1.2"},
	})
}

func TestReleaseAndAddress(t *testing.T) {
	a := newAllocator(t, Config{})
	mustAddNetwork(t, a, "webnet", "10.0.1.0/24", "")
	mustAddNetwork(t, a, "backend", "10.0.2.0/24", "")
	runAddrs(t, a, []addrStep{
		{op: "alloc", network: "webnet", owner: "t1", addr: "10.0.1.2"},
		{op: "alloc", network: "backend", owner: "t1", addr: "10.0.2.2"},
		{op: "release", network: "webnet", owner: "t1"},
		{op: "release", network: "webnet", owner: "t1"},                  // again: no-op
		{op: "release", network: "webnet", owner: "nobody"},              // never held: no-op
		{op: "release", network: "nowhere", owner: "t1"},                 // unknown network: no-op
		{op: "alloc", network: "backend", owner: "t1", addr: "10.0.2.2"}, // other network untouched
	})
	if _, ok := a.Address("webnet", "t1"); ok {
		t.Error("Address after Release still answers")
	}
	if got, ok := a.Address("backend", "t1"); !ok || got != addr("10.0.2.2") {
		t.Errorf("Address(backend, t1) = %s, %v", got, ok)
	}
	if _, ok := a.Address("nowhere", "t1"); ok {
		t.Error("Address on an unknown network answers")
	}
}

func TestCursor(t *testing.T) {
	a := newAllocator(t, Config{})
	mustAddNetwork(t, a, "webnet", "10.0.1.0/30", "")
	if c, ok := a.Cursor("webnet"); !ok || c != addr("10.0.1.1") {
		t.Fatalf("fresh cursor %s, %v; want 10.0.1.1 (the search starts at the first usable address)", c, ok)
	}
	if _, err := a.Allocate("webnet", "t1"); err != nil {
		t.Fatal(err)
	}
	if c, _ := a.Cursor("webnet"); c != addr("10.0.1.1") {
		t.Fatalf("cursor after the last address %s, want it wrapped to 10.0.1.1", c)
	}
	if _, ok := a.Cursor("nope"); ok {
		t.Fatal("cursor of an unknown network")
	}
}

// checkConsistent verifies the allocator's tables agree with each other: every address
// held once, in range, never the gateway; every network's subnet in the pool; ports and
// their owners mirrored.
func checkConsistent(t rapid.TB, a *Allocator) {
	t.Helper()
	if len(a.networks) != len(a.pool.subnets) {
		t.Fatalf("%d networks but %d subnets in the pool", len(a.networks), len(a.pool.subnets))
	}
	for id, s := range a.networks {
		if e, ok := a.pool.subnets[id]; !ok || e.subnet != s.subnet {
			t.Fatalf("network %s: subnet %s, pool has %+v", id, s.subnet, e)
		}
		if len(s.owners) != len(s.holders) {
			t.Fatalf("network %s: %d owners, %d holders", id, len(s.owners), len(s.holders))
		}
		set := 0
		for _, p := range s.used.pages {
			set += p.set
		}
		if set != len(s.holders)+1 {
			t.Fatalf("network %s: %d bits set for %d holders and a gateway", id, set, len(s.holders))
		}
		if !s.used.has(s.gateway) {
			t.Fatalf("network %s: gateway not marked", id)
		}
		for owner, o := range s.owners {
			if s.holders[o] != owner || !s.used.has(o) || o < 1 || o > s.last || o == s.gateway {
				t.Fatalf("network %s: owner %s holds offset %d badly", id, owner, o)
			}
		}
		if s.cursor < 1 || s.cursor > s.last {
			t.Fatalf("network %s: cursor %d out of [1, %d]", id, s.cursor, s.last)
		}
	}
	n := 0
	for owner, ps := range a.ports.byOwner {
		for p := range ps {
			n++
			if a.ports.owners[p] != owner {
				t.Fatalf("port %s: byOwner says %s, owners says %s", p, owner, a.ports.owners[p])
			}
		}
	}
	if n != len(a.ports.owners) {
		t.Fatalf("%d ports by owner, %d ports", n, len(a.ports.owners))
	}
}
