package overlay

import (
	"net/netip"
	"slices"
	"testing"
)

var (
	planUnderlay = netip.MustParseAddr("192.168.250.1")
	planVTEP2    = netip.MustParseAddr("192.168.250.2")
	planVTEP3    = netip.MustParseAddr("192.168.250.3")
	netA         = Network{ID: "net-a", VNI: 4242, Subnet: netip.MustParsePrefix("10.99.0.0/24"), Gateway: netip.MustParseAddr("10.99.0.1")}
	netB         = Network{ID: "net-b", VNI: 7, Subnet: netip.MustParsePrefix("10.98.0.0/24")}
)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func taskOn(n Network, task, addr string) LocalEndpoint {
	return LocalEndpoint{TaskID: task, NetworkID: n.ID, IP: ip(addr), IfName: "eth0", NetnsPath: "/run/netns/" + task}
}

func remoteOn(n Network, addr string, vtep netip.Addr) RemoteEndpoint {
	return RemoteEndpoint{NetworkID: n.ID, IP: ip(addr), VTEP: vtep}
}

// converged is what the kernel holds once d has been applied to an empty node.
func converged(t *testing.T, d Desired) Observed {
	t.Helper()
	k := newFakeKernel(1500)
	if err := Apply(k, Plan(d, Observed{UnderlayMTU: 1500})); err != nil {
		t.Fatalf("applying to an empty node: %v", err)
	}
	o, _ := k.Observe(d.UnderlayIP)
	return o
}

// with returns a copy of o changed by edit, for drifted kernels.
func with(o Observed, edit func(n *ObservedNetwork)) Observed {
	k := newFakeKernel(0)
	k.load(o) // deep enough a copy
	c, _ := k.Observe(netip.Addr{})
	for i := range c.Networks {
		edit(&c.Networks[i])
	}
	return c
}

