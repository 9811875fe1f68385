package allocator

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

func at(network, a string) Attachment { return Attachment{Network: network, Addr: pfx(a)} }

// clusterState is a healthy cluster as a leader would read it: ingress and webnet, a web
// service with VIPs on both and two published ports, and its tasks.
func clusterState() State {
	return State{
		Networks: []NetworkState{
			{ID: "n-ingress", Name: "ingress", Subnet: pfx("10.0.0.0/24"), Gateway: addr("10.0.0.1")},
			{ID: "n-web", Name: "webnet", Subnet: pfx("10.0.1.0/24")},
		},
		Services: []ServiceState{
			{ID: "s-web", Name: "web",
				VIPs: []Attachment{at("n-ingress", "10.0.0.2/24"), at("n-web", "10.0.1.2/24")},
				Ports: []PublishedPort{
					{Protocol: "tcp", Port: 8080, Mode: "ingress"},
					{Protocol: "tcp", Port: 30005},
					{Protocol: "udp", Port: 9000, Mode: "host"},
				}},
			{ID: "s-shell", Name: "shell", VIPs: []Attachment{at("n-web", "10.0.1.3/24")}},
		},
		Tasks: []TaskState{
			{ID: "t-web1", Addresses: []Attachment{at("n-ingress", "10.0.0.3/24"), at("n-web", "10.0.1.4/24")}},
			{ID: "t-web2", Addresses: []Attachment{at("n-ingress", "10.0.0.4/24"), at("n-web", "10.0.1.7/24")}},
			{ID: "t-shell1", Addresses: []Attachment{at("n-web", "10.0.1.5/24")}},
		},
	}
}

func TestRebuildHealthyState(t *testing.T) {
	a := newAllocator(t, Config{})
	mustAddNetwork(t, a, "stale", "", "") // whatever was there before goes
	if problems := a.Rebuild(clusterState()); len(problems) != 0 {
		t.Fatalf("problems in a healthy state: %v", problems)
	}
	checkConsistent(t, a)
	if _, ok := a.Network("stale"); ok {
		t.Fatal("Rebuild kept a network the state does not have")
	}
	for _, c := range []struct{ network, owner, want string }{
		{"n-ingress", "s-web", "10.0.0.2"}, {"n-web", "s-web", "10.0.1.2"}, {"n-web", "s-shell", "10.0.1.3"},
		{"n-ingress", "t-web1", "10.0.0.3"}, {"n-web", "t-web1", "10.0.1.4"},
		{"n-web", "t-web2", "10.0.1.7"}, {"n-web", "t-shell1", "10.0.1.5"},
	} {
		if got, ok := a.Address(c.network, c.owner); !ok || got.String() != c.want {
			t.Errorf("Address(%s, %s) = %s, %v; want %s", c.network, c.owner, got, ok, c.want)
		}
	}
	if got := fmt.Sprint(a.Ports("web")); got != "[8080/tcp 30005/tcp]" {
		t.Errorf("web's ports after Rebuild: %s (host-mode ports are not the allocator's)", got)
	}
	// Allocation goes on after the highest address in use, never over a held one.
	if got, _ := a.Allocate("n-web", "t-new"); got != addr("10.0.1.8") {
		t.Errorf("next address on webnet %s, want 10.0.1.8", got)
	}
	if got, _ := a.AutoPort("tcp", "api"); got != 30006 {
		t.Errorf("next automatic port %d, want 30006", got)
	}
	if got, _ := a.AutoPort("udp", "api"); got != 30000 {
		t.Errorf("next automatic udp port %d, want 30000", got)
	}
	n, err := a.AddNetwork(NetworkRequest{ID: "n-new"})
	if err != nil || n.Subnet != pfx("10.0.2.0/24") {
		t.Errorf("next network %v, %v; want 10.0.2.0/24", n.Subnet, err)
	}
	err = a.ReservePort("tcp", 8080, "api")
	wantErr(t, err, ErrConflict, "port 8080/tcp is already published by service web")
}

