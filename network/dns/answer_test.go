package dns

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/miekg/dns"
)

func TestAnswer(t *testing.T) {
	table := fixtureTable(t)
	const (
		ok = dns.RcodeSuccess
		nx = dns.RcodeNameError
	)
	tests := []struct {
		name  string
		asker []string
		q     dns.Question
		rcode int
		want  []string
	}{
		// service → its VIP on each shared network
		{"vip on the shared network", askerFront, question("web.", dns.TypeA), ok, []string{"A 10.0.1.2 ttl=2"}},
		{"one vip per shared network", askerBoth, question("web.", dns.TypeA), ok, []string{"A 10.0.1.2 ttl=2", "A 10.0.2.2 ttl=2"}},
		{"vip on the other network", askerBack, question("web.", dns.TypeA), ok, []string{"A 10.0.2.2 ttl=2"}},
		{"service on no shared network", askerOther, question("web.", dns.TypeA), nx, nil},
		{"asker on no network", nil, question("web.", dns.TypeA), nx, nil},
		{"service with no task keeps its vip", askerFront, question("lonely.", dns.TypeA), ok, []string{"A 10.0.1.9 ttl=2"}},
		{"ANY is answered like A", askerFront, question("web.", dns.TypeANY), ok, []string{"A 10.0.1.2 ttl=2"}},

		// names: case, trailing dot
		{"upper case", askerFront, question("WEB.", dns.TypeA), ok, []string{"A 10.0.1.2 ttl=2"}},
		{"mixed case, no trailing dot", askerFront, question("Tasks.Web", dns.TypeA), ok, []string{"A 10.0.1.3 ttl=0", "A 10.0.1.4 ttl=0"}},

		// tasks.service → running, healthy (or unchecked), not draining tasks on shared networks
		{"tasks on the shared network", askerFront, question("tasks.web.", dns.TypeA), ok, []string{"A 10.0.1.3 ttl=0", "A 10.0.1.4 ttl=0"}},
		{"tasks on the other network", askerBack, question("tasks.web.", dns.TypeA), ok, []string{"A 10.0.2.3 ttl=0", "A 10.0.2.4 ttl=0"}},
		{"tasks on both networks", askerBoth, question("tasks.web.", dns.TypeA), ok, []string{"A 10.0.1.3 ttl=0", "A 10.0.1.4 ttl=0", "A 10.0.2.3 ttl=0", "A 10.0.2.4 ttl=0"}},
		{"tasks of a service on no shared network", askerOther, question("tasks.web.", dns.TypeA), nx, nil},
		{"tasks of a service with none", askerFront, question("tasks.lonely.", dns.TypeA), ok, nil},
		{"tasks of an unknown service", askerFront, question("tasks.nothing.", dns.TypeA), nx, nil},
		{"tasks of a removed service", askerFront, question("tasks.old.", dns.TypeA), nx, nil},

		// dnsrr → every serving task's address
		{"dnsrr service", askerBack, question("db.", dns.TypeA), ok, []string{"A 10.0.2.10 ttl=0", "A 10.0.2.11 ttl=0"}},
		{"dnsrr tasks", askerBack, question("tasks.db.", dns.TypeA), ok, []string{"A 10.0.2.10 ttl=0", "A 10.0.2.11 ttl=0"}},
		{"dnsrr service on no shared network", askerFront, question("db.", dns.TypeA), nx, nil},

		// network-scoped aliases
		{"alias on its network", askerFront, question("www.", dns.TypeA), ok, []string{"A 10.0.1.2 ttl=2"}},
		{"alias only on its network", askerBoth, question("www.", dns.TypeA), ok, []string{"A 10.0.1.2 ttl=2"}},
		{"alias from another network", askerBack, question("www.", dns.TypeA), nx, nil},
		{"tasks of an alias", askerFront, question("tasks.www.", dns.TypeA), ok, []string{"A 10.0.1.3 ttl=0", "A 10.0.1.4 ttl=0"}},

		// a task's own names and containers' names
		{"task container name", askerFront, question("web.1.t1.", dns.TypeA), ok, []string{"A 10.0.1.3 ttl=0"}},
		{"task container name on both networks", askerBoth, question("web.1.t1.", dns.TypeA), ok, []string{"A 10.0.1.3 ttl=0", "A 10.0.2.3 ttl=0"}},
		{"task hostname", askerBack, question("t1host.", dns.TypeA), ok, []string{"A 10.0.2.3 ttl=0"}},
		{"task on no shared network", askerBack, question("web.3.t3.", dns.TypeA), nx, nil},
		{"starting task resolves by name", askerFront, question("web.3.t3.", dns.TypeA), ok, []string{"A 10.0.1.5 ttl=0"}},
		{"unhealthy task resolves by name", askerFront, question("web.5.t5.", dns.TypeA), ok, []string{"A 10.0.1.7 ttl=0"}},
		{"draining task resolves by name", askerFront, question("web.6.t6.", dns.TypeA), ok, []string{"A 10.0.1.8 ttl=0"}},
		{"stopped task does not", askerFront, question("web.4.t4.", dns.TypeA), nx, nil},
		{"orphan task by name", askerFront, question("old.1.o1.", dns.TypeA), ok, []string{"A 10.0.1.20 ttl=0"}},
		{"global task name", askerFront, question("agent.node1.g1.", dns.TypeA), ok, []string{"A 10.0.1.41 ttl=0"}},
		{"global task hostname", askerFront, question("g1host.", dns.TypeA), ok, []string{"A 10.0.1.41 ttl=0"}},
		{"container name", askerFront, question("debug.", dns.TypeA), ok, []string{"A 10.0.1.30 ttl=0"}},
		{"container hostname", askerFront, question("DebugHost", dns.TypeA), ok, []string{"A 10.0.1.30 ttl=0"}},
		{"container alias", askerFront, question("dbg.", dns.TypeA), ok, []string{"A 10.0.1.30 ttl=0"}},
		{"container on no shared network", askerBack, question("debug.", dns.TypeA), nx, nil},

		// Docker's name.network and the search domains
		{"name.network", askerBoth, question("web.frontnet.", dns.TypeA), ok, []string{"A 10.0.1.2 ttl=2"}},
		{"tasks.name.network", askerBoth, question("tasks.web.backnet.", dns.TypeA), ok, []string{"A 10.0.2.3 ttl=0", "A 10.0.2.4 ttl=0"}},
		{"task name.network", askerBoth, question("web.1.t1.backnet.", dns.TypeA), ok, []string{"A 10.0.2.3 ttl=0"}},
		{"name.network the asker is not on", askerFront, question("web.backnet.", dns.TypeA), nx, nil},
		{"name.network the service is not on", askerBoth, question("db.frontnet.", dns.TypeA), nx, nil},
		{"name.network, network name in upper case", askerFront, question("WEB.FRONTNET", dns.TypeA), ok, []string{"A 10.0.1.2 ttl=2"}},
		{"name under a search domain", askerFront, question("web.corp.example.", dns.TypeA), ok, []string{"A 10.0.1.2 ttl=2"}},
		{"tasks under a search domain", askerFront, question("tasks.web.corp.example.", dns.TypeA), ok, []string{"A 10.0.1.3 ttl=0", "A 10.0.1.4 ttl=0"}},
		{"name.network under a search domain", askerBoth, question("web.backnet.corp.example.", dns.TypeA), ok, []string{"A 10.0.2.2 ttl=2"}},
		{"search domain alone", askerFront, question("corp.example.", dns.TypeA), nx, nil},
		{"unknown name under a search domain", askerFront, question("nothing.corp.example.", dns.TypeA), nx, nil},

		// other types for known names; unknown names
		{"AAAA for a service", askerFront, question("web.", dns.TypeAAAA), ok, nil},
		{"AAAA for tasks", askerFront, question("tasks.web.", dns.TypeAAAA), ok, nil},
		{"AAAA for a task", askerFront, question("web.1.t1.", dns.TypeAAAA), ok, nil},
		{"MX for a service", askerFront, question("web.", dns.TypeMX), ok, nil},
		{"AAAA for an unknown name", askerFront, question("example.com.", dns.TypeAAAA), nx, nil},
		{"unknown name", askerFront, question("example.com.", dns.TypeA), nx, nil},
		{"AAAA for a service on no shared network", askerOther, question("web.", dns.TypeAAAA), nx, nil},

		// PTR
		{"PTR of a vip", askerFront, question("2.1.0.10.in-addr.arpa.", dns.TypePTR), ok, []string{"PTR web.frontnet. ttl=2"}},
		{"PTR of a task", askerBack, question("3.2.0.10.in-addr.arpa.", dns.TypePTR), ok, []string{"PTR web.1.t1.backnet. ttl=0"}},
		{"PTR of a global task", askerFront, question("41.1.0.10.IN-ADDR.ARPA", dns.TypePTR), ok, []string{"PTR agent.node1.g1.frontnet. ttl=0"}},
		{"PTR of a container", askerFront, question("30.1.0.10.in-addr.arpa.", dns.TypePTR), ok, []string{"PTR debug.frontnet. ttl=0"}},
		{"PTR of a dnsrr task", askerBack, question("10.2.0.10.in-addr.arpa.", dns.TypePTR), ok, []string{"PTR db.1.d1.backnet. ttl=0"}},
		{"PTR on no shared network", askerOther, question("2.1.0.10.in-addr.arpa.", dns.TypePTR), nx, nil},
		{"PTR of a stopped task", askerFront, question("6.1.0.10.in-addr.arpa.", dns.TypePTR), nx, nil},
		{"PTR of an unknown address", askerFront, question("1.1.1.10.in-addr.arpa.", dns.TypePTR), nx, nil},
		{"A for a known reverse name", askerFront, question("2.1.0.10.in-addr.arpa.", dns.TypeA), ok, nil},
		{"PTR of a partial reverse name", askerFront, question("1.0.10.in-addr.arpa.", dns.TypePTR), nx, nil},
		{"PTR with a leading zero", askerFront, question("02.1.0.10.in-addr.arpa.", dns.TypePTR), nx, nil},
		{"PTR of IPv6", askerFront, question("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.", dns.TypePTR), nx, nil},

		// classes
		{"class CHAOS is not ours", askerFront, dns.Question{Name: "web.", Qtype: dns.TypeA, Qclass: dns.ClassCHAOS}, nx, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rrs, rcode := Answer(table, tt.asker, tt.q)
			if rcode != tt.rcode {
				t.Fatalf("rcode %s, want %s (answers %v)", dns.RcodeToString[rcode], dns.RcodeToString[tt.rcode], briefAll(rrs))
			}
			if got := briefAll(rrs); !slices.Equal(got, append([]string{}, tt.want...)) {
				t.Errorf("answers\n got %q\nwant %q", got, tt.want)
			}
			for _, rr := range rrs {
				if rr.Header().Name != dns.Fqdn(tt.q.Name) {
					t.Errorf("record owner %q, want the name as asked, %q", rr.Header().Name, dns.Fqdn(tt.q.Name))
				}
			}
		})
	}
}

