package scheduler

import (
	"fmt"
	"strings"

	"github.com/moby/moby/api/types/swarm"
)

// filter numbers the filters in pipeline order; a node is counted against the first it fails.
type filter int

const (
	filterReady filter = iota
	filterAvailability
	filterConstraints
	filterResources
	filterMaxReplicas
	filterHostPorts
	filterPlatform
	numFilters

	filterNone filter = -1
)

// failureCounts counts, per filter, the nodes that failed it first.
type failureCounts [numFilters]int

// explain words the counts as the reference does.
func (f *failureCounts) explain() string {
	var parts []string
	for i, n := range f {
		if n == 0 {
			continue
		}
		nodes := "1 node"
		if n > 1 {
			nodes = fmt.Sprintf("%d nodes", n)
		}
		switch filter(i) {
		case filterReady:
			parts = append(parts, nodes+" not ready")
		case filterAvailability:
			parts = append(parts, nodes+" not available for new tasks")
		case filterConstraints:
			parts = append(parts, "scheduling constraints not satisfied on "+nodes)
		case filterResources:
			parts = append(parts, "insufficient resources on "+nodes)
		case filterMaxReplicas:
			parts = append(parts, "max replicas per node limit exceeded on "+nodes)
		case filterHostPorts:
			parts = append(parts, "host-mode port already in use on "+nodes)
		case filterPlatform:
			parts = append(parts, "unsupported platform on "+nodes)
		}
	}
	if len(parts) == 0 {
		return "no suitable node (no nodes in the cluster)"
	}
	return "no suitable node (" + strings.Join(parts, "; ") + ")"
}

// staticFailure runs the filters that no placement in this call can change: readiness,
// availability, constraints and platform. Platform comes last in the pipeline, so a node
// that fails it is counted against an earlier, placement-dependent filter if it fails one
// of those too; the node is never placed on by this group, so that answer stays true.
func (c *cluster) staticFailure(g *group, ns *nodeState) filter {
	n := ns.node
	switch {
	case n.Status.State != swarm.NodeStateReady:
		return filterReady
	case n.Spec.Availability != swarm.NodeAvailabilityActive && n.Spec.Availability != "":
		return filterAvailability
	case !MatchAll(g.constraints, n):
		return filterConstraints
	case !platformMatches(g.platforms, n.Description.Platform):
		if f := c.dynamicFailure(g, ns, ns.byService[g.serviceID]); f != filterNone {
			return f
		}
		return filterPlatform
	}
	return filterNone
}

// dynamicFailure runs the filters that earlier placements affect; each only gets stricter
// as tasks are added to the node.
func (c *cluster) dynamicFailure(g *group, ns *nodeState, svcTasks int) filter {
	switch {
	case g.cpu > 0 && ns.freeCPU < g.cpu, g.mem > 0 && ns.freeMem < g.mem:
		return filterResources
	case g.maxReplicas > 0 && uint64(svcTasks) >= g.maxReplicas:
		return filterMaxReplicas
	}
	for _, p := range g.ports {
		if _, used := ns.ports[p]; used {
			return filterHostPorts
		}
	}
	return filterNone
}

// platformMatches is true when the image lists no platforms or one of them fits the node.
func platformMatches(want []swarm.Platform, node swarm.Platform) bool {
	if len(want) == 0 {
		return true
	}
	nodeArch := normalizeArch(node.Architecture)
	for _, p := range want {
		if (p.Architecture == "" || normalizeArch(p.Architecture) == nodeArch) &&
			(p.OS == "" || strings.EqualFold(p.OS, node.OS)) {
			return true
		}
	}
	return false
}

func normalizeArch(a string) string {
	switch a = strings.ToLower(a); a {
	case "x86_64", "x86-64":
		return "amd64"
	case "aarch64":
		return "arm64"
	}
	return a
}
