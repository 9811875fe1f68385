package dns

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/miekg/dns"
	"pgregory.net/rapid"
)

// TestAnswerProperties checks, over random clusters and askers, the invariants the traffic
// promise and network isolation rest on:
//   - no answer holds an address on a network the asker does not share;
//   - tasks.<service> is exactly the serving tasks' addresses on the shared networks of the service;
//   - a service resolves to its VIPs (or, dnsrr, to tasks.<service>) on those networks, and is
//     NXDOMAIN when it is on none of the asker's networks.
func TestAnswerProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r, addrNetwork := genRecords(t)
		table, err := NewTable(r)
		if err != nil {
			t.Fatalf("NewTable: %v", err)
		}
		var asker []string
		for _, n := range r.Networks {
			if rapid.Bool().Draw(t, "asker on "+n.ID) {
				asker = append(asker, n.ID)
			}
		}
		shared := func(n string) bool { return slices.Contains(asker, n) }

		var names []string
		for _, s := range r.Services {
			names = append(names, s.Name, "tasks."+s.Name)
		}
		for _, task := range r.Tasks {
			names = append(names, task.Name)
		}
		for _, name := range names {
			rrs, _ := Answer(table, asker, question(name, dns.TypeA))
			for _, rr := range rrs {
				a := netip.AddrFrom4([4]byte(rr.(*dns.A).A.To4()))
				if !shared(addrNetwork[a]) {
					t.Fatalf("%s answered %s, on network %s, to an asker on %v", name, a, addrNetwork[a], asker)
				}
			}
		}

		for _, s := range r.Services {
			var onShared []ServiceNetwork
			for _, sn := range s.Networks {
				if shared(sn.Network) {
					onShared = append(onShared, sn)
				}
			}
			var serving []string
			for _, task := range r.Tasks {
				if task.ServiceID != s.ID || !servesByDesign(task) {
					continue
				}
				for _, a := range task.Addresses {
					if slices.ContainsFunc(onShared, func(sn ServiceNetwork) bool { return sn.Network == a.Network }) {
						serving = append(serving, a.IP.String())
					}
				}
			}
			var vips []string
			for _, sn := range onShared {
				if sn.VIP.IsValid() {
					vips = append(vips, sn.VIP.String())
				}
			}
			wantService := vips
			if s.EndpointMode == EndpointDNSRR {
				wantService = serving
			}
			checkAnswer(t, table, asker, s.Name, len(onShared) > 0, wantService)
			checkAnswer(t, table, asker, "tasks."+s.Name, len(onShared) > 0, serving)
		}
	})
}

// servesByDesign is DESIGN.md's rule, written apart from Task.Serving so that the property checks
// the code against the rule rather than against itself.
func servesByDesign(task Task) bool {
	healthy := task.Health == HealthNone || task.Health == HealthHealthy
	return task.Running && healthy && !task.Draining
}

func checkAnswer(t *rapid.T, table *Table, asker []string, name string, exists bool, want []string) {
	rrs, rcode := Answer(table, asker, question(name, dns.TypeA))
	if !exists {
		if rcode != dns.RcodeNameError {
			t.Fatalf("%s from %v: %s %v, want NXDOMAIN", name, asker, dns.RcodeToString[rcode], briefAll(rrs))
		}
		return
	}
	if rcode != dns.RcodeSuccess {
		t.Fatalf("%s from %v: %s, want NOERROR", name, asker, dns.RcodeToString[rcode])
	}
	var got []string
	for _, rr := range rrs {
		got = append(got, rr.(*dns.A).A.String())
	}
	byAddr := func(a, b string) int { return netip.MustParseAddr(a).Compare(netip.MustParseAddr(b)) }
	slices.SortFunc(got, byAddr)
	slices.SortFunc(want, byAddr)
	if !slices.Equal(got, want) {
		t.Fatalf("%s from %v = %v, want %v", name, asker, got, want)
	}
}

// genRecords draws a cluster with unique addresses, and says which network each address is on.
func genRecords(t *rapid.T) (Records, map[netip.Addr]string) {
	var r Records
	addrNetwork := map[netip.Addr]string{}
	next := map[int]byte{}
	newAddr := func(netIndex int) netip.Addr {
		next[netIndex]++
		a := netip.AddrFrom4([4]byte{10, 0, byte(netIndex), next[netIndex]})
		addrNetwork[a] = fmt.Sprintf("n%d", netIndex)
		return a
	}
	nNetworks := rapid.IntRange(1, 3).Draw(t, "networks")
	for i := range nNetworks {
		r.Networks = append(r.Networks, Network{ID: fmt.Sprintf("n%d", i), Name: fmt.Sprintf("net%d", i)})
	}
	nServices := rapid.IntRange(0, 3).Draw(t, "services")
	for i := range nServices {
		s := Service{ID: fmt.Sprintf("id%d", i), Name: fmt.Sprintf("s%d", i), EndpointMode: EndpointVIP}
		if rapid.Bool().Draw(t, "dnsrr") {
			s.EndpointMode = EndpointDNSRR
		}
		for n := range nNetworks {
			if !rapid.Bool().Draw(t, "service on network") {
				continue
			}
			sn := ServiceNetwork{Network: fmt.Sprintf("n%d", n)}
			if s.EndpointMode == EndpointVIP && rapid.IntRange(0, 9).Draw(t, "vip allocated") > 0 {
				sn.VIP = newAddr(n)
			}
			s.Networks = append(s.Networks, sn)
		}
		r.Services = append(r.Services, s)
	}
	nTasks := rapid.IntRange(0, 8).Draw(t, "tasks")
	for i := range nTasks {
		svc := rapid.IntRange(-1, nServices-1).Draw(t, "task service")
		task := Task{
			ID:       fmt.Sprintf("t%d", i),
			Slot:     i + 1,
			Running:  rapid.IntRange(0, 3).Draw(t, "running") > 0,
			Health:   Health(rapid.IntRange(int(HealthNone), int(HealthUnhealthy)).Draw(t, "health")),
			Draining: rapid.IntRange(0, 4).Draw(t, "draining") == 0,
		}
		if svc >= 0 {
			task.ServiceID = r.Services[svc].ID
			task.Name = fmt.Sprintf("%s.%d.%s", r.Services[svc].Name, task.Slot, task.ID)
		} else {
			task.ServiceID = "gone"
			task.Name = fmt.Sprintf("gone.%d.%s", task.Slot, task.ID)
		}
		for n := range nNetworks {
			if rapid.Bool().Draw(t, "task on network") {
				task.Addresses = append(task.Addresses, Attachment{Network: fmt.Sprintf("n%d", n), IP: newAddr(n)})
			}
		}
		r.Tasks = append(r.Tasks, task)
	}
	return r, addrNetwork
}
