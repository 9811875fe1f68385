package dns

import (
	"net/netip"
	"slices"
)

// Names lists every name an asker on askerNetworks resolves from t (service names and
// aliases, tasks.<service>, task and container names) with the addresses each answers,
// sorted. A name that exists with no address (a dnsrr service without a running task)
// is listed with none. It answers what Answer would, so a caller can compare a node's
// whole view with the cluster's.
func (t *Table) Names(askerNetworks []string) map[string][]netip.Addr {
	if t == nil {
		return nil
	}
	shared := make(map[string]bool, len(askerNetworks))
	for _, n := range askerNetworks {
		shared[n] = true
	}
	out := map[string][]netip.Addr{}
	add := func(name string) {
		if _, done := out[name]; done {
			return
		}
		addrs, found := t.resolve(name, shared)
		if !found {
			return
		}
		ips := make([]netip.Addr, 0, len(addrs))
		for _, a := range addrs {
			ips = append(ips, a.ip)
		}
		slices.SortFunc(ips, netip.Addr.Compare)
		out[name] = slices.Compact(ips)
	}
	for name := range t.services {
		add(name)
		add("tasks." + name)
	}
	for name := range t.hosts {
		add(name)
	}
	return out
}