func TestRebuildCursors(t *testing.T) {
	s := clusterState()
	s.Networks[1].Cursor = addr("10.0.1.3")
	s.Networks[0].Cursor = addr("10.0.0.255") // the broadcast address: not a cursor, ignored
	s.NextAutoPort = map[string]uint32{"tcp": 31000, "udp": 80}
	a := newAllocator(t, Config{})
	if problems := a.Rebuild(s); len(problems) != 0 {
		t.Fatal(problems)
	}
	if got, _ := a.Allocate("n-web", "t-new"); got != addr("10.0.1.6") {
		t.Errorf("with the cursor at 10.0.1.3, got %s, want the first free after it, 10.0.1.6", got)
	}
	if got, _ := a.Allocate("n-ingress", "t-new"); got != addr("10.0.0.5") {
		t.Errorf("without a usable cursor, got %s, want 10.0.0.5", got)
	}
	if got := a.NextAutoPort("tcp"); got != 31000 {
		t.Errorf("NextAutoPort(tcp) = %d, want the carried 31000", got)
	}
	if got := a.NextAutoPort("udp"); got != AutoPortFirst {
		t.Errorf("NextAutoPort(udp) = %d, want %d (80 is outside the range)", got, AutoPortFirst)
	}
}

func TestRebuildProblems(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *State)
		want   []string // Problem.Error() in order
		kinds  []error
		check  func(t *testing.T, a *Allocator)
	}{
		{name: "two tasks with one IP",
			change: func(s *State) {
				s.Tasks = append(s.Tasks, TaskState{ID: "t-web0", Addresses: []Attachment{at("n-web", "10.0.1.7/24")}})
			},
			want:  []string{"task t-web2: address 10.0.1.7 on network webnet is also task t-web0's"},
			kinds: []error{ErrConflict},
			check: func(t *testing.T, a *Allocator) {
				if got, _ := a.Address("n-web", "t-web0"); got != addr("10.0.1.7") {
					t.Errorf("the first task by ID keeps the address, got %s", got)
				}
				if _, ok := a.Address("n-web", "t-web2"); ok {
					t.Errorf("the loser holds an address")
				}
				if got, _ := a.Address("n-ingress", "t-web2"); got != addr("10.0.0.4") {
					t.Errorf("the loser lost its other addresses: %s", got)
				}
			}},
		{name: "a task on a VIP",
			change: func(s *State) { s.Tasks[2].Addresses[0] = at("n-web", "10.0.1.2/24") },
			want:   []string{"task t-shell1: address 10.0.1.2 on network webnet is also service s-web's"},
			kinds:  []error{ErrConflict}},
		{name: "two VIPs alike",
			change: func(s *State) { s.Services[1].VIPs[0] = at("n-web", "10.0.1.2/24") },
			want:   []string{"service s-web: address 10.0.1.2 on network webnet is also service s-shell's"},
			kinds:  []error{ErrConflict}},
		{name: "task on the gateway, network and broadcast address, outside the subnet",
			change: func(s *State) {
				s.Tasks = append(s.Tasks,
					TaskState{ID: "t-a", Addresses: []Attachment{at("n-web", "10.0.1.1/24")}},
					TaskState{ID: "t-b", Addresses: []Attachment{at("n-web", "10.0.1.0/24")}},
					TaskState{ID: "t-c", Addresses: []Attachment{at("n-web", "10.0.1.255/24")}},
					TaskState{ID: "t-d", Addresses: []Attachment{at("n-web", "10.0.9.9/24")}},
					TaskState{ID: "t-e", Addresses: []Attachment{{Network: "n-web"}}},
				)
			},
			want: []string{
				"task t-a: address 10.0.1.1 is the gateway of network webnet",
				"task t-b: address 10.0.1.0 is the network address of network webnet's subnet 10.0.1.0/24",
				"task t-c: address 10.0.1.255 is the broadcast address of network webnet's subnet 10.0.1.0/24",
				"task t-d: address 10.0.9.9 is outside network webnet's subnet 10.0.1.0/24",
				"task t-e: an empty address on network webnet",
			},
			kinds: []error{ErrConflict, ErrInvalid, ErrInvalid, ErrInvalid, ErrInvalid}},
		{name: "a task with two addresses on one network",
			change: func(s *State) {
				s.Tasks[2].Addresses = append(s.Tasks[2].Addresses, at("n-web", "10.0.1.9/24"), at("n-web", "10.0.1.5/24"))
			},
			want:  []string{"task t-shell1: t-shell1 already holds 10.0.1.5 on network webnet"},
			kinds: []error{ErrConflict}},
		{name: "an address on a network that is not allocated",
			change: func(s *State) { s.Tasks[0].Addresses[0].Network = "n-gone" },
			want:   []string{`task t-web1: address 10.0.0.3/24 is on network "n-gone", which is not allocated`},
			kinds:  []error{ErrNotFound}},
		{name: "IDs listed twice or shared",
			change: func(s *State) {
				s.Tasks = append(s.Tasks, TaskState{ID: "t-web1", Addresses: []Attachment{at("n-web", "10.0.1.99/24")}},
					TaskState{ID: "s-shell", Addresses: []Attachment{at("n-web", "10.0.1.3/24")}},
					TaskState{ID: ""})
				s.Services = append(s.Services, ServiceState{ID: "s-web", Name: "web2"})
			},
			want: []string{
				"service s-web: service s-web is listed twice; only the first was recorded",
				"task : a task without an ID",
				"task s-shell: ID s-shell is also a service's; none of this task's addresses were recorded",
				"task t-web1: task t-web1 is listed twice; only the first was recorded",
			},
			kinds: []error{ErrConflict, ErrInvalid, ErrConflict, ErrConflict},
			check: func(t *testing.T, a *Allocator) {
				if _, ok := a.Address("n-web", "t-web1"); !ok {
					t.Error("the first t-web1 lost its address")
				}
				if err := a.Reserve("n-web", "x", addr("10.0.1.99")); err != nil {
					t.Errorf("the second t-web1's address was recorded: %v", err)
				}
			}},
		{name: "two services publish one port; one service name twice",
			change: func(s *State) {
				s.Services = append(s.Services,
					ServiceState{ID: "s-x-api", Name: "api", Ports: []PublishedPort{{Protocol: "TCP", Port: 8080}, {Protocol: "udp", Port: 8080}}},
					ServiceState{ID: "s-zzz", Name: "web", Ports: []PublishedPort{{Protocol: "tcp", Port: 9999}}},
					ServiceState{ID: "s-bad", Name: "bad", Ports: []PublishedPort{{Protocol: "tcp", Port: 0}, {Protocol: "tcp", Port: 1, Mode: "mesh"}, {Protocol: "gre", Port: 2}}},
				)
			},
			want: []string{
				`service s-bad: invalid protocol "gre": must be tcp, udp or sctp`,
				`service s-bad: invalid published port 0: must be from 1 to 65535`,
				`service s-bad: published port 1/tcp has publish mode "mesh"; want ingress or host`,
				"service s-x-api: port 8080/tcp is already published by service web",
				"service s-zzz: service name web is also service s-web's; its published ports were not recorded",
			},
			kinds: []error{ErrInvalid, ErrInvalid, ErrInvalid, ErrConflict, ErrConflict},
			check: func(t *testing.T, a *Allocator) {
				if owner, _ := a.PortOwner("udp", 8080); owner != "api" {
					t.Errorf("api's other port was not kept: owner %q", owner)
				}
				if _, ok := a.PortOwner("tcp", 9999); ok {
					t.Errorf("the duplicate name's port was recorded")
				}
			}},
		{name: "networks that overlap, bad or missing subnets",
			change: func(s *State) {
				s.Networks = append(s.Networks,
					NetworkState{ID: "n-dup", Name: "copy", Subnet: pfx("10.0.1.128/25")},
					NetworkState{ID: "n-none", Name: "pending"},
					NetworkState{ID: "n-v6", Name: "six", Subnet: pfx("fd00::/64")},
					NetworkState{ID: "n-gw", Name: "gw", Subnet: pfx("10.0.7.0/24"), Gateway: addr("10.0.8.1")},
					NetworkState{ID: "n-web", Name: "again", Subnet: pfx("10.0.3.0/24")},
					NetworkState{Name: "anonymous", Subnet: pfx("10.0.4.0/24")},
				)
				s.Tasks = append(s.Tasks, TaskState{ID: "t-dup", Addresses: []Attachment{at("n-dup", "10.0.1.130/25")}})
			},
			want: []string{
				`network : network "anonymous" has no ID`,
				`network n-gw: network gw: invalid --gateway "10.0.8.1": outside the subnet 10.0.7.0/24`,
				"network n-none: network pending has no subnet recorded; leave it out of the state and add it after Rebuild",
				`network n-v6: network six: invalid --subnet "fd00::/64": only IPv4 subnets are supported`,
				"network n-web: network again is listed twice",
				"network n-web: network webnet: subnet 10.0.1.0/24 overlaps network copy's 10.0.1.128/25",
			},
			kinds: []error{ErrInvalid, ErrInvalid, ErrInvalid, ErrInvalid, ErrConflict, ErrConflict},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := clusterState()
			tt.change(&s)
			a := newAllocator(t, Config{})
			problems := a.Rebuild(s)
			checkConsistent(t, a)
			var got []string
			for _, p := range problems {
				got = append(got, p.Error())
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("problems:\n %q\nwant\n %q", got, tt.want)
			}
			for _, p := range problems {
				i := slices.Index(tt.want, p.Error())
				if !errors.Is(p, tt.kinds[i]) {
					t.Errorf("problem %q is not %v", p, tt.kinds[i])
				}
			}
			checkNoDuplicates(t, a)
			if tt.check != nil {
				tt.check(t, a)
			}
		})
	}
}

