// Package vip makes service VIPs work inside a task's network namespace: connections a
// task opens to a VIP are spread over the service's running tasks by the kernel
// (nftables DNAT with a random pick per connection; conntrack keeps each connection on
// the task it started with). The rule set is derived whole from the cluster state and
// replaced atomically, so a task that leaves the set gets no new connection from then on.
package vip

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"sort"
	"strings"
)

// Table is the nftables table this package owns in each task namespace.
const Table = "shoal_vip"

// Service is one VIP and the addresses of the tasks behind it.
type Service struct {
	VIP      netip.Addr
	Backends []netip.Addr
}

// Rules renders the whole rule set for a namespace as an nft script that replaces the
// previous one in one transaction. It is pure and deterministic.
func Rules(services []Service) string {
	svcs := append([]Service(nil), services...)
	sort.Slice(svcs, func(i, j int) bool { return svcs[i].VIP.Less(svcs[j].VIP) })
	var b strings.Builder
	// Creating then deleting makes the script work whether or not the table exists.
	fmt.Fprintf(&b, "add table ip %s\ndelete table ip %s\n", Table, Table)
	fmt.Fprintf(&b, "table ip %s {\n\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n", Table)
	for _, s := range svcs {
		if !s.VIP.Is4() {
			continue
		}
		backends := append([]netip.Addr(nil), s.Backends...)
		sort.Slice(backends, func(i, j int) bool { return backends[i].Less(backends[j]) })
		if len(backends) == 0 {
			continue // handled in the filter chain: refused at once
		}
		var m []string
		for i, a := range backends {
			m = append(m, fmt.Sprintf("%d : %s", i, a))
		}
		fmt.Fprintf(&b, "\t\tip daddr %s dnat to numgen random mod %d map { %s }\n", s.VIP, len(backends), strings.Join(m, ", "))
	}
	b.WriteString("\t}\n\tchain refuse {\n\t\ttype filter hook output priority 0; policy accept;\n")
	for _, s := range svcs {
		if s.VIP.Is4() && len(s.Backends) == 0 {
			// No task to take it: refuse at once rather than let the client time out.
			fmt.Fprintf(&b, "\t\tip daddr %s meta l4proto tcp reject with tcp reset\n\t\tip daddr %s reject\n", s.VIP, s.VIP)
		}
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

// Apply installs the rule set in the namespace at netnsPath (nft through nsenter).
func Apply(ctx context.Context, netnsPath string, services []Service) error {
	cmd := exec.CommandContext(ctx, "nsenter", "--net="+netnsPath, "--", "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(Rules(services))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("installing VIP rules in %s: %v: %s", netnsPath, err, strings.TrimSpace(out.String()))
	}
	return nil
}