func TestPlan(t *testing.T) {
	base := Desired{UnderlayIP: planUnderlay, Networks: []Network{netA},
		Local:  []LocalEndpoint{taskOn(netA, "task-a", "10.99.0.2")},
		Remote: []RemoteEndpoint{remoteOn(netA, "10.99.0.3", planVTEP2)}}
	baseObserved := converged(t, base)
	change := func(edit func(d *Desired)) Desired {
		d := base
		d.Networks = slices.Clone(base.Networks)
		d.Local = slices.Clone(base.Local)
		d.Remote = slices.Clone(base.Remote)
		edit(&d)
		return d
	}

	tests := []struct {
		name     string
		desired  Desired
		observed Observed
		want     []string
	}{
		{
			name: "nothing desired, nothing there",
		},
		{
			name: "a network with no local task is not realised",
			desired: Desired{UnderlayIP: planUnderlay, Networks: []Network{netA},
				Remote: []RemoteEndpoint{remoteOn(netA, "10.99.0.3", planVTEP2)}},
			observed: Observed{UnderlayMTU: 1500},
		},
		{
			name:     "a pinned network is realised without tasks",
			desired:  Desired{UnderlayIP: planUnderlay, Networks: []Network{{ID: "ingress", VNI: 4096, Subnet: netip.MustParsePrefix("10.0.0.0/24"), Pinned: true}}},
			observed: Observed{UnderlayMTU: 1500},
			want: []string{
				"vni 4096: create sandbox",
				"vni 4096: create bridge sbr4096 network=ingress mtu 1450",
				"vni 4096: create vxlan svx4096 local 192.168.250.1 mtu 1450",
			},
		},
		{
			name:     "add a network with a local and a remote task",
			desired:  base,
			observed: Observed{UnderlayMTU: 1500},
			want: []string{
				"vni 4242: create sandbox",
				"vni 4242: create bridge sbr4242 network=net-a mtu 1450",
				"vni 4242: create vxlan svx4242 local 192.168.250.1 mtu 1450",
				"vni 4242: add address 10.99.0.1/24 to sbr4242",
				"vni 4242: add endpoint sve0a630002 task=task-a eth0@/run/netns/task-a 10.99.0.2/24 02:42:0a:63:00:02 mtu 1450",
				"vni 4242: add fdb 02:42:0a:63:00:03 dst 192.168.250.2",
				"vni 4242: add bridge fdb 02:42:0a:63:00:03 port svx4242",
				"vni 4242: add neigh 10.99.0.3 lladdr 02:42:0a:63:00:03",
			},
		},
		{
			name:     "planning again once converged gives nothing",
			desired:  base,
			observed: baseObserved,
		},
		{
			name: "add a local task",
			desired: change(func(d *Desired) {
				d.Local = append(d.Local, taskOn(netA, "task-c", "10.99.0.4"))
			}),
			observed: baseObserved,
			want: []string{
				"vni 4242: add endpoint sve0a630004 task=task-c eth0@/run/netns/task-c 10.99.0.4/24 02:42:0a:63:00:04 mtu 1450",
			},
		},
		{
			name:    "remove a local task while another stays",
			desired: base,
			observed: converged(t, change(func(d *Desired) {
				d.Local = append(d.Local, taskOn(netA, "task-c", "10.99.0.4"))
			})),
			want: []string{"vni 4242: delete link sve0a630004"},
		},
		{
			name:     "removing the last local task removes the network",
			desired:  change(func(d *Desired) { d.Local = nil }),
			observed: baseObserved,
			want:     []string{"vni 4242: delete network"},
		},
		{
			name: "add a remote task",
			desired: change(func(d *Desired) {
				d.Remote = append(d.Remote, remoteOn(netA, "10.99.0.5", planVTEP3))
			}),
			observed: baseObserved,
			want: []string{
				"vni 4242: add fdb 02:42:0a:63:00:05 dst 192.168.250.3",
				"vni 4242: add bridge fdb 02:42:0a:63:00:05 port svx4242",
				"vni 4242: add neigh 10.99.0.5 lladdr 02:42:0a:63:00:05",
			},
		},
		{
			name:     "remove a remote task",
			desired:  change(func(d *Desired) { d.Remote = nil }),
			observed: baseObserved,
			want: []string{
				"vni 4242: delete neigh 10.99.0.3",
				"vni 4242: delete bridge fdb 02:42:0a:63:00:03 port svx4242",
				"vni 4242: delete fdb 02:42:0a:63:00:03 dst 192.168.250.2",
			},
		},
		{
			name:     "a remote task moves to another node",
			desired:  change(func(d *Desired) { d.Remote[0].VTEP = planVTEP3 }),
			observed: baseObserved,
			want: []string{
				"vni 4242: delete fdb 02:42:0a:63:00:03 dst 192.168.250.2",
				"vni 4242: add fdb 02:42:0a:63:00:03 dst 192.168.250.3",
			},
		},
		{
			name: "a remote task moves here, keeping its IP, before the cluster state drops the remote",
			desired: change(func(d *Desired) {
				d.Local = append(d.Local, taskOn(netA, "task-b2", "10.99.0.3"))
			}),
			observed: baseObserved,
			want: []string{
				"vni 4242: delete neigh 10.99.0.3",
				"vni 4242: delete bridge fdb 02:42:0a:63:00:03 port svx4242",
				"vni 4242: delete fdb 02:42:0a:63:00:03 dst 192.168.250.2",
				"vni 4242: add endpoint sve0a630003 task=task-b2 eth0@/run/netns/task-b2 10.99.0.3/24 02:42:0a:63:00:03 mtu 1450",
			},
		},
		{
			name:    "stale entries, links, addresses and sandboxes are removed",
			desired: base,
			observed: func() Observed {
				o := with(baseObserved, func(n *ObservedNetwork) {
					n.FDB = append(n.FDB, FDBEntry{MAC: MACFromIP(ip("10.99.0.9")), VTEP: planVTEP3})
					n.BridgeFDB = append(n.BridgeFDB, BridgeFDBEntry{MAC: MACFromIP(ip("10.99.0.9"))})
					n.Neigh = []NeighEntry{{IP: ip("10.99.0.3"), MAC: MACFromIP(ip("10.99.0.3"))}} // not permanent
					n.StrayLinks = []string{"junk0"}
					n.Bridge.Addrs = append(n.Bridge.Addrs, netip.MustParsePrefix("10.99.0.254/24"))
					n.Endpoints = append(n.Endpoints, ObservedEndpoint{Veth: "sve0a630008", IP: ip("10.99.0.8"), TaskID: "gone", IfName: "eth0", MTU: 1450, OnBridge: true, Up: true})
				})
				o.Networks = append(o.Networks, ObservedNetwork{VNI: 99999})
				return o
			}(),
			want: []string{
				"vni 4242: delete neigh 10.99.0.3",
				"vni 4242: delete bridge fdb 02:42:0a:63:00:09 port svx4242",
				"vni 4242: delete fdb 02:42:0a:63:00:09 dst 192.168.250.3",
				"vni 4242: delete link junk0",
				"vni 4242: delete link sve0a630008",
				"vni 4242: delete address 10.99.0.254/24 from sbr4242",
				"vni 4242: add neigh 10.99.0.3 lladdr 02:42:0a:63:00:03",
				"vni 99999: delete network",
			},
		},
		{
			name:    "a VXLAN device that learns is replaced and its entries programmed again",
			desired: base,
			observed: with(baseObserved, func(n *ObservedNetwork) {
				n.VXLAN.PortLearning = true
			}),
			want: []string{
				"vni 4242: delete link svx4242",
				"vni 4242: create vxlan svx4242 local 192.168.250.1 mtu 1450",
				"vni 4242: add fdb 02:42:0a:63:00:03 dst 192.168.250.2",
				"vni 4242: add bridge fdb 02:42:0a:63:00:03 port svx4242",
				"vni 4242: add neigh 10.99.0.3 lladdr 02:42:0a:63:00:03",
			},
		},
		{
			name:     "the underlay address changed: the VXLAN device is replaced",
			desired:  change(func(d *Desired) { d.UnderlayIP = ip("192.168.250.9") }),
			observed: baseObserved,
			want: []string{
				"vni 4242: delete link svx4242",
				"vni 4242: create vxlan svx4242 local 192.168.250.9 mtu 1450",
				"vni 4242: add fdb 02:42:0a:63:00:03 dst 192.168.250.2",
				"vni 4242: add bridge fdb 02:42:0a:63:00:03 port svx4242",
				"vni 4242: add neigh 10.99.0.3 lladdr 02:42:0a:63:00:03",
			},
		},
		{
			name:    "a sandbox whose VNI now belongs to another network is rebuilt",
			desired: base,
			observed: with(baseObserved, func(n *ObservedNetwork) {
				n.Bridge.NetworkID = "old-network"
			}),
			want: []string{
				"vni 4242: delete network",
				"vni 4242: create sandbox",
				"vni 4242: create bridge sbr4242 network=net-a mtu 1450",
				"vni 4242: create vxlan svx4242 local 192.168.250.1 mtu 1450",
				"vni 4242: add address 10.99.0.1/24 to sbr4242",
				"vni 4242: add endpoint sve0a630002 task=task-a eth0@/run/netns/task-a 10.99.0.2/24 02:42:0a:63:00:02 mtu 1450",
				"vni 4242: add fdb 02:42:0a:63:00:03 dst 192.168.250.2",
				"vni 4242: add bridge fdb 02:42:0a:63:00:03 port svx4242",
				"vni 4242: add neigh 10.99.0.3 lladdr 02:42:0a:63:00:03",
			},
		},
		{
			name:     "an unusable sandbox is rebuilt",
			desired:  base,
			observed: Observed{UnderlayMTU: 1500, Networks: []ObservedNetwork{{VNI: 4242, Unusable: true}}},
			want:     append([]string{"vni 4242: delete network"}, opStrings(Plan(base, Observed{UnderlayMTU: 1500}))...),
		},
		{
			name:    "a half-made sandbox (no bridge) is completed",
			desired: base,
			observed: with(baseObserved, func(n *ObservedNetwork) {
				*n = ObservedNetwork{VNI: n.VNI}
			}),
			want: opStrings(Plan(base, Observed{UnderlayMTU: 1500}))[1:],
		},
		{
			name:     "an endpoint now holding another task is replaced",
			desired:  change(func(d *Desired) { d.Local[0].TaskID = "task-a2"; d.Local[0].NetnsPath = "/run/netns/task-a2" }),
			observed: baseObserved,
			want: []string{
				"vni 4242: delete link sve0a630002",
				"vni 4242: add endpoint sve0a630002 task=task-a2 eth0@/run/netns/task-a2 10.99.0.2/24 02:42:0a:63:00:02 mtu 1450",
			},
		},
		{
			name:    "the underlay MTU changes: every device follows, ports before the bridge",
			desired: base,
			observed: func() Observed {
				o := with(baseObserved, func(*ObservedNetwork) {})
				o.UnderlayMTU = 9000
				return o
			}(),
			want: []string{
				"vni 4242: set svx4242 mtu 8950",
				"vni 4242: set endpoint sve0a630002 mtu 8950",
				"vni 4242: set sbr4242 mtu 8950",
			},
		},
		{
			name:     "a network's own MTU wins over the underlay's",
			desired:  change(func(d *Desired) { d.Networks[0].MTU = 1400 }),
			observed: baseObserved,
			want: []string{
				"vni 4242: set svx4242 mtu 1400",
				"vni 4242: set endpoint sve0a630002 mtu 1400",
				"vni 4242: set sbr4242 mtu 1400",
			},
		},
		{
			name: "remotes on this node's VTEP are ignored; of two with one IP the lower VTEP wins",
			desired: change(func(d *Desired) {
				d.Remote = []RemoteEndpoint{
					remoteOn(netA, "10.99.0.3", planVTEP3),
					remoteOn(netA, "10.99.0.3", planVTEP2),
					remoteOn(netA, "10.99.0.6", planUnderlay),
				}
			}),
			observed: baseObserved,
		},
		{
			name: "remotes on another network are not programmed here",
			desired: change(func(d *Desired) {
				d.Networks = append(d.Networks, netB)
				d.Remote = append(d.Remote, remoteOn(netB, "10.98.0.3", planVTEP2))
			}),
			observed: baseObserved,
		},
		{
			name:     "a gateway change moves the bridge address",
			desired:  change(func(d *Desired) { d.Networks[0].Gateway = ip("10.99.0.254") }),
			observed: baseObserved,
			want: []string{
				"vni 4242: delete address 10.99.0.1/24 from sbr4242",
				"vni 4242: add address 10.99.0.254/24 to sbr4242",
			},
		},
		{
			name:    "leaving: nothing desired removes every network",
			desired: Desired{},
			observed: converged(t, change(func(d *Desired) {
				d.Networks = append(d.Networks, netB)
				d.Local = append(d.Local, taskOn(netB, "task-b", "10.98.0.2"))
			})),
			want: []string{"vni 7: delete network", "vni 4242: delete network"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.desired.Validate(); err != nil {
				t.Fatalf("test desired state is invalid: %v", err)
			}
			got := opStrings(Plan(tt.desired, tt.observed))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Plan:\n got:\n%s want:\n%s", joinLines(got), joinLines(tt.want))
			}
			// Applying the plan converges: planning again gives nothing.
			k := newFakeKernel(0)
			k.load(tt.observed)
			if err := Apply(k, Plan(tt.desired, tt.observed)); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			o, _ := k.Observe(tt.desired.UnderlayIP)
			if again := opStrings(Plan(tt.desired, o)); len(again) > 0 {
				t.Errorf("planning again after applying gives:\n%s", joinLines(again))
			}
		})
	}
}