func TestAnswerNilTable(t *testing.T) {
	if rrs, rcode := Answer(nil, askerFront, question("web.", dns.TypeA)); rcode != dns.RcodeNameError || rrs != nil {
		t.Errorf("nil table: %v %s, want NXDOMAIN and nothing", briefAll(rrs), dns.RcodeToString[rcode])
	}
}

func TestAnswerServiceWithoutVIPYet(t *testing.T) {
	table, err := NewTable(Records{Services: []Service{
		{ID: "svc-new", Name: "new", Networks: []ServiceNetwork{{Network: netFront}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	rrs, rcode := Answer(table, askerFront, question("new.", dns.TypeA))
	if rcode != dns.RcodeSuccess || len(rrs) != 0 {
		t.Errorf("got %v %s, want NOERROR with no answer (the name exists, the address is coming)", briefAll(rrs), dns.RcodeToString[rcode])
	}
}

// A service removed and created again under the same name has a new ID; the old one's tasks,
// still draining, must not show up under the new one's name.
func TestAnswerTasksFollowServiceIDNotName(t *testing.T) {
	table, err := NewTable(Records{
		Services: []Service{{ID: "svc-new", Name: "web", Networks: []ServiceNetwork{{Network: netFront, VIP: ip("10.0.1.50")}}}},
		Tasks: []Task{
			{ID: "old", ServiceID: "svc-old", Name: "web.1.old", Running: true, Addresses: []Attachment{on(netFront, "10.0.1.51")}},
			{ID: "new", ServiceID: "svc-new", Slot: 1, Running: true, Addresses: []Attachment{on(netFront, "10.0.1.52")}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	rrs, _ := Answer(table, askerFront, question("tasks.web.", dns.TypeA))
	if got, want := briefAll(rrs), []string{"A 10.0.1.52 ttl=0"}; !slices.Equal(got, want) {
		t.Errorf("tasks.web = %q, want %q", got, want)
	}
}

// A task still on a network its service has left (until the update replaces it) is not an answer
// for the service on that network.
func TestAnswerTasksOnlyOnTheServiceNetworks(t *testing.T) {
	table, err := NewTable(Records{
		Services: []Service{{ID: "svc-web", Name: "web", Networks: []ServiceNetwork{{Network: netBack, VIP: ip("10.0.2.2")}}}},
		Tasks: []Task{{ID: "t1", ServiceID: "svc-web", Slot: 1, Running: true,
			Addresses: []Attachment{on(netFront, "10.0.1.3"), on(netBack, "10.0.2.3")}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rrs, rcode := Answer(table, askerFront, question("tasks.web.", dns.TypeA)); rcode != dns.RcodeNameError {
		t.Errorf("tasks.web from frontnet: %v %s, want NXDOMAIN", briefAll(rrs), dns.RcodeToString[rcode])
	}
	rrs, _ := Answer(table, askerBoth, question("tasks.web.", dns.TypeA))
	if got, want := briefAll(rrs), []string{"A 10.0.2.3 ttl=0"}; !slices.Equal(got, want) {
		t.Errorf("tasks.web from both = %q, want %q", got, want)
	}
}

func TestTaskServing(t *testing.T) {
	tests := []struct {
		task Task
		want bool
	}{
		{Task{Running: true}, true},
		{Task{Running: true, Health: HealthHealthy}, true},
		{Task{Running: true, Health: HealthStarting}, false},
		{Task{Running: true, Health: HealthUnhealthy}, false},
		{Task{Running: true, Draining: true}, false},
		{Task{Running: false}, false},
		{Task{Running: false, Health: HealthHealthy}, false},
	}
	for _, tt := range tests {
		if got := tt.task.Serving(); got != tt.want {
			t.Errorf("%+v.Serving() = %v, want %v", tt.task, got, tt.want)
		}
	}
}

func TestNewTableRefusesInconsistentRecords(t *testing.T) {
	vip := ip("10.0.1.2")
	tests := []struct {
		name string
		r    Records
	}{
		{"service without ID", Records{Services: []Service{{Name: "web"}}}},
		{"service without name", Records{Services: []Service{{ID: "a"}}}},
		{"service ID twice", Records{Services: []Service{{ID: "a", Name: "web"}, {ID: "a", Name: "api"}}}},
		{"service name twice", Records{Services: []Service{{ID: "a", Name: "web"}, {ID: "b", Name: "WEB"}}}},
		{"unknown endpoint mode", Records{Services: []Service{{ID: "a", Name: "web", EndpointMode: "round-robin"}}}},
		{"IPv6 VIP", Records{Services: []Service{{ID: "a", Name: "web", Networks: []ServiceNetwork{{Network: netFront, VIP: ip("fd00::2")}}}}}},
		{"service network without ID", Records{Services: []Service{{ID: "a", Name: "web", Networks: []ServiceNetwork{{VIP: vip}}}}}},
		{"task without ID", Records{Tasks: []Task{{Name: "web.1.x"}}}},
		{"task ID twice", Records{Tasks: []Task{{ID: "x", Name: "a"}, {ID: "x", Name: "b"}}}},
		{"task without name or service", Records{Tasks: []Task{{ID: "x", Running: true}}}},
		{"task with IPv6 address", Records{Tasks: []Task{{ID: "x", Name: "a", Addresses: []Attachment{on(netFront, "fd00::3")}}}}},
		{"task address without network", Records{Tasks: []Task{{ID: "x", Name: "a", Addresses: []Attachment{{IP: vip}}}}}},
		{"container without name or ID", Records{Containers: []Container{{Hostname: "h"}}}},
		{"container with an invalid address", Records{Containers: []Container{{Name: "c", Addresses: []Attachment{{Network: netFront}}}}}},
		{"network without ID", Records{Networks: []Network{{Name: "frontnet"}}}},
		{"network twice", Records{Networks: []Network{{ID: netFront}, {ID: netFront}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewTable(tt.r); err == nil {
				t.Errorf("NewTable accepted %+v", tt.r)
			} else {
				t.Log(err)
			}
		})
	}
}

func TestReverseIPv4(t *testing.T) {
	tests := []struct {
		name string
		want netip.Addr
		ok   bool
	}{
		{"4.3.2.1.in-addr.arpa", ip("1.2.3.4"), true},
		{"0.0.0.10.in-addr.arpa", ip("10.0.0.0"), true},
		{"255.255.255.255.in-addr.arpa", ip("255.255.255.255"), true},
		{"256.0.0.10.in-addr.arpa", netip.Addr{}, false},
		{"3.2.1.in-addr.arpa", netip.Addr{}, false},
		{"5.4.3.2.1.in-addr.arpa", netip.Addr{}, false},
		{"a.3.2.1.in-addr.arpa", netip.Addr{}, false},
		{"-1.3.2.1.in-addr.arpa", netip.Addr{}, false},
		{"4.3.2.1.in-addr.arpa.example", netip.Addr{}, false},
		{"in-addr.arpa", netip.Addr{}, false},
	}
	for _, tt := range tests {
		got, ok := reverseIPv4(tt.name)
		if ok != tt.ok || got != tt.want {
			t.Errorf("reverseIPv4(%q) = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
