package scheduler

import (
	"fmt"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"pgregory.net/rapid"

	"github.com/shoal/shoal/internal/taskstate"
)

const gib = 1 << 30

var constraintPool = []string{
	"node.labels.zone==a", "node.labels.zone!=b", "node.labels.zone==c",
	"node.role==worker", "node.role!=worker",
	"node.platform.arch==arm64", "node.platform.os==linux",
	"node.ip==10.0.1.0/24", "node.ip!=10.0.0.3",
	"node.hostname!=n01", "engine.labels.disk==ssd",
}

func drawNodes(t *rapid.T) []*swarm.Node {
	count := rapid.IntRange(0, 10).Draw(t, "nodes")
	nodes := make([]*swarm.Node, count)
	for i := range nodes {
		id := fmt.Sprintf("n%02d", i)
		n := newNode(id,
			withState(rapid.SampledFrom([]swarm.NodeState{swarm.NodeStateReady, swarm.NodeStateReady, swarm.NodeStateReady, swarm.NodeStateDown, swarm.NodeStateUnknown}).Draw(t, id+".state")),
			withAvailability(rapid.SampledFrom([]swarm.NodeAvailability{swarm.NodeAvailabilityActive, swarm.NodeAvailabilityActive, swarm.NodeAvailabilityPause, swarm.NodeAvailabilityDrain}).Draw(t, id+".availability")),
			withRole(rapid.SampledFrom([]swarm.NodeRole{swarm.NodeRoleWorker, swarm.NodeRoleManager}).Draw(t, id+".role")),
			withArch(rapid.SampledFrom([]string{"x86_64", "arm64", "aarch64"}).Draw(t, id+".arch")),
			withResources(int64(rapid.IntRange(0, 4).Draw(t, id+".cpu"))*1e9, int64(rapid.IntRange(0, 4).Draw(t, id+".mem"))*gib),
		)
		if zone := rapid.SampledFrom([]string{"", "a", "b", "c"}).Draw(t, id+".zone"); zone != "" {
			n.Spec.Labels["zone"] = zone
		}
		if rapid.Bool().Draw(t, id+".ssd") {
			n.Description.Engine.Labels = map[string]string{"disk": "ssd"}
		}
		n.Status.Addr = fmt.Sprintf("10.0.%d.%d", rapid.IntRange(0, 1).Draw(t, id+".net"), i+1)
		nodes[i] = n
	}
	return nodes
}

// drawTaskSpec draws a service's scheduling needs.
func drawTaskSpec(t *rapid.T, svc string) []taskOpt {
	var opts []taskOpt
	if cs := rapid.SliceOfNDistinct(rapid.SampledFrom(constraintPool), 0, 2, rapid.ID[string]).Draw(t, svc+".constraints"); len(cs) > 0 {
		opts = append(opts, withConstraints(cs...))
	}
	if m := rapid.IntRange(0, 3).Draw(t, svc+".maxReplicas"); m > 0 {
		opts = append(opts, withMaxReplicas(uint64(m)))
	}
	if rapid.Bool().Draw(t, svc+".spread") {
		opts = append(opts, withSpread("node.labels.zone"))
	}
	if rapid.IntRange(0, 3).Draw(t, svc+".platform") == 0 {
		opts = append(opts, withPlatforms(swarm.Platform{OS: "linux", Architecture: "arm64"}))
	}
	cpu := int64(rapid.IntRange(0, 2).Draw(t, svc+".cpu")) * 1e9
	mem := int64(rapid.IntRange(0, 2).Draw(t, svc+".mem")) * gib / 2
	if cpu > 0 || mem > 0 {
		opts = append(opts, withReservation(cpu, mem))
	}
	return opts
}

type scenario struct {
	snap    *fakeSnapshot
	pending []*swarm.Task
}

