package allocator

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

const benchIPs = 60000

func benchOwners(n int) []string {
	owners := make([]string, n)
	for i := range owners {
		owners[i] = fmt.Sprintf("task-%06d", i)
	}
	return owners
}

// BenchmarkAllocate60kIn16: one op fills a fresh /16 network with 60k task IPs, the
// largest service a swarm user runs on one network.
func BenchmarkAllocate60kIn16(b *testing.B) {
	owners := benchOwners(benchIPs)
	b.ReportAllocs()
	for b.Loop() {
		a := newAllocator(b, Config{})
		if _, err := a.AddNetwork(NetworkRequest{ID: "big", Subnet: pfx("10.1.0.0/16")}); err != nil {
			b.Fatal(err)
		}
		for _, o := range owners {
			if _, err := a.Allocate("big", o); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchIPs), "ns/IP")
}

// BenchmarkChurnFull16 is the worst case for the search: a /16 with every address held,
// where each op releases a random task's address and allocates one for its replacement,
// so the one free address lies anywhere relative to the cursor.
func BenchmarkChurnFull16(b *testing.B) {
	a := newAllocator(b, Config{})
	sub := pfx("10.1.0.0/16")
	if _, err := a.AddNetwork(NetworkRequest{ID: "big", Subnet: sub}); err != nil {
		b.Fatal(err)
	}
	owners := benchOwners(usableCount(sub))
	for _, o := range owners {
		if _, err := a.Allocate("big", o); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := rng.IntN(len(owners))
		a.Release("big", owners[k])
		owners[k] = fmt.Sprintf("churn-%d", i)
		if _, err := a.Allocate("big", owners[k]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRebuild60k: a new leader rebuilding a cluster of one /16 network with 100
// service VIPs and 60k task IPs.
func BenchmarkRebuild60k(b *testing.B) {
	src := newAllocator(b, Config{})
	if _, err := src.AddNetwork(NetworkRequest{ID: "big", Subnet: pfx("10.1.0.0/16")}); err != nil {
		b.Fatal(err)
	}
	s := State{Networks: []NetworkState{{ID: "big", Subnet: pfx("10.1.0.0/16")}}}
	for i := range 100 {
		id := fmt.Sprintf("svc-%03d", i)
		got, _ := src.Allocate("big", id)
		s.Services = append(s.Services, ServiceState{ID: id, Name: id, VIPs: []Attachment{{Network: "big", Addr: netip.PrefixFrom(got, 16)}}})
	}
	for _, o := range benchOwners(benchIPs) {
		got, _ := src.Allocate("big", o)
		s.Tasks = append(s.Tasks, TaskState{ID: o, Addresses: []Attachment{{Network: "big", Addr: netip.PrefixFrom(got, 16)}}})
	}
	a := newAllocator(b, Config{})
	b.ReportAllocs()
	for b.Loop() {
		if problems := a.Rebuild(s); len(problems) != 0 {
			b.Fatal(problems)
		}
	}
}
