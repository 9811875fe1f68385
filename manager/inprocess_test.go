package manager

// An in-process control plane: three managers, each the real store over a real Raft
// member, joined by hashicorp/raft's in-memory transport, with forwarding between them
// through a map instead of mTLS. The dispatcher runs on a fake clock.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/clusterapi"
	"github.com/shoal/shoal/internal/apierr"
	"github.com/shoal/shoal/internal/clock"
	"github.com/shoal/shoal/manager/dispatcher"
	"github.com/shoal/shoal/manager/raft"
	"github.com/shoal/shoal/manager/store"
)

type testManager struct {
	id    string
	store *store.Store
	raft  *raft.Node
	trans *hraft.InmemTransport
}

type testCluster struct {
	t        *testing.T
	mu       sync.Mutex
	managers map[string]*testManager
	order    []string
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	c := &testCluster{t: t, managers: map[string]*testManager{}}
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("m%d", i)
		_, trans := hraft.NewInmemTransportWithTimeout(hraft.ServerAddress(id), 200*time.Millisecond)
		c.managers[id] = &testManager{id: id, trans: trans}
		c.order = append(c.order, id)
	}
	for _, a := range c.managers {
		for _, b := range c.managers {
			if a != b {
				a.trans.Connect(hraft.ServerAddress(b.id), b.trans)
			}
		}
	}
	for i, id := range c.order {
		m := c.managers[id]
		m.store = store.New(nil, time.Now)
		node, err := raft.New(raft.Config{
			ID: id, Addr: id, Transport: m.trans, Bootstrap: i == 0,
			HeartbeatTimeout: 150 * time.Millisecond, ElectionTimeout: 150 * time.Millisecond,
			LeaderLeaseTimeout: 100 * time.Millisecond, CommitTimeout: 10 * time.Millisecond,
			ApplyTimeout: time.Second,
			Forward:      c.forward,
			Logger:       quietLogger(),
		}, m.store)
		if err != nil {
			t.Fatal(err)
		}
		m.raft = node
		m.store.SetProposer(node)
	}
	t.Cleanup(func() {
		for _, m := range c.managers {
			_ = m.raft.Shutdown()
		}
	})
	first := c.managers[c.order[0]]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := first.raft.WaitForLeader(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range c.order[1:] {
		if err := first.raft.AddVoter(ctx, id, id); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// forward plays the manager's /cluster/propose hop.
func (c *testCluster) forward(ctx context.Context, leaderID, _ string, cmd []byte) (uint64, error) {
	c.mu.Lock()
	m := c.managers[leaderID]
	c.mu.Unlock()
	if m == nil {
		return 0, apierr.Unavailablef("no such leader %s", leaderID)
	}
	return m.raft.ProposeAsLeader(ctx, cmd)
}

func (c *testCluster) leader() *testManager {
	c.t.Helper()
	var found *testManager
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range c.managers {
			if m.raft.IsLeader() {
				found = m
			}
		}
		if found != nil {
			return found
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no leader elected")
	return nil
}

// isolate cuts every link of m; heal restores them.
func (c *testCluster) isolate(m *testManager) {
	m.trans.DisconnectAll()
	for _, o := range c.managers {
		if o != m {
			o.trans.Disconnect(hraft.ServerAddress(m.id))
		}
	}
}

func (c *testCluster) heal(m *testManager) {
	for _, o := range c.managers {
		if o != m {
			m.trans.Connect(hraft.ServerAddress(o.id), o.trans)
			o.trans.Connect(hraft.ServerAddress(m.id), m.trans)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func createNode(ctx context.Context, s *store.Store, id string) error {
	return s.Write(ctx, store.Action{Op: store.OpCreate, Node: &swarm.Node{ID: id, Spec: swarm.NodeSpec{Role: swarm.NodeRoleWorker}}})
}

func TestInProcessControlPlane(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster: a few seconds of raft elections")
	}
	ctx := context.Background()
	c := newTestCluster(t, 3)
	lead := c.leader()

	t.Run("writes on any manager reach every store", func(t *testing.T) {
		for _, id := range c.order {
			if err := createNode(ctx, c.managers[id].store, "node-from-"+id); err != nil {
				t.Fatalf("write on %s: %v", id, err)
			}
		}
		for _, m := range c.managers {
			waitFor(t, m.id+" to hold all nodes", func() bool { return len(m.store.Nodes()) == 3 })
		}
	})

	t.Run("a stale write on a follower is refused", func(t *testing.T) {
		var follower *testManager
		for _, m := range c.managers {
			if m != lead {
				follower = m
			}
		}
		n, err := follower.store.Node("node-from-m1")
		if err != nil {
			t.Fatal(err)
		}
		n.Spec.Availability = swarm.NodeAvailabilityDrain
		if err := follower.store.Write(ctx, store.Action{Op: store.OpUpdate, Node: n}); err != nil {
			t.Fatal(err)
		}
		n.Spec.Availability = swarm.NodeAvailabilityPause // same old version again
		err = follower.store.Write(ctx, store.Action{Op: store.OpUpdate, Node: n})
		if apierr.KindOf(err) != apierr.KindConflict {
			t.Fatalf("stale write: got %v, want a conflict", err)
		}
	})

	t.Run("leader loss elects a new leader that takes writes", func(t *testing.T) {
		c.isolate(lead)
		var next *testManager
		waitFor(t, "a new leader", func() bool {
			for _, m := range c.managers {
				if m != lead && m.raft.IsLeader() {
					next = m
					return true
				}
			}
			return false
		})
		if err := createNode(ctx, next.store, "after-failover"); err != nil {
			t.Fatal(err)
		}
		c.heal(lead)
		waitFor(t, "the old leader to catch up", func() bool {
			_, err := lead.store.Node("after-failover")
			return err == nil
		})
		lead = c.leader()
	})

	t.Run("two of three lost: writes fail fast and clearly, then recover", func(t *testing.T) {
		survivor := lead
		var lost []*testManager
		for _, m := range c.managers {
			if m != survivor {
				lost = append(lost, m)
				c.isolate(m)
			}
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		start := time.Now()
		var err error
		for time.Since(start) < 8*time.Second {
			// The first failure may be the leader losing its lease mid-write; the
			// next writes must be refused outright for want of a leader.
			if err = createNode(wctx, survivor.store, "no-quorum"); err != nil && strings.Contains(err.Error(), "quorum") {
				break
			}
		}
		took := time.Since(start)
		if apierr.KindOf(err) != apierr.KindUnavailable || !strings.Contains(err.Error(), "quorum") {
			t.Fatalf("write without quorum: got %v, want an Unavailable error about quorum", err)
		}
		t.Logf("write without quorum refused after %s: %v", took.Round(time.Millisecond), err)
		// Both come back (the raft package's own tests cover one coming back).
		c.heal(lost[0])
		c.heal(lost[1])
		waitFor(t, "writes to work again", func() bool {
			return createNode(ctx, survivor.store, fmt.Sprintf("recovered-%d", time.Now().UnixNano())) == nil
		})
	})
}

// TestDispatcherOnFakeClock drives heartbeats and leadership changes with a fake clock.
func TestDispatcherOnFakeClock(t *testing.T) {
	ctx := context.Background()
	c := newTestCluster(t, 1)
	st := c.managers["m1"].store
	cl := &store.Cluster{}
	cl.ID = "cluster"
	cl.Spec.Dispatcher.HeartbeatPeriod = 5 * time.Second
	if err := st.Write(ctx, store.Action{Op: store.OpCreate, Cluster: cl},
		store.Action{Op: store.OpCreate, Node: &swarm.Node{ID: "w1", Status: swarm.NodeStatus{State: swarm.NodeStateReady}}},
		store.Action{Op: store.OpCreate, Node: &swarm.Node{ID: "w2", Status: swarm.NodeStatus{State: swarm.NodeStateReady}}}); err != nil {
		t.Fatal(err)
	}
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	runFor := func() (*dispatcher.Dispatcher, context.CancelFunc, chan struct{}) {
		d := dispatcher.New(st, fake, quietLogger())
		dctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = d.Run(dctx) }()
		waitFor(t, "the dispatcher loop to park", func() bool { return fake.Waiters() > 0 })
		return d, cancel, done
	}
	state := func(id string) swarm.NodeState {
		n, err := st.Node(id)
		if err != nil {
			t.Fatal(err)
		}
		return n.Status.State
	}
	d, cancel, done := runFor()
	// w2 beats once, which ends the new leader's grace for it: from then on it has three
	// periods.
	if _, err := d.Heartbeat(ctx, clusterapi.HeartbeatRequest{NodeID: "w2"}); err != nil {
		t.Fatal(err)
	}
	step := func(total time.Duration, beat bool) {
		for elapsed := time.Duration(0); elapsed < total; elapsed += time.Second {
			if beat {
				if _, err := d.Heartbeat(ctx, clusterapi.HeartbeatRequest{NodeID: "w1"}); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "the dispatcher loop to park", func() bool { return fake.Waiters() > 0 })
			fake.Advance(time.Second)
		}
	}
	step(14*time.Second, true)
	if state("w1") != swarm.NodeStateReady || state("w2") != swarm.NodeStateReady {
		t.Fatal("a node went down before missing three periods")
	}
	step(3*time.Second, true)
	waitFor(t, "w2 (silent for three periods) to be Down", func() bool { return state("w2") == swarm.NodeStateDown })
	if state("w1") != swarm.NodeStateReady {
		t.Fatal("w1 kept beating but is not Ready")
	}

	// A leadership change: a new dispatcher starts with a full grace window, so w1 (which
	// beat recently) is not marked Down while it finds the new leader.
	cancel()
	<-done
	fake.Advance(10 * time.Second) // the old leader died; nobody heard w1 meanwhile
	d, cancel, done = runFor()
	step(14*time.Second, false)
	if state("w1") != swarm.NodeStateReady {
		t.Fatal("a leader change marked a healthy node Down")
	}
	if _, err := d.Heartbeat(ctx, clusterapi.HeartbeatRequest{NodeID: "w2"}); err != nil {
		t.Fatal(err)
	}
	if state("w2") != swarm.NodeStateReady {
		t.Fatal("a heartbeat did not bring w2 back to Ready")
	}
	cancel()
	<-done
}
