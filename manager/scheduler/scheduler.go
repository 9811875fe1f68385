// Package scheduler places pending tasks on nodes. It is a pure, synchronous function from
// a read-only snapshot of the cluster to decisions: no goroutines, clock or I/O. The leader's
// scheduling loop (elsewhere) reads the store into a Snapshot, calls Schedule and writes the
// decisions back (ASSIGNED with a node, or PENDING with the reason).
//
// A task goes through the filters in this order, and a node that fails one is counted
// against it in the "no suitable node (...)" reason: node ready, availability active (pause
// and drain take nothing new), placement constraints, resource reservations, max replicas
// per node, host-mode published ports, platform. Among the nodes left, placement
// preferences (spread=node.labels.X) split the nodes into a tree whose branches get the
// service's tasks evenly; inside a branch the node with the fewest tasks of the service
// wins, then the one with the fewest active tasks, then the lowest node ID.
package scheduler

import (
	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/internal/taskstate"
)

// Snapshot is the scheduler's read-only view of the cluster. The scheduler never changes
// what it returns.
type Snapshot interface {
	// Nodes returns every node of the cluster.
	Nodes() []*swarm.Node
	// Tasks returns every task the cluster knows; placed ones count toward their node's
	// load. The pending tasks may be among them.
	Tasks() []*swarm.Task
	// Service returns the service with this ID, or nil.
	Service(id string) *swarm.Service
}

// Decision is the outcome for one pending task: the node it goes to, or why none fits.
type Decision struct {
	TaskID string
	NodeID string // empty when Err is set
	// Err says why the task stays pending, as the reference words it:
	// "no suitable node (scheduling constraints not satisfied on 3 nodes; insufficient resources on 1 node)".
	Err string
}

// Schedule decides a node for each pending task, in one pass in which every placement
// counts against the next. Pending tasks whose desired state is past RUNNING (shut down
// before they were placed) are skipped and get no decision; every other task gets exactly
// one, in the order given. A task that already names a node (a global service's) is only
// checked against that node. Tasks of the same service with the same placement and
// reservations are placed together, spread over the nodes.
func Schedule(snap Snapshot, pending []*swarm.Task) []Decision {
	c := newCluster(snap, pending)
	out := make([]Decision, len(pending))
	skip := make([]bool, len(pending))
	var groups []*group
	groupsBySvc := map[string][]*group{}
	for i, t := range pending {
		if taskstate.Rank(t.DesiredState) > taskstate.Rank(swarm.TaskStateRunning) {
			skip[i] = true
			continue
		}
		out[i].TaskID = t.ID
		if t.NodeID != "" {
			continue // preassigned: checked first, below
		}
		g := findGroup(groupsBySvc[t.ServiceID], t)
		if g == nil {
			g = c.newGroup(t)
			groups = append(groups, g)
			groupsBySvc[t.ServiceID] = append(groupsBySvc[t.ServiceID], g)
		}
		g.tasks = append(g.tasks, i)
	}
	// Tasks bound to a node go first: they have nowhere else to go.
	for i, t := range pending {
		if !skip[i] && t.NodeID != "" {
			out[i].NodeID, out[i].Err = c.checkPreassigned(t)
		}
	}
	for _, g := range groups {
		c.scheduleGroup(g, out)
	}
	decisions := out[:0]
	for i := range out {
		if !skip[i] {
			decisions = append(decisions, out[i])
		}
	}
	return decisions
}

// scheduleGroup places a group's tasks one by one through its spread tree. Filters that
// depend on earlier placements (resources, max replicas, host ports) only get stricter as
// the group is placed, so a node that fails one leaves the tree for good, and once a task
// finds no node the rest of the group cannot either.
func (c *cluster) scheduleGroup(g *group, out []Decision) {
	if g.invalid != "" {
		for _, i := range g.tasks {
			out[i].Err = "no suitable node (" + g.invalid + ")"
		}
		return
	}
	var failed failureCounts
	var cands []*candidate
	for _, ns := range c.nodes {
		if f := c.staticFailure(g, ns); f != filterNone {
			failed[f]++
			continue
		}
		cands = append(cands, &candidate{ns: ns, svcTasks: ns.byService[g.serviceID]})
	}
	root := buildTree(cands, g.spread)
	reason := ""
	for _, i := range g.tasks {
		if reason == "" {
			if cand := root.place(c, g, &failed); cand != nil {
				out[i].NodeID = cand.ns.node.ID
				continue
			}
			reason = failed.explain()
		}
		out[i].Err = reason
	}
}

// checkPreassigned runs every filter against the one node a task names.
func (c *cluster) checkPreassigned(t *swarm.Task) (nodeID, reason string) {
	ns := c.byID[t.NodeID]
	if ns == nil {
		return "", "no suitable node (node " + t.NodeID + " not found)"
	}
	g := c.newGroup(t)
	if g.invalid != "" {
		return "", "no suitable node (" + g.invalid + ")"
	}
	f := c.staticFailure(g, ns)
	if f == filterNone {
		f = c.dynamicFailure(g, ns, ns.byService[g.serviceID])
	}
	if f != filterNone {
		var failed failureCounts
		failed[f]++
		return "", failed.explain()
	}
	c.commit(g, ns)
	return ns.node.ID, ""
}

// SnapshotOf makes a Snapshot of plain slices, for callers that already hold them.
func SnapshotOf(nodes []*swarm.Node, tasks []*swarm.Task, services []*swarm.Service) Snapshot {
	s := sliceSnapshot{nodes: nodes, tasks: tasks, services: make(map[string]*swarm.Service, len(services))}
	for _, svc := range services {
		if svc != nil {
			s.services[svc.ID] = svc
		}
	}
	return s
}

type sliceSnapshot struct {
	nodes    []*swarm.Node
	tasks    []*swarm.Task
	services map[string]*swarm.Service
}

func (s sliceSnapshot) Nodes() []*swarm.Node             { return s.nodes }
func (s sliceSnapshot) Tasks() []*swarm.Task             { return s.tasks }
func (s sliceSnapshot) Service(id string) *swarm.Service { return s.services[id] }