func drawScenario(t *rapid.T) scenario {
	nodes := drawNodes(t)
	nodeIDs := []string{"missing"}
	for _, n := range nodes {
		nodeIDs = append(nodeIDs, n.ID)
	}
	snap := &fakeSnapshot{nodes: nodes, services: map[string]*swarm.Service{}}
	var pending []*swarm.Task
	services := rapid.IntRange(1, 4).Draw(t, "services")
	for s := range services {
		svc := fmt.Sprintf("s%d", s)
		opts := drawTaskSpec(t, svc)
		if rapid.IntRange(0, 2).Draw(t, svc+".hostPort") == 0 {
			snap.services[svc] = hostPortService(svc, 8080)
		}
		for i := range rapid.IntRange(0, 4).Draw(t, svc+".existing") {
			state := rapid.SampledFrom([]swarm.TaskState{swarm.TaskStateRunning, swarm.TaskStateStarting, swarm.TaskStateAssigned, swarm.TaskStateFailed}).Draw(t, "existing.state")
			node := rapid.SampledFrom(nodeIDs).Draw(t, "existing.node")
			want := rapid.SampledFrom([]swarm.TaskState{swarm.TaskStateRunning, swarm.TaskStateShutdown}).Draw(t, "existing.desired")
			snap.tasks = append(snap.tasks, newTask(fmt.Sprintf("%s.old%d", svc, i), svc, append(opts, onNode(node, state), desired(want))...))
		}
		global := rapid.IntRange(0, 3).Draw(t, svc+".global") == 0
		for i := range rapid.IntRange(0, 12).Draw(t, svc+".pending") {
			task := newTask(fmt.Sprintf("%s.%d", svc, i), svc, opts...)
			if global {
				task.NodeID = rapid.SampledFrom(nodeIDs).Draw(t, "preassigned")
			}
			if rapid.IntRange(0, 9).Draw(t, "shutBeforePlaced") == 0 {
				task.DesiredState = swarm.TaskStateShutdown
			}
			pending = append(pending, task)
		}
	}
	// Interleave the services' pending tasks.
	pending = rapid.Permutation(pending).Draw(t, "order")
	snap.tasks = append(snap.tasks, pending...) // the store holds the pending tasks too
	return scenario{snap: snap, pending: pending}
}

// load is an independent tally of what is on a node, for checking decisions.
type load struct {
	cpu, mem  int64
	byService map[string]int
	ports     map[hostPort]int
}

func tally(sc scenario, ds []Decision) map[string]*load {
	loads := map[string]*load{}
	get := func(id string) *load {
		if loads[id] == nil {
			loads[id] = &load{byService: map[string]int{}, ports: map[hostPort]int{}}
		}
		return loads[id]
	}
	svcPorts := func(svc string) []hostPort {
		if s := sc.snap.services[svc]; s != nil {
			return hostPorts(s.Spec.EndpointSpec.Ports)
		}
		return nil
	}
	add := func(t *swarm.Task, node string) {
		l := get(node)
		cpu, mem := reservations(&t.Spec)
		l.cpu += cpu
		l.mem += mem
		if taskstate.Rank(t.DesiredState) <= taskstate.Rank(swarm.TaskStateRunning) {
			l.byService[t.ServiceID]++
		}
		for _, p := range svcPorts(t.ServiceID) {
			l.ports[p]++
		}
	}
	placed := map[string]string{}
	for _, d := range ds {
		placed[d.TaskID] = d.NodeID
	}
	pendingIDs := map[string]bool{}
	for _, t := range sc.pending {
		pendingIDs[t.ID] = true
	}
	for _, t := range sc.snap.tasks {
		if pendingIDs[t.ID] {
			if node := placed[t.ID]; node != "" {
				add(t, node)
			}
			continue
		}
		if t.NodeID != "" && taskstate.Rank(t.Status.State) <= taskstate.Rank(swarm.TaskStateRunning) {
			add(t, t.NodeID)
		}
	}
	return loads
}

func findTask(ts []*swarm.Task, id string) (*swarm.Task, bool) {
	for _, t := range ts {
		if t.ID == id {
			return t, true
		}
	}
	return nil, false
}

