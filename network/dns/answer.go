package dns

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// TTLs of our answers; the package doc says why they are this short.
const (
	// TaskTTL is the TTL of answers built from tasks and containers.
	TaskTTL uint32 = 0
	// ServiceTTL is the TTL of a VIP answer and its PTR.
	ServiceTTL uint32 = 2
)

// Answer answers one question from t for an asker on askerNetworks (network IDs). It returns
// the answer records, in a stable order (by address), and the response code: RcodeSuccess for a
// name this asker can see, even with no record of the asked type, and RcodeNameError for every
// other name, which the caller forwards upstream. A nil Table knows no name.
func Answer(t *Table, askerNetworks []string, q dns.Question) ([]dns.RR, int) {
	if t == nil || (q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY) {
		return nil, dns.RcodeNameError
	}
	shared := make(map[string]bool, len(askerNetworks))
	for _, n := range askerNetworks {
		shared[n] = true
	}
	name := strings.TrimSuffix(strings.ToLower(q.Name), ".")
	if ip, ok := reverseIPv4(name); ok {
		return t.answerPTR(ip, shared, q)
	}
	for _, c := range t.candidates(name, shared) {
		if addrs, found := t.resolve(c.name, c.networks); found {
			if q.Qtype != dns.TypeA && q.Qtype != dns.TypeANY {
				return nil, dns.RcodeSuccess
			}
			return aRecords(q.Name, addrs), dns.RcodeSuccess
		}
	}
	return nil, dns.RcodeNameError
}

// candidate is one reading of a query name: a name to look up among some of the asker's networks.
type candidate struct {
	name     string
	networks map[string]bool
}

// candidates lists the readings of name in the order Docker tries them: the whole name on all
// the asker's networks, then for "a.b.c" the name "a.b" in network "c" and "a" in network "b.c"
// (when the asker is on such a network); then the same for the name without each search domain.
func (t *Table) candidates(name string, shared map[string]bool) []candidate {
	names := []string{name}
	for _, d := range t.searchDomains {
		if stripped, ok := strings.CutSuffix(name, "."+d); ok && stripped != "" {
			names = append(names, stripped)
		}
	}
	var out []candidate
	for _, n := range names {
		out = append(out, candidate{name: n, networks: shared})
		for i := strings.LastIndexByte(n, '.'); i > 0; i = strings.LastIndexByte(n[:i], '.') {
			nets := map[string]bool{}
			for _, id := range t.networksNamed[n[i+1:]] {
				if shared[id] {
					nets[id] = true
				}
			}
			if len(nets) > 0 {
				out = append(out, candidate{name: n[:i], networks: nets})
			}
		}
	}
	return out
}

// resolvedAddr is one address of an answer with the TTL it is given.
type resolvedAddr struct {
	ip  netip.Addr
	ttl uint32
}

// resolve looks name up among networks: a service name or alias, then tasks.<service>, then a
// task's or container's name. found says the name exists there, even with no address.
func (t *Table) resolve(name string, networks map[string]bool) (addrs []resolvedAddr, found bool) {
	if matches := t.matchService(name, networks); len(matches) > 0 {
		for _, m := range matches {
			for _, n := range m.networks {
				if m.svc.mode == EndpointDNSRR {
					addrs = appendAddrs(addrs, m.svc.serving[n], TaskTTL)
				} else if vip, ok := m.svc.vips[n]; ok {
					addrs = append(addrs, resolvedAddr{ip: vip, ttl: ServiceTTL})
				}
			}
		}
		return addrs, true
	}
	if svcName, ok := strings.CutPrefix(name, "tasks."); ok {
		if matches := t.matchService(svcName, networks); len(matches) > 0 {
			for _, m := range matches {
				for _, n := range m.networks {
					addrs = appendAddrs(addrs, m.svc.serving[n], TaskTTL)
				}
			}
			return addrs, true
		}
	}
	for _, h := range t.hosts[name] {
		for _, a := range h.addresses {
			if networks[a.Network] {
				found = true
				addrs = append(addrs, resolvedAddr{ip: a.IP, ttl: TaskTTL})
			}
		}
	}
	return addrs, found
}

// serviceMatch is a service found by name and the networks it was found on, sorted.
type serviceMatch struct {
	svc      *service
	networks []string
}

