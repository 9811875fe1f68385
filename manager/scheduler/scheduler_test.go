package scheduler

import (
	"maps"
	"reflect"
	"testing"

	"github.com/moby/moby/api/types/swarm"
)

func TestSchedule(t *testing.T) {
	const gib = 1 << 30
	three := func(opts ...nodeOpt) []*swarm.Node {
		return []*swarm.Node{newNode("a", opts...), newNode("b", opts...), newNode("c", opts...)}
	}
	cases := []struct {
		name     string
		snap     *fakeSnapshot
		pending  []*swarm.Task
		want     map[string]int // placements per node
		wantErrs map[string]int // error text -> number of tasks with it
	}{
		{
			name:    "more replicas than nodes puts several on a node, evenly",
			snap:    &fakeSnapshot{nodes: three()},
			pending: pendingTasks("web", 10),
			want:    map[string]int{"a": 4, "b": 3, "c": 3},
		},
		{
			name: "spread by service counts tasks already placed",
			snap: &fakeSnapshot{nodes: three(), tasks: []*swarm.Task{
				newTask("old1", "web", onNode("a", swarm.TaskStateRunning)),
				newTask("old2", "web", onNode("a", swarm.TaskStateRunning)),
			}},
			pending: pendingTasks("web", 4),
			want:    map[string]int{"b": 2, "c": 2},
		},
		{
			name: "then by total active tasks",
			snap: &fakeSnapshot{nodes: three(), tasks: []*swarm.Task{
				newTask("x1", "other", onNode("a", swarm.TaskStateRunning)),
				newTask("x2", "other", onNode("b", swarm.TaskStateRunning)),
				newTask("x3", "other", onNode("b", swarm.TaskStateStarting)),
			}},
			pending: pendingTasks("web", 2),
			want:    map[string]int{"c": 1, "a": 1},
		},
		{
			name: "ended tasks and tasks being shut down do not count toward spreading",
			snap: &fakeSnapshot{nodes: three(), tasks: []*swarm.Task{
				newTask("gone", "web", onNode("a", swarm.TaskStateFailed)),
				newTask("stopping", "web", onNode("b", swarm.TaskStateRunning), desired(swarm.TaskStateShutdown)),
				newTask("live", "web", onNode("c", swarm.TaskStateRunning)),
			}},
			pending: pendingTasks("web", 2),
			want:    map[string]int{"a": 1, "b": 1},
		},
		{
			name:     "down, paused and drained nodes take nothing new",
			snap:     &fakeSnapshot{nodes: []*swarm.Node{newNode("a", withState(swarm.NodeStateDown)), newNode("b", withAvailability(swarm.NodeAvailabilityPause)), newNode("c", withAvailability(swarm.NodeAvailabilityDrain)), newNode("d", withState(swarm.NodeStateUnknown))}},
			pending:  pendingTasks("web", 2),
			wantErrs: map[string]int{"no suitable node (2 nodes not ready; 2 nodes not available for new tasks)": 2},
		},
		{
			name: "the reason counts each node against the first filter it fails",
			snap: &fakeSnapshot{nodes: []*swarm.Node{
				newNode("a"), newNode("b"), newNode("c"),
				newNode("d", withLabel("zone", "eu"), withResources(1e9, gib)),
			}},
			pending:  pendingTasks("web", 1, withConstraints("node.labels.zone==eu"), withReservation(2e9, 0)),
			wantErrs: map[string]int{"no suitable node (scheduling constraints not satisfied on 3 nodes; insufficient resources on 1 node)": 1},
		},
		{
			name:    "constraints",
			snap:    &fakeSnapshot{nodes: []*swarm.Node{newNode("a", withRole(swarm.NodeRoleManager)), newNode("b"), newNode("c")}},
			pending: pendingTasks("web", 4, withConstraints("node.role==worker", "node.hostname!=c")),
			want:    map[string]int{"b": 4},
		},
		{
			name:     "a constraint that does not parse places nothing",
			snap:     &fakeSnapshot{nodes: three()},
			pending:  pendingTasks("web", 1, withConstraints("node.flavour==x")),
			wantErrs: map[string]int{`no suitable node (invalid constraint "node.flavour==x": unknown key "node.flavour"; keys: node.id, node.hostname, node.role, node.ip, node.platform.os, node.platform.arch, node.labels.<name>, engine.labels.<name>)`: 1},
		},
		{
			name:     "reservations fill nodes, then the rest stays pending",
			snap:     &fakeSnapshot{nodes: three(withResources(2e9, 4*gib))},
			pending:  pendingTasks("web", 8, withReservation(1e9, gib)),
			want:     map[string]int{"a": 2, "b": 2, "c": 2},
			wantErrs: map[string]int{"no suitable node (insufficient resources on 3 nodes)": 2},
		},
		{
			name: "reservations of running tasks count, even when they are being shut down",
			snap: &fakeSnapshot{nodes: three(withResources(2e9, 4*gib)), tasks: []*swarm.Task{
				newTask("big-a", "db", onNode("a", swarm.TaskStateRunning), withReservation(2e9, 0)),
				newTask("big-b", "db", onNode("b", swarm.TaskStateRunning), withReservation(0, 4*gib), desired(swarm.TaskStateShutdown)),
				newTask("done-c", "db", onNode("c", swarm.TaskStateComplete), withReservation(2e9, 4*gib)),
			}},
			pending:  pendingTasks("web", 3, withReservation(1e9, gib)),
			want:     map[string]int{"c": 2},
			wantErrs: map[string]int{"no suitable node (insufficient resources on 3 nodes)": 1},
		},
		{
			name:     "memory alone can be short",
			snap:     &fakeSnapshot{nodes: []*swarm.Node{newNode("a", withResources(8e9, gib))}},
			pending:  pendingTasks("web", 2, withReservation(0, gib/2+1)),
			want:     map[string]int{"a": 1},
			wantErrs: map[string]int{"no suitable node (insufficient resources on 1 node)": 1},
		},
		{
			name:     "max replicas per node",
			snap:     &fakeSnapshot{nodes: []*swarm.Node{newNode("a"), newNode("b")}, tasks: []*swarm.Task{newTask("old", "web", onNode("a", swarm.TaskStateRunning))}},
			pending:  pendingTasks("web", 4, withMaxReplicas(2)),
			want:     map[string]int{"a": 1, "b": 2},
			wantErrs: map[string]int{"no suitable node (max replicas per node limit exceeded on 2 nodes)": 1},
		},
		{
			name: "host-mode published ports",
			snap: &fakeSnapshot{
				nodes:    three(),
				tasks:    []*swarm.Task{newTask("old", "other", onNode("a", swarm.TaskStateRunning))},
				services: map[string]*swarm.Service{"web": hostPortService("web", 8080), "other": hostPortService("other", 8080)},
			},
			pending:  pendingTasks("web", 3),
			want:     map[string]int{"b": 1, "c": 1},
			wantErrs: map[string]int{"no suitable node (host-mode port already in use on 3 nodes)": 1},
		},
		{
			name:     "platform",
			snap:     &fakeSnapshot{nodes: []*swarm.Node{newNode("a"), newNode("b", withArch("aarch64")), newNode("c", withArch("arm64"), withState(swarm.NodeStateDown))}},
			pending:  pendingTasks("web", 2, withPlatforms(swarm.Platform{OS: "linux", Architecture: "arm64"})),
			want:     map[string]int{"b": 2},
			wantErrs: map[string]int{},
		},
		{
			name:     "platform failures are reported last",
			snap:     &fakeSnapshot{nodes: []*swarm.Node{newNode("a"), newNode("b", withResources(0, 0))}},
			pending:  pendingTasks("web", 1, withPlatforms(swarm.Platform{Architecture: "arm64"}), withReservation(1e9, 0)),
			wantErrs: map[string]int{"no suitable node (insufficient resources on 1 node; unsupported platform on 1 node)": 1},
		},
		{
			name: "spread over a label, then over nodes inside each value",
			snap: &fakeSnapshot{nodes: []*swarm.Node{
				newNode("a1", withLabel("zone", "a")), newNode("a2", withLabel("zone", "a")), newNode("a3", withLabel("zone", "a")),
				newNode("b1", withLabel("zone", "b")),
			}},
			pending: pendingTasks("web", 6, withSpread("node.labels.zone")),
			want:    map[string]int{"a1": 1, "a2": 1, "a3": 1, "b1": 3},
		},
		{
			name: "nodes without the label form their own branch",
			snap: &fakeSnapshot{nodes: []*swarm.Node{
				newNode("a1", withLabel("zone", "a")), newNode("a2", withLabel("zone", "a")),
				newNode("x1"), newNode("x2"),
			}},
			pending: pendingTasks("web", 4, withSpread("node.labels.zone")),
			want:    map[string]int{"a1": 1, "a2": 1, "x1": 1, "x2": 1},
		},
		{
			name: "nested spread",
			snap: &fakeSnapshot{nodes: []*swarm.Node{
				newNode("eu-r1-1", withLabel("dc", "eu"), withLabel("rack", "r1")),
				newNode("eu-r1-2", withLabel("dc", "eu"), withLabel("rack", "r1")),
				newNode("eu-r2-1", withLabel("dc", "eu"), withLabel("rack", "r2")),
				newNode("us-r1-1", withLabel("dc", "us"), withLabel("rack", "r1")),
			}},
			pending: pendingTasks("web", 8, withSpread("node.labels.dc", "node.labels.rack")),
			want:    map[string]int{"eu-r1-1": 1, "eu-r1-2": 1, "eu-r2-1": 2, "us-r1-1": 4},
		},
		{
			name: "spread counts the service's tasks already in each branch",
			snap: &fakeSnapshot{
				nodes: []*swarm.Node{newNode("a1", withLabel("zone", "a")), newNode("b1", withLabel("zone", "b"))},
				tasks: []*swarm.Task{
					newTask("o1", "web", onNode("a1", swarm.TaskStateRunning)),
					newTask("o2", "web", onNode("a1", swarm.TaskStateRunning)),
				},
			},
			pending: pendingTasks("web", 4, withSpread("node.labels.zone")),
			want:    map[string]int{"a1": 1, "b1": 3},
		},
		{
			name: "a branch whose nodes are full gives way to the others",
			snap: &fakeSnapshot{nodes: []*swarm.Node{
				newNode("a1", withLabel("zone", "a"), withResources(1e9, 8*gib)),
				newNode("b1", withLabel("zone", "b")),
			}},
			pending: pendingTasks("web", 4, withSpread("node.labels.zone"), withReservation(1e9, 0)),
			want:    map[string]int{"a1": 1, "b1": 3},
		},
		{
			name:     "no nodes",
			snap:     &fakeSnapshot{},
			pending:  pendingTasks("web", 1),
			wantErrs: map[string]int{"no suitable node (no nodes in the cluster)": 1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ds := Schedule(tc.snap, tc.pending)
			if len(ds) != len(tc.pending) {
				t.Fatalf("%d decisions for %d tasks", len(ds), len(tc.pending))
			}
			for i, d := range ds {
				if d.TaskID != tc.pending[i].ID {
					t.Fatalf("decision %d is for %s, want %s", i, d.TaskID, tc.pending[i].ID)
				}
				if (d.NodeID == "") == (d.Err == "") {
					t.Fatalf("decision %+v: want exactly one of NodeID and Err", d)
				}
			}
			want := tc.want
			if want == nil {
				want = map[string]int{}
			}
			if got := perNode(ds); !maps.Equal(got, want) {
				t.Errorf("placements = %v, want %v", got, want)
			}
			errs := map[string]int{}
			for _, d := range ds {
				if d.Err != "" {
					errs[d.Err]++
				}
			}
			wantErrs := tc.wantErrs
			if wantErrs == nil {
				wantErrs = map[string]int{}
			}
			if !maps.Equal(errs, wantErrs) {
				t.Errorf("errors = %v, want %v", errs, wantErrs)
			}
		})
	}
}