// fitsStatic is the reference check of the filters no placement changes.
func fitsStatic(t *swarm.Task, n *swarm.Node) bool {
	if n.Status.State != swarm.NodeStateReady || n.Spec.Availability != swarm.NodeAvailabilityActive {
		return false
	}
	var cs []string
	var platforms []swarm.Platform
	if p := t.Spec.Placement; p != nil {
		cs, platforms = p.Constraints, p.Platforms
	}
	parsed, err := ParseConstraints(cs)
	return err == nil && MatchAll(parsed, n) && platformMatches(platforms, n.Description.Platform)
}

func TestPropertyPlacementsHonourEveryFilter(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := drawScenario(t)
		ds := Schedule(sc.snap, sc.pending)

		// One decision per task still meant to run, in order.
		var want []string
		for _, task := range sc.pending {
			if taskstate.Rank(task.DesiredState) <= taskstate.Rank(swarm.TaskStateRunning) {
				want = append(want, task.ID)
			}
		}
		if len(ds) != len(want) {
			t.Fatalf("%d decisions for %d schedulable tasks", len(ds), len(want))
		}
		nodes := map[string]*swarm.Node{}
		for _, n := range sc.snap.nodes {
			nodes[n.ID] = n
		}
		loads := tally(sc, ds)
		for i, d := range ds {
			task, _ := findTask(sc.pending, d.TaskID)
			if d.TaskID != want[i] {
				t.Fatalf("decision %d is for %s, want %s", i, d.TaskID, want[i])
			}
			if (d.NodeID == "") == (d.Err == "") {
				t.Fatalf("decision %+v: want exactly one of NodeID and Err", d)
			}
			if d.Err != "" {
				if !strings.HasPrefix(d.Err, "no suitable node (") {
					t.Fatalf("reason %q", d.Err)
				}
				continue
			}
			if task.NodeID != "" && d.NodeID != task.NodeID {
				t.Fatalf("task %s bound to %s placed on %s", task.ID, task.NodeID, d.NodeID)
			}
			n := nodes[d.NodeID]
			if n == nil {
				t.Fatalf("task %s placed on unknown node %s", task.ID, d.NodeID)
			}
			if !fitsStatic(task, n) {
				t.Fatalf("task %s placed on %s, which is not ready/active or breaks its constraints or platform: %+v %+v", task.ID, n.ID, n.Status, n.Spec)
			}
			l := loads[n.ID]
			cpu, mem := reservations(&task.Spec)
			if cpu > 0 && l.cpu > n.Description.Resources.NanoCPUs || mem > 0 && l.mem > n.Description.Resources.MemoryBytes {
				t.Fatalf("node %s over-reserved: %d/%d CPU, %d/%d memory", n.ID, l.cpu, n.Description.Resources.NanoCPUs, l.mem, n.Description.Resources.MemoryBytes)
			}
			if p := task.Spec.Placement; p != nil && p.MaxReplicas > 0 && uint64(l.byService[task.ServiceID]) > p.MaxReplicas {
				t.Fatalf("node %s has %d tasks of %s, max %d", n.ID, l.byService[task.ServiceID], task.ServiceID, p.MaxReplicas)
			}
			if s := sc.snap.services[task.ServiceID]; s != nil {
				for _, p := range hostPorts(s.Spec.EndpointSpec.Ports) {
					if l.ports[p] > 1 {
						t.Fatalf("host port %v used %d times on %s", p, l.ports[p], n.ID)
					}
				}
			}
		}

		// A task left pending really fits nowhere, even now.
		for _, d := range ds {
			if d.Err == "" {
				continue
			}
			task, _ := findTask(sc.pending, d.TaskID)
			for _, n := range sc.snap.nodes {
				if task.NodeID != "" && n.ID != task.NodeID {
					continue
				}
				if fitsStatic(task, n) && fitsNow(sc, task, n, loads[n.ID]) {
					t.Fatalf("task %s left pending (%s) but fits on %s", task.ID, d.Err, n.ID)
				}
			}
		}
	})
}