// matchService finds the services that name names on networks: by their own name on every
// network they are on, by an alias on the alias's network only.
func (t *Table) matchService(name string, networks map[string]bool) []serviceMatch {
	var matches []serviceMatch
	for _, sn := range t.services[name] {
		var nets []string
		if sn.network != "" {
			if networks[sn.network] && sn.svc.networks[sn.network] {
				nets = []string{sn.network}
			}
		} else {
			for n := range sn.svc.networks {
				if networks[n] {
					nets = append(nets, n)
				}
			}
		}
		if len(nets) == 0 {
			continue
		}
		slices.Sort(nets)
		i := slices.IndexFunc(matches, func(m serviceMatch) bool { return m.svc == sn.svc })
		if i < 0 {
			matches = append(matches, serviceMatch{svc: sn.svc, networks: nets})
			continue
		}
		matches[i].networks = slices.Compact(slices.Sorted(slices.Values(append(matches[i].networks, nets...))))
	}
	return matches
}

func appendAddrs(out []resolvedAddr, ips []netip.Addr, ttl uint32) []resolvedAddr {
	for _, ip := range ips {
		out = append(out, resolvedAddr{ip: ip, ttl: ttl})
	}
	return out
}

// aRecords turns addresses into A records owned by the name as asked, sorted and without
// duplicates (a task on two shared networks of a service has two addresses, not one twice).
func aRecords(owner string, addrs []resolvedAddr) []dns.RR {
	slices.SortFunc(addrs, func(a, b resolvedAddr) int { return a.ip.Compare(b.ip) })
	addrs = slices.CompactFunc(addrs, func(a, b resolvedAddr) bool { return a.ip == b.ip })
	owner = dns.Fqdn(owner)
	rrs := make([]dns.RR, 0, len(addrs))
	for _, a := range addrs {
		ip4 := a.ip.As4()
		rrs = append(rrs, &dns.A{
			Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: a.ttl},
			A:   ip4[:],
		})
	}
	return rrs
}

// answerPTR answers a reverse query for ip: a VIP or a running task's or container's address on
// a network the asker shares names "<name>.<network name>.", as Docker's PTRs do.
func (t *Table) answerPTR(ip netip.Addr, shared map[string]bool, q dns.Question) ([]dns.RR, int) {
	var rrs []dns.RR
	for _, p := range t.ptrs[ip] {
		if !shared[p.network] {
			continue
		}
		target := dns.Fqdn(p.name + "." + t.networkDisplayName(p.network))
		if slices.ContainsFunc(rrs, func(rr dns.RR) bool { return rr.(*dns.PTR).Ptr == target }) {
			continue
		}
		rrs = append(rrs, &dns.PTR{
			Hdr: dns.RR_Header{Name: dns.Fqdn(q.Name), Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: p.ttl},
			Ptr: target,
		})
	}
	if len(rrs) == 0 {
		return nil, dns.RcodeNameError
	}
	if q.Qtype != dns.TypePTR && q.Qtype != dns.TypeANY {
		return nil, dns.RcodeSuccess
	}
	slices.SortFunc(rrs, func(a, b dns.RR) int { return strings.Compare(a.(*dns.PTR).Ptr, b.(*dns.PTR).Ptr) })
	return rrs, dns.RcodeSuccess
}

func (t *Table) networkDisplayName(id string) string {
	if name, ok := t.networkName[id]; ok {
		return name
	}
	return id
}

// reverseIPv4 reads "d.c.b.a.in-addr.arpa" (lower case, no trailing dot) as a.b.c.d.
func reverseIPv4(name string) (netip.Addr, bool) {
	rest, ok := strings.CutSuffix(name, ".in-addr.arpa")
	if !ok {
		return netip.Addr{}, false
	}
	labels := strings.Split(rest, ".")
	if len(labels) != 4 {
		return netip.Addr{}, false
	}
	var b [4]byte
	for i, l := range labels {
		v, err := strconv.ParseUint(l, 10, 8)
		if err != nil || (len(l) > 1 && l[0] == '0') {
			return netip.Addr{}, false
		}
		b[3-i] = byte(v)
	}
	return netip.AddrFrom4(b), true
}