func TestPlanIsDeterministic(t *testing.T) {
	d := Desired{UnderlayIP: planUnderlay, Networks: []Network{netA, netB},
		Local: []LocalEndpoint{taskOn(netA, "a1", "10.99.0.2"), taskOn(netA, "a2", "10.99.0.3"), taskOn(netB, "b1", "10.98.0.2")},
		Remote: []RemoteEndpoint{remoteOn(netA, "10.99.0.9", planVTEP2), remoteOn(netA, "10.99.0.8", planVTEP3),
			remoteOn(netB, "10.98.0.7", planVTEP2), remoteOn(netA, "10.99.0.8", planVTEP2)}}
	want := opStrings(Plan(d, Observed{}))
	for range 20 {
		shuffled := d
		shuffled.Local = slices.Clone(d.Local)
		shuffled.Remote = slices.Clone(d.Remote)
		slices.Reverse(shuffled.Local)
		slices.Reverse(shuffled.Remote)
		if got := opStrings(Plan(shuffled, Observed{})); !slices.Equal(got, want) {
			t.Fatalf("the order of the desired state changed the plan:\n%s\nvs\n%s", joinLines(got), joinLines(want))
		}
	}
}

func TestApplySkipsABrokenNetworkOnly(t *testing.T) {
	k := newFakeKernel(1500)
	k.sandboxes[netA.VNI] = &fakeSandbox{unusable: true} // CreateSandbox will fail: "file exists"
	d := Desired{UnderlayIP: planUnderlay, Networks: []Network{netA, netB},
		Local: []LocalEndpoint{taskOn(netA, "a", "10.99.0.2"), taskOn(netB, "b", "10.98.0.2")}}
	ops := []Op{CreateSandbox{VNI: netA.VNI}, CreateBridge{VNI: netA.VNI, NetworkID: netA.ID, MTU: 1450}}
	ops = append(ops, Plan(d, Observed{UnderlayMTU: 1500})...)
	err := Apply(k, ops)
	if err == nil {
		t.Fatal("Apply succeeded though the sandbox could not be created")
	}
	for _, op := range k.applied[1:] {
		if op.vni() == netA.VNI {
			t.Errorf("ran %s after the network's sandbox failed", op)
		}
	}
	if s := k.sandboxes[netB.VNI]; s == nil || len(s.endpoints) != 1 {
		t.Errorf("the other network was not built: %+v", s)
	}
}

