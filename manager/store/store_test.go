package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/internal/apierr"
)

// localProposer applies proposals straight to one store, numbering them like a log.
type localProposer struct {
	mu    sync.Mutex
	index uint64
	s     *Store
}

func (p *localProposer) Propose(_ context.Context, cmd []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.index++
	return p.s.Apply(p.index, cmd)
}

func newTestStore(t *testing.T) *Store {
	t.Helper()
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := New(nil, func() time.Time { return fixed })
	s.SetProposer(&localProposer{s: s})
	return s
}

func TestCreateUpdateDeleteVersions(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	n := &swarm.Node{ID: "n1", Spec: swarm.NodeSpec{Role: swarm.NodeRoleWorker}}
	if err := s.Write(ctx, Action{Op: OpCreate, Node: n}); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, Action{Op: OpCreate, Node: n}); apierr.KindOf(err) != apierr.KindConflict {
		t.Fatalf("duplicate create: got %v, want conflict", err)
	}
	got, err := s.Node("n1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version.Index != 1 || got.CreatedAt.IsZero() {
		t.Fatalf("created node meta = %+v", got.Meta)
	}
	stale := *got
	got.Spec.Availability = swarm.NodeAvailabilityDrain
	if err := s.Write(ctx, Action{Op: OpUpdate, Node: got}); err != nil {
		t.Fatal(err)
	}
	stale.Spec.Availability = swarm.NodeAvailabilityPause
	err = s.Write(ctx, Action{Op: OpUpdate, Node: &stale})
	if apierr.KindOf(err) != apierr.KindConflict {
		t.Fatalf("stale update: got %v, want conflict", err)
	}
	now, _ := s.Node("n1")
	if now.Spec.Availability != swarm.NodeAvailabilityDrain {
		t.Fatalf("stale update changed state: %v", now.Spec.Availability)
	}
	if err := s.Write(ctx, Action{Op: OpDelete, Node: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Node("n1"); apierr.KindOf(err) != apierr.KindNotFound {
		t.Fatalf("after delete: %v", err)
	}
}

func TestRefusedProposalChangesNothing(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	if err := s.Write(ctx, Action{Op: OpCreate, Node: &swarm.Node{ID: "a"}}); err != nil {
		t.Fatal(err)
	}
	// The second action fails, so the first must not be applied either.
	err := s.Write(ctx,
		Action{Op: OpCreate, Node: &swarm.Node{ID: "b"}},
		Action{Op: OpCreate, Node: &swarm.Node{ID: "a"}})
	if err == nil {
		t.Fatal("want an error for the duplicate")
	}
	if _, err := s.Node("b"); err == nil {
		t.Fatal("half of a refused proposal was applied")
	}
}

func TestUpdateNodeRetriesOnConflict(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	if err := s.Write(ctx, Action{Op: OpCreate, Node: &swarm.Node{ID: "a"}}); err != nil {
		t.Fatal(err)
	}
	first := true
	err := s.UpdateNode(ctx, "a", func(n *swarm.Node) error {
		if first { // someone else writes between our read and our write
			first = false
			other, _ := s.Node("a")
			other.Spec.Labels = map[string]string{"other": "1"}
			if err := s.Write(ctx, Action{Op: OpUpdate, Node: other}); err != nil {
				t.Fatal(err)
			}
		}
		if n.Spec.Labels == nil {
			n.Spec.Labels = map[string]string{}
		}
		n.Spec.Labels["mine"] = "1"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := s.Node("a")
	if n.Spec.Labels["other"] != "1" || n.Spec.Labels["mine"] != "1" {
		t.Fatalf("labels = %v, want both writers' changes", n.Spec.Labels)
	}
}

func TestSnapshotRestore(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	c := &Cluster{RootCAKeyPEM: []byte("key")}
	c.ID = "c1"
	if err := s.Write(ctx,
		Action{Op: OpCreate, Cluster: c},
		Action{Op: OpCreate, Node: &swarm.Node{ID: "n1"}},
		Action{Op: OpCreate, RemovedNode: &RemovedNode{ID: "gone"}}); err != nil {
		t.Fatal(err)
	}
	data, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r := New(nil, nil)
	changed := r.Changed()
	if err := r.Restore(data); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("Restore did not signal a change")
	}
	rc, err := r.Cluster()
	if err != nil || string(rc.RootCAKeyPEM) != "key" {
		t.Fatalf("cluster after restore = %+v, %v", rc, err)
	}
	if len(r.Nodes()) != 1 || !r.IsRemoved("gone") || r.IsRemoved("n1") {
		t.Fatalf("restore lost objects: nodes=%d", len(r.Nodes()))
	}
}

func TestServicesAndTasks(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	svc := &swarm.Service{ID: "s1", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "web"}}}
	if err := s.Write(ctx, Action{Op: OpCreate, Service: svc}); err != nil {
		t.Fatal(err)
	}
	dup := &swarm.Service{ID: "s2", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "web"}}}
	if err := s.Write(ctx, Action{Op: OpCreate, Service: dup}); apierr.KindOf(err) != apierr.KindConflict {
		t.Fatalf("duplicate service name: got %v, want conflict", err)
	}
	if err := s.Write(ctx,
		Action{Op: OpCreate, Task: &swarm.Task{ID: "t1", ServiceID: "s1", NodeID: "n1"}},
		Action{Op: OpCreate, Task: &swarm.Task{ID: "t2", ServiceID: "s1"}}); err != nil {
		t.Fatal(err)
	}
	if got := len(s.TasksOfService("s1")); got != 2 {
		t.Fatalf("tasks of s1 = %d, want 2", got)
	}
	if got := s.TasksOfNode("n1"); len(got) != 1 || got[0].ID != "t1" {
		t.Fatalf("tasks of n1 = %v", got)
	}
	if byName, err := s.ServiceByName("web"); err != nil || byName.ID != "s1" {
		t.Fatalf("ServiceByName = %v, %v", byName, err)
	}
	data, _ := s.Snapshot()
	r := New(nil, nil)
	if err := r.Restore(data); err != nil {
		t.Fatal(err)
	}
	if len(r.Tasks()) != 2 || len(r.Services()) != 1 {
		t.Fatal("snapshot lost services or tasks")
	}
}