// fitsNow checks the placement-dependent filters against the final load.
func fitsNow(sc scenario, task *swarm.Task, n *swarm.Node, l *load) bool {
	if l == nil {
		l = &load{byService: map[string]int{}, ports: map[hostPort]int{}}
	}
	cpu, mem := reservations(&task.Spec)
	if cpu > 0 && l.cpu+cpu > n.Description.Resources.NanoCPUs || mem > 0 && l.mem+mem > n.Description.Resources.MemoryBytes {
		return false
	}
	if p := task.Spec.Placement; p != nil && p.MaxReplicas > 0 && uint64(l.byService[task.ServiceID]) >= p.MaxReplicas {
		return false
	}
	if s := sc.snap.services[task.ServiceID]; s != nil {
		for _, p := range hostPorts(s.Spec.EndpointSpec.Ports) {
			if l.ports[p] > 0 {
				return false
			}
		}
	}
	return true
}

func TestPropertySpreadIsBalancedOnEqualNodes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nodes := make([]*swarm.Node, rapid.IntRange(1, 12).Draw(t, "nodes"))
		for i := range nodes {
			nodes[i] = newNode(fmt.Sprintf("n%02d", i))
		}
		snap := &fakeSnapshot{nodes: nodes}
		// Other services' tasks load the nodes unevenly; that must not unbalance ours.
		for i := range rapid.IntRange(0, 20).Draw(t, "others") {
			node := rapid.SampledFrom(nodes).Draw(t, "other.node")
			snap.tasks = append(snap.tasks, newTask(fmt.Sprintf("o%d", i), "other", onNode(node.ID, swarm.TaskStateRunning)))
		}
		pending := pendingTasks("web", rapid.IntRange(0, 60).Draw(t, "replicas"))
		pending = append(pending, pendingTasks("api", rapid.IntRange(0, 30).Draw(t, "api"))...)
		pending = rapid.Permutation(pending).Draw(t, "order")
		ds := Schedule(snap, pending)
		for _, svc := range []string{"web", "api"} {
			counts := map[string]int{}
			for _, n := range nodes {
				counts[n.ID] = 0
			}
			for _, d := range ds {
				if d.Err != "" {
					t.Fatalf("unexpected failure %s", d.Err)
				}
				if strings.HasPrefix(d.TaskID, svc+".") {
					counts[d.NodeID]++
				}
			}
			lo, hi := 1<<30, 0
			for _, c := range counts {
				lo, hi = min(lo, c), max(hi, c)
			}
			if hi-lo > 1 {
				t.Fatalf("%s spread unevenly: %v", svc, counts)
			}
		}
	})
}

func TestPropertySpreadPreferenceBalancesBranches(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var nodes []*swarm.Node
		zones := map[string]string{}
		for i := range rapid.IntRange(1, 12).Draw(t, "nodes") {
			id := fmt.Sprintf("n%02d", i)
			zone := rapid.SampledFrom([]string{"a", "b", "c", ""}).Draw(t, id+".zone")
			n := newNode(id)
			if zone != "" {
				n.Spec.Labels["zone"] = zone
			}
			zones[id] = zone
			nodes = append(nodes, n)
		}
		ds := Schedule(&fakeSnapshot{nodes: nodes}, pendingTasks("web", rapid.IntRange(0, 40).Draw(t, "replicas"), withSpread("node.labels.zone")))
		perZone := map[string]int{}
		for _, z := range zones {
			perZone[z] = 0
		}
		for _, d := range ds {
			perZone[zones[d.NodeID]]++
		}
		lo, hi := 1<<30, 0
		for _, c := range perZone {
			lo, hi = min(lo, c), max(hi, c)
		}
		if hi-lo > 1 {
			t.Fatalf("zones spread unevenly: %v", perZone)
		}
	})
}