func TestMACFromIP(t *testing.T) {
	if got := MACFromIP(ip("10.99.0.3")).String(); got != "02:42:0a:63:00:03" {
		t.Errorf("MACFromIP = %s", got)
	}
}

func TestNames(t *testing.T) {
	for _, name := range []string{bridgeName(maxVNI), vxlanName(maxVNI), vethName(ip("255.255.255.255"))} {
		if len(name) > 15 {
			t.Errorf("%s is longer than IFNAMSIZ allows", name)
		}
	}
	for _, addr := range []string{"10.0.0.2", "255.255.255.255", "0.0.0.0"} {
		got, ok := parseVethName(vethName(ip(addr)))
		if !ok || got != ip(addr) {
			t.Errorf("parseVethName(vethName(%s)) = %v, %v", addr, got, ok)
		}
	}
	for _, bad := range []string{"sve0a63000", "sve0a6300021", "sveZZ630002", "svx4242", "eth0"} {
		if _, ok := parseVethName(bad); ok {
			t.Errorf("parseVethName(%q) accepted", bad)
		}
	}
	task, ifName, ok := parseVethAlias(vethAlias("t1", "eth1"))
	if !ok || task != "t1" || ifName != "eth1" {
		t.Errorf("parseVethAlias = %q %q %v", task, ifName, ok)
	}
	k, _ := NewNetlink(Config{SandboxPrefix: "p-"})
	for name, want := range map[string]bool{"p-4242": true, "p-0": false, "p-04242": false, "p-16777216": false, "p-x": false, "q-1": false} {
		if _, ok := k.sandboxVNI(name); ok != want {
			t.Errorf("sandboxVNI(%q) ok = %v, want %v", name, ok, want)
		}
	}
}

