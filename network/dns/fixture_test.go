package dns

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// Network IDs of the fixture; their names are frontnet, backnet and othernet.
const (
	netFront = "net-front"
	netBack  = "net-back"
	netOther = "net-other"
)

var (
	askerFront = []string{netFront}
	askerBack  = []string{netBack}
	askerBoth  = []string{netFront, netBack}
	askerOther = []string{netOther}
)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func on(network, addr string) Attachment { return Attachment{Network: network, IP: ip(addr)} }

// fixtureRecords is a small cluster exercising every rule: a vip service on two networks with an
// alias, a dnsrr service, a service with no task, one on a network of its own, tasks in every
// state, an orphan task of a removed service, a global service's task and a plain container.
func fixtureRecords() Records {
	return Records{
		Networks: []Network{
			{ID: netFront, Name: "frontnet"},
			{ID: netBack, Name: "backnet"},
			{ID: netOther, Name: "othernet"},
		},
		Services: []Service{
			{ID: "svc-web", Name: "web", Networks: []ServiceNetwork{
				{Network: netFront, VIP: ip("10.0.1.2"), Aliases: []string{"www"}},
				{Network: netBack, VIP: ip("10.0.2.2")},
			}},
			{ID: "svc-db", Name: "db", EndpointMode: EndpointDNSRR, Networks: []ServiceNetwork{
				{Network: netBack},
			}},
			{ID: "svc-lonely", Name: "lonely", EndpointMode: EndpointVIP, Networks: []ServiceNetwork{
				{Network: netFront, VIP: ip("10.0.1.9")},
			}},
			{ID: "svc-secret", Name: "secret", Networks: []ServiceNetwork{
				{Network: netOther, VIP: ip("10.0.3.2")},
			}},
			{ID: "svc-agent", Name: "agent", Networks: []ServiceNetwork{
				{Network: netFront, VIP: ip("10.0.1.40")},
			}},
		},
		Tasks: []Task{
			{ID: "t1", ServiceID: "svc-web", Slot: 1, Hostname: "t1host", Running: true,
				Addresses: []Attachment{on(netFront, "10.0.1.3"), on(netBack, "10.0.2.3")}},
			{ID: "t2", ServiceID: "svc-web", Slot: 2, Running: true, Health: HealthHealthy,
				Addresses: []Attachment{on(netFront, "10.0.1.4"), on(netBack, "10.0.2.4")}},
			{ID: "t3", ServiceID: "svc-web", Slot: 3, Running: true, Health: HealthStarting,
				Addresses: []Attachment{on(netFront, "10.0.1.5")}},
			{ID: "t4", ServiceID: "svc-web", Slot: 4, Running: false,
				Addresses: []Attachment{on(netFront, "10.0.1.6")}},
			{ID: "t5", ServiceID: "svc-web", Slot: 5, Running: true, Health: HealthUnhealthy,
				Addresses: []Attachment{on(netFront, "10.0.1.7")}},
			{ID: "t6", ServiceID: "svc-web", Slot: 6, Running: true, Draining: true,
				Addresses: []Attachment{on(netFront, "10.0.1.8")}},
			{ID: "d1", ServiceID: "svc-db", Slot: 1, Running: true,
				Addresses: []Attachment{on(netBack, "10.0.2.10")}},
			{ID: "d2", ServiceID: "svc-db", Slot: 2, Running: true, Health: HealthHealthy,
				Addresses: []Attachment{on(netBack, "10.0.2.11")}},
			{ID: "d3", ServiceID: "svc-db", Slot: 3, Running: true, Health: HealthUnhealthy,
				Addresses: []Attachment{on(netBack, "10.0.2.12")}},
			{ID: "s1", ServiceID: "svc-secret", Slot: 1, Running: true,
				Addresses: []Attachment{on(netOther, "10.0.3.3")}},
			{ID: "o1", ServiceID: "svc-gone", Name: "old.1.o1", Running: true,
				Addresses: []Attachment{on(netFront, "10.0.1.20")}},
			{ID: "g1", ServiceID: "svc-agent", NodeID: "node1", Hostname: "g1host", Running: true,
				Addresses: []Attachment{on(netFront, "10.0.1.41")}},
		},
		Containers: []Container{
			{ID: "c1", Name: "debug", Hostname: "debughost", Aliases: []string{"dbg"},
				Addresses: []Attachment{on(netFront, "10.0.1.30")}},
		},
		SearchDomains: []string{"corp.example."},
	}
}

func fixtureTable(t testing.TB) *Table {
	t.Helper()
	table, err := NewTable(fixtureRecords())
	if err != nil {
		t.Fatalf("NewTable: %v", err)
	}
	return table
}

// brief renders an answer record compactly: "A 10.0.1.2 ttl=2", "PTR web.frontnet. ttl=2".
func brief(rr dns.RR) string {
	switch rr := rr.(type) {
	case *dns.A:
		return fmt.Sprintf("A %s ttl=%d", rr.A, rr.Hdr.Ttl)
	case *dns.PTR:
		return fmt.Sprintf("PTR %s ttl=%d", rr.Ptr, rr.Hdr.Ttl)
	}
	return strings.ReplaceAll(rr.String(), "\t", " ")
}

func briefAll(rrs []dns.RR) []string {
	out := []string{}
	for _, rr := range rrs {
		out = append(out, brief(rr))
	}
	return out
}

func question(name string, qtype uint16) dns.Question {
	return dns.Question{Name: name, Qtype: qtype, Qclass: dns.ClassINET}
}