// Overlapping networks from a corrupt state are both kept, and a new network avoids both.
func TestRebuildOverlappingNetworksKept(t *testing.T) {
	a := newAllocator(t, Config{})
	problems := a.Rebuild(State{Networks: []NetworkState{
		{ID: "a", Subnet: pfx("10.0.0.0/23")},
		{ID: "b", Subnet: pfx("10.0.1.0/24")},
		{ID: "c", Subnet: pfx("10.0.2.0/24")},
	}})
	if len(problems) != 1 || problems[0].ID != "b" || problems[0].Network != "b" || problems[0].Kind != "network" {
		t.Fatalf("problems %+v, want one for network b", problems)
	}
	for _, id := range []string{"a", "b", "c"} {
		if _, ok := a.Network(id); !ok {
			t.Errorf("network %s dropped", id)
		}
	}
	if n, err := a.AddNetwork(NetworkRequest{ID: "d"}); err != nil || n.Subnet != pfx("10.0.3.0/24") {
		t.Fatalf("new network %v, %v; want 10.0.3.0/24", n.Subnet, err)
	}
}

// The result of Rebuild does not depend on the order the store lists things in.
func TestRebuildDeterministic(t *testing.T) {
	base := clusterState()
	base.Tasks = append(base.Tasks,
		TaskState{ID: "t-x", Addresses: []Attachment{at("n-web", "10.0.1.7/24"), at("n-ingress", "10.0.0.9/24")}},
		TaskState{ID: "t-y", Addresses: []Attachment{at("n-web", "10.0.1.7/24")}})
	base.Services = append(base.Services, ServiceState{ID: "s-api", Name: "api", Ports: []PublishedPort{{Port: 8080}}})
	ref := newAllocator(t, Config{})
	wantProblems := ref.Rebuild(base)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		s := State{
			Networks: slices.Clone(base.Networks),
			Services: slices.Clone(base.Services),
			Tasks:    slices.Clone(base.Tasks),
		}
		rng.Shuffle(len(s.Networks), func(i, j int) { s.Networks[i], s.Networks[j] = s.Networks[j], s.Networks[i] })
		rng.Shuffle(len(s.Services), func(i, j int) { s.Services[i], s.Services[j] = s.Services[j], s.Services[i] })
		rng.Shuffle(len(s.Tasks), func(i, j int) { s.Tasks[i], s.Tasks[j] = s.Tasks[j], s.Tasks[i] })
		for i := range s.Tasks {
			addrs := slices.Clone(s.Tasks[i].Addresses)
			rng.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
			s.Tasks[i].Addresses = addrs
		}
		a := newAllocator(t, Config{})
		problems := a.Rebuild(s)
		if !reflect.DeepEqual(problems, wantProblems) {
			t.Fatalf("problems %v, want %v", problems, wantProblems)
		}
		if !reflect.DeepEqual(a.networks, ref.networks) || !reflect.DeepEqual(a.ports, ref.ports) || !reflect.DeepEqual(a.pool, ref.pool) {
			t.Fatal("a shuffled state rebuilt differently")
		}
	}
}

// checkNoDuplicates checks through the public API that no address of any network and no
// port has two holders, and that subnets do not overlap unless the state made them.
func checkNoDuplicates(t rapid.TB, a *Allocator) {
	t.Helper()
	for _, s := range a.networks {
		seen := map[netip.Addr]string{s.gatewayAddr(): "(gateway)"}
		for owner := range s.owners {
			got, _ := a.Address(s.id, owner)
			if other, dup := seen[got]; dup {
				t.Fatalf("network %s: %s held by %s and %s", s.id, got, other, owner)
			}
			seen[got] = owner
		}
	}
}
