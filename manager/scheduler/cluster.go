package scheduler

import (
	"slices"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/internal/portspec"
	"github.com/shoal/shoal/internal/taskstate"
)

// nodeState is one node's load as the scheduler sees it, updated as it places tasks.
type nodeState struct {
	node             *swarm.Node
	freeCPU, freeMem int64 // node resources minus reservations of tasks not yet ended
	active           int   // tasks meant to run here (desired state RUNNING or before)
	byService        map[string]int
	ports            map[hostPort]struct{} // host-mode published ports in use
}

// hostPort is a host-mode published port.
type hostPort struct {
	protocol string
	port     uint32
}

// cluster is the scheduler's working state for one Schedule call.
type cluster struct {
	snap     Snapshot
	nodes    []*nodeState // by node ID
	byID     map[string]*nodeState
	services map[string]*swarm.Service
}

func newCluster(snap Snapshot, pending []*swarm.Task) *cluster {
	c := &cluster{snap: snap, byID: map[string]*nodeState{}, services: map[string]*swarm.Service{}}
	for _, n := range snap.Nodes() {
		if n == nil {
			continue
		}
		ns := &nodeState{
			node:      n,
			freeCPU:   n.Description.Resources.NanoCPUs,
			freeMem:   n.Description.Resources.MemoryBytes,
			byService: map[string]int{},
		}
		c.nodes = append(c.nodes, ns)
		c.byID[n.ID] = ns
	}
	sort.Slice(c.nodes, func(i, j int) bool { return c.nodes[i].node.ID < c.nodes[j].node.ID })

	pendingIDs := make(map[string]struct{}, len(pending))
	for _, t := range pending {
		pendingIDs[t.ID] = struct{}{}
	}
	for _, t := range snap.Tasks() {
		if t == nil || t.NodeID == "" || taskstate.Rank(t.Status.State) > taskstate.Rank(swarm.TaskStateRunning) {
			continue
		}
		if _, isPending := pendingIDs[t.ID]; isPending {
			continue
		}
		ns := c.byID[t.NodeID]
		if ns == nil {
			continue
		}
		// A task being shut down still holds its resources and ports until it stops, but
		// no longer counts toward spreading.
		cpu, mem := reservations(&t.Spec)
		ns.freeCPU -= cpu
		ns.freeMem -= mem
		for _, p := range c.taskHostPorts(t) {
			ns.usePort(p)
		}
		if taskstate.Rank(t.DesiredState) <= taskstate.Rank(swarm.TaskStateRunning) {
			ns.active++
			ns.byService[t.ServiceID]++
		}
	}
	return c
}

func (ns *nodeState) usePort(p hostPort) {
	if ns.ports == nil {
		ns.ports = map[hostPort]struct{}{}
	}
	ns.ports[p] = struct{}{}
}

func (c *cluster) service(id string) *swarm.Service {
	s, ok := c.services[id]
	if !ok {
		s = c.snap.Service(id)
		c.services[id] = s
	}
	return s
}

// serviceHostPorts lists the fixed host-mode ports a service publishes. Host-mode ports
// without a published number are chosen on the node and are not checked here.
func (c *cluster) serviceHostPorts(serviceID string) []hostPort {
	return hostPorts(portspec.HostPorts(c.service(serviceID)))
}

// taskHostPorts is what a placed task holds: the ports it reported, else its service's.
func (c *cluster) taskHostPorts(t *swarm.Task) []hostPort {
	if ps := hostPorts(t.Status.PortStatus.Ports); len(ps) > 0 {
		return ps
	}
	return c.serviceHostPorts(t.ServiceID)
}

func hostPorts(ports []swarm.PortConfig) []hostPort {
	var out []hostPort
	for _, p := range ports {
		if p.PublishMode != swarm.PortConfigPublishModeHost || p.PublishedPort == 0 {
			continue
		}
		proto := strings.ToLower(string(portspec.Protocol(p)))
		out = append(out, hostPort{protocol: proto, port: p.PublishedPort})
	}
	return out
}

func reservations(spec *swarm.TaskSpec) (cpu, mem int64) {
	if spec.Resources == nil || spec.Resources.Reservations == nil {
		return 0, 0
	}
	return spec.Resources.Reservations.NanoCPUs, spec.Resources.Reservations.MemoryBytes
}

// group is a set of pending tasks of one service that place alike: same placement and
// reservations (tasks of one spec version, usually all of a service's pending tasks).
type group struct {
	serviceID   string
	placement   *swarm.Placement // as the first task has it, to match the others against
	cpu, mem    int64
	constraints []Constraint
	invalid     string // why the constraints cannot be used, if they cannot
	spread      []attribute
	maxReplicas uint64
	platforms   []swarm.Platform
	ports       []hostPort
	tasks       []int // indices into the pending list
}

func (c *cluster) newGroup(t *swarm.Task) *group {
	g := &group{serviceID: t.ServiceID, placement: t.Spec.Placement, ports: c.serviceHostPorts(t.ServiceID)}
	g.cpu, g.mem = reservations(&t.Spec)
	if p := t.Spec.Placement; p != nil {
		cs, err := ParseConstraints(p.Constraints)
		if err != nil {
			g.invalid = err.Error()
		}
		g.constraints = cs
		g.maxReplicas = p.MaxReplicas
		g.platforms = p.Platforms
		for _, pref := range p.Preferences {
			if pref.Spread == nil {
				continue
			}
			// An unknown descriptor spreads over nothing: every node has the same value.
			if a, ok := parseAttribute(strings.TrimSpace(pref.Spread.SpreadDescriptor)); ok {
				g.spread = append(g.spread, a)
			}
		}
	}
	return g
}

// findGroup returns the group t places with, if there is one.
func findGroup(gs []*group, t *swarm.Task) *group {
	cpu, mem := reservations(&t.Spec)
	for _, g := range gs {
		if g.cpu == cpu && g.mem == mem && samePlacement(g.placement, t.Spec.Placement) {
			return g
		}
	}
	return nil
}

func samePlacement(a, b *swarm.Placement) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		empty := func(p *swarm.Placement) bool {
			return p == nil || (len(p.Constraints) == 0 && len(p.Preferences) == 0 && p.MaxReplicas == 0 && len(p.Platforms) == 0)
		}
		return empty(a) && empty(b)
	}
	return a.MaxReplicas == b.MaxReplicas &&
		slices.Equal(a.Constraints, b.Constraints) &&
		slices.Equal(a.Platforms, b.Platforms) &&
		slices.EqualFunc(a.Preferences, b.Preferences, func(x, y swarm.PlacementPreference) bool {
			return (x.Spread == nil) == (y.Spread == nil) && (x.Spread == nil || x.Spread.SpreadDescriptor == y.Spread.SpreadDescriptor)
		})
}

// commit records a task of group g on node ns.
func (c *cluster) commit(g *group, ns *nodeState) {
	ns.freeCPU -= g.cpu
	ns.freeMem -= g.mem
	ns.active++
	ns.byService[g.serviceID]++
	for _, p := range g.ports {
		ns.usePort(p)
	}
}