func TestValidate(t *testing.T) {
	good := Desired{UnderlayIP: planUnderlay, Networks: []Network{netA},
		Local:  []LocalEndpoint{taskOn(netA, "task-a", "10.99.0.2")},
		Remote: []RemoteEndpoint{remoteOn(netA, "10.99.0.3", planVTEP2)}}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid state refused: %v", err)
	}
	tests := map[string]func(d *Desired){
		"no underlay":         func(d *Desired) { d.UnderlayIP = netip.Addr{} },
		"VNI zero":            func(d *Desired) { d.Networks[0].VNI = 0 },
		"VNI too big":         func(d *Desired) { d.Networks[0].VNI = maxVNI + 1 },
		"subnet not masked":   func(d *Desired) { d.Networks[0].Subnet = netip.MustParsePrefix("10.99.0.1/24") },
		"IPv6 subnet":         func(d *Desired) { d.Networks[0].Subnet = netip.MustParsePrefix("fd00::/64") },
		"gateway outside":     func(d *Desired) { d.Networks[0].Gateway = ip("10.1.0.1") },
		"MTU too small":       func(d *Desired) { d.Networks[0].MTU = 10 },
		"duplicate network":   func(d *Desired) { d.Networks = append(d.Networks, netA) },
		"duplicate VNI":       func(d *Desired) { n := netB; n.VNI = netA.VNI; d.Networks = append(d.Networks, n) },
		"unknown network":     func(d *Desired) { d.Local[0].NetworkID = "nope" },
		"IP outside subnet":   func(d *Desired) { d.Local[0].IP = ip("10.1.0.2") },
		"IP is the gateway":   func(d *Desired) { d.Local[0].IP = netA.Gateway },
		"long interface name": func(d *Desired) { d.Local[0].IfName = "eth0123456789012" },
		"relative netns path": func(d *Desired) { d.Local[0].NetnsPath = "run/netns/x" },
		"empty task ID":       func(d *Desired) { d.Local[0].TaskID = "" },
		"multicast MAC":       func(d *Desired) { d.Local[0].MAC = MAC{1, 0, 0, 0, 0, 1} },
		"duplicate local IP":  func(d *Desired) { d.Local = append(d.Local, taskOn(netA, "task-x", "10.99.0.2")) },
		"interface taken": func(d *Desired) {
			e := taskOn(netA, "task-x", "10.99.0.9")
			e.NetnsPath = d.Local[0].NetnsPath
			d.Local = append(d.Local, e)
		},
		"remote on unknown network": func(d *Desired) { d.Remote[0].NetworkID = "nope" },
		"remote without VTEP":       func(d *Desired) { d.Remote[0].VTEP = netip.Addr{} },
	}
	for name, edit := range tests {
		t.Run(name, func(t *testing.T) {
			d := good
			d.Networks = slices.Clone(good.Networks)
			d.Local = slices.Clone(good.Local)
			d.Remote = slices.Clone(good.Remote)
			edit(&d)
			if err := d.Validate(); err == nil {
				t.Error("Validate accepted it")
			}
		})
	}
}