func TestSchedulePreassigned(t *testing.T) {
	snap := &fakeSnapshot{nodes: []*swarm.Node{
		newNode("a"),
		newNode("b", withAvailability(swarm.NodeAvailabilityPause)),
		newNode("c", withResources(1e9, 1<<30)),
	}}
	pending := []*swarm.Task{
		newTask("g-a", "global", withConstraints("node.role==worker"), func(t *swarm.Task) { t.NodeID = "a" }),
		newTask("g-b", "global", func(t *swarm.Task) { t.NodeID = "b" }),
		newTask("g-c", "global", withReservation(2e9, 0), func(t *swarm.Task) { t.NodeID = "c" }),
		newTask("g-z", "global", func(t *swarm.Task) { t.NodeID = "z" }),
		newTask("free", "web"),
	}
	got := Schedule(snap, pending)
	want := []Decision{
		{TaskID: "g-a", NodeID: "a"},
		{TaskID: "g-b", Err: "no suitable node (1 node not available for new tasks)"},
		{TaskID: "g-c", Err: "no suitable node (insufficient resources on 1 node)"},
		{TaskID: "g-z", Err: "no suitable node (node z not found)"},
		{TaskID: "free", NodeID: "c"}, // a already has the global task; b is paused
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestScheduleSkipsTasksShutDownBeforePlacement(t *testing.T) {
	snap := &fakeSnapshot{nodes: []*swarm.Node{newNode("a")}}
	pending := []*swarm.Task{
		newTask("gone", "web", desired(swarm.TaskStateShutdown)),
		newTask("removed", "web", desired(swarm.TaskStateRemove)),
		newTask("delayed", "web", desired(swarm.TaskStateReady)),
	}
	got := Schedule(snap, pending)
	want := []Decision{{TaskID: "delayed", NodeID: "a"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestScheduleGroupsBySpec(t *testing.T) {
	// Two spec versions of one service (a rolling update) place separately but spread
	// together: the service's count per node is shared.
	snap := &fakeSnapshot{nodes: []*swarm.Node{newNode("a", withLabel("ssd", "yes")), newNode("b"), newNode("c")}}
	pending := append(pendingTasks("web", 2), newTask("web.new", "web", withConstraints("node.labels.ssd==yes")))
	pending = append(pending, newTask("web.3", "web"))
	got := Schedule(snap, pending)
	want := []Decision{
		{TaskID: "web.1", NodeID: "a"},
		{TaskID: "web.2", NodeID: "b"},
		{TaskID: "web.new", NodeID: "a"},
		{TaskID: "web.3", NodeID: "c"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestScheduleIsDeterministic(t *testing.T) {
	snap := &fakeSnapshot{nodes: []*swarm.Node{newNode("c"), newNode("a"), newNode("b")}}
	first := Schedule(snap, pendingTasks("web", 7))
	for range 5 {
		if again := Schedule(snap, pendingTasks("web", 7)); !reflect.DeepEqual(first, again) {
			t.Fatalf("decisions differ between calls:\n%+v\n%+v", first, again)
		}
	}
	if first[0].NodeID != "a" {
		t.Errorf("ties go to the lowest node ID: first task on %s", first[0].NodeID)
	}
}
