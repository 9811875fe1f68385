package raft

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/shoal/shoal/internal/apierr"
)

func TestElectsOneLeaderAllAgreeOn(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	leader := c.leader()
	for _, tn := range c.running() {
		id, addr := tn.node.Leader()
		if id != leader.id || addr != leader.id {
			t.Errorf("%s sees leader %s at %s, want %s", tn.id, id, addr, leader.id)
		}
		if tn.node.IsLeader() != (tn == leader) {
			t.Errorf("%s IsLeader = %v", tn.id, tn.node.IsLeader())
		}
	}
	if err := leader.node.WaitForLeader(context.Background()); err != nil {
		t.Errorf("WaitForLeader with a leader: %v", err)
	}
	if err := leader.node.Barrier(context.Background()); err != nil {
		t.Errorf("Barrier on the leader: %v", err)
	}
	follower := c.follower()
	if err := follower.node.Barrier(context.Background()); !errors.Is(err, ErrNotLeader) || apierr.KindOf(err) != apierr.KindUnavailable {
		t.Errorf("Barrier on a follower = %v, want an Unavailable ErrNotLeader", err)
	}
	if follower.node.LastContact().IsZero() {
		t.Errorf("follower %s never heard from the leader", follower.id)
	}
}

func TestWritesOnAnyNodeReachEveryFSM(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	c.leader()
	nodes := c.running()
	for i, tn := range nodes {
		propose(t, tn.node, fmt.Sprintf("set key%d=from-%s", i, tn.id))
	}
	for i, tn := range nodes {
		waitValue(t, fmt.Sprintf("key%d", i), "from-"+tn.id, nodes...)
	}

	// The FSM's answer comes back to the proposer, forwarded or not.
	for _, tn := range []*testNode{c.leader(), c.follower()} {
		err := tn.node.Propose(context.Background(), []byte("create key0=again"))
		if apierr.KindOf(err) != apierr.KindConflict {
			t.Errorf("create of an existing key on %s = %v, want the FSM's Conflict error", tn.id, err)
		}
	}
}

func TestLeaderLossElectsNewLeaderAndWritesContinue(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	old := c.leader()
	changes := old.node.LeadershipChanges()
	c.stop(old.id)

	last, seen := false, 0
	for v := range changes {
		last, seen = v, seen+1
	}
	if seen == 0 || last {
		t.Errorf("old leader's LeadershipChanges ended with %v after %d values, want false last", last, seen)
	}

	leader := c.leader()
	if leader == old {
		t.Fatalf("stopped node %s still leads", old.id)
	}
	select {
	case v := <-leader.node.LeadershipChanges():
		if !v {
			t.Errorf("new leader %s got LeadershipChanges false", leader.id)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("new leader %s got no LeadershipChanges signal", leader.id)
	}
	follower := c.follower()
	propose(t, follower.node, "set after=failover")
	waitValue(t, "after", "failover", c.running()...)
}

func TestQuorumLossRefusesWritesUntilAMajorityReturns(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	survivor := c.follower()
	var lost []string
	for _, id := range c.ids() {
		if id != survivor.id {
			lost = append(lost, id)
			c.isolate(id)
		}
	}

	// The first attempts may still meet the old leader (and fail to reach
	// it); once the survivor knows there is no leader, it must say so.
	var err error
	waitFor(t, "Propose to report that there is no leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = survivor.node.Propose(ctx, []byte("set during=outage"))
		if err == nil {
			t.Fatal("a write succeeded with 2 of 3 managers unreachable")
		}
		if apierr.KindOf(err) != apierr.KindUnavailable {
			t.Fatalf("Propose without quorum = %v (kind %v), want an Unavailable error", err, apierr.KindOf(err))
		}
		return errors.Is(err, ErrNoLeader)
	})
	t.Logf("no-leader error: %v", err)
	for _, want := range []string{"no leader", "quorum", "3 managers", "majority of 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no-leader error %q does not mention %q", err, want)
		}
	}

	c.heal(lost[0])
	waitFor(t, "writes to succeed after one manager is back", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return survivor.node.Propose(ctx, []byte("set after=heal")) == nil
	})
	waitValue(t, "after", "heal", survivor, c.get(lost[0]))
}

func TestForceNewClusterRecoversLoneSurvivor(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{onDisk: true})
	for i := range 10 {
		propose(t, c.leader().node, fmt.Sprintf("set key%d=v%d", i, i))
	}
	survivor := c.follower()
	waitValue(t, "key9", "v9", survivor)
	c.stopAll()

	survivor = c.start(survivor.id, startOpts{forceNewCluster: true})
	if c.leader() != survivor {
		t.Fatalf("survivor %s does not lead after force-new-cluster", survivor.id)
	}
	for i := range 10 {
		if v, _ := survivor.fsm.get(fmt.Sprintf("key%d", i)); v != fmt.Sprintf("v%d", i) {
			t.Errorf("key%d = %q after recovery, want v%d", i, v, i)
		}
	}
	propose(t, survivor.node, "set after=recovery")
	waitValue(t, "after", "recovery", survivor)
	servers, err := survivor.node.Servers()
	if err != nil {
		t.Fatal(err)
	}
	if want := []Server{{ID: survivor.id, Addr: survivor.id, Voter: true}}; !slices.Equal(servers, want) {
		t.Errorf("Servers() = %v, want %v", servers, want)
	}
}

func TestSnapshotThenRestartKeepsState(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{onDisk: true, tune: func(cfg *Config) {
		cfg.SnapshotThreshold = 16
		cfg.SnapshotInterval = 20 * time.Millisecond
		cfg.TrailingLogs = 4
	}})
	const writes = 60
	for i := range writes {
		propose(t, c.leader().node, fmt.Sprintf("set key%d=v%d", i, i))
	}
	nodes := c.running()
	waitValue(t, fmt.Sprintf("key%d", writes-1), fmt.Sprintf("v%d", writes-1), nodes...)
	for _, tn := range nodes {
		waitFor(t, "a snapshot on "+tn.id, func() bool {
			snaps, err := hraft.NewFileSnapshotStore(tn.dir, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			list, err := snaps.List()
			return err == nil && len(list) > 0
		})
	}
	c.stopAll()

	for _, tn := range nodes {
		if has, err := HasState(tn.dir); err != nil || !has {
			t.Fatalf("HasState(%s) = %v, %v after a run, want true", tn.id, has, err)
		}
	}
	if has, err := HasState(t.TempDir()); err != nil || has {
		t.Errorf("HasState(empty dir) = %v, %v, want false", has, err)
	}

	for _, tn := range nodes {
		c.start(tn.id, startOpts{})
	}
	restarted := c.running()
	for _, tn := range restarted {
		if tn.fsm.restoreCount() == 0 {
			t.Errorf("%s did not restore a snapshot on restart", tn.id)
		}
	}
	for i := range writes {
		waitValue(t, fmt.Sprintf("key%d", i), fmt.Sprintf("v%d", i), restarted...)
	}
	propose(t, c.follower().node, "set after=restart")
	waitValue(t, "after", "restart", restarted...)
}

func TestAddVoterAndRemoveServerChangeServers(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{})
	leader := c.leader()
	propose(t, leader.node, "set before=join")
	ctx := context.Background()

	fourth := c.start(nodeID(4), startOpts{})
	for range 2 { // the second call finds it there already
		if err := leader.node.AddVoter(ctx, fourth.id, fourth.id); err != nil {
			t.Fatalf("AddVoter(%s): %v", fourth.id, err)
		}
	}
	wantIDs(t, leader.node, nodeID(1), nodeID(2), nodeID(3), nodeID(4))
	waitValue(t, "before", "join", fourth)

	for range 2 { // the second call finds it gone already
		if err := leader.node.RemoveServer(ctx, fourth.id); err != nil {
			t.Fatalf("RemoveServer(%s): %v", fourth.id, err)
		}
	}
	wantIDs(t, leader.node, nodeID(1), nodeID(2), nodeID(3))

	follower := c.follower()
	if err := follower.node.AddVoter(ctx, "manager-9", "manager-9"); !errors.Is(err, ErrNotLeader) || apierr.KindOf(err) != apierr.KindUnavailable {
		t.Errorf("AddVoter on a follower = %v, want an Unavailable ErrNotLeader", err)
	}
	if err := leader.node.AddVoter(ctx, "", "x:1"); apierr.KindOf(err) != apierr.KindInvalid {
		t.Errorf("AddVoter without an ID = %v, want Invalid", err)
	}
}

func wantIDs(t *testing.T, n *Node, ids ...string) {
	t.Helper()
	servers, err := n.Servers()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range servers {
		if !s.Voter {
			t.Errorf("%s is not a voter", s.ID)
		}
		got = append(got, s.ID)
	}
	slices.Sort(got)
	if !slices.Equal(got, ids) {
		t.Errorf("Servers() IDs = %v, want %v", got, ids)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, trans := hraft.NewInmemTransport("a")
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no ID", Config{Transport: trans}, "ID is empty"},
		{"no transport", Config{ID: "a", Addr: "a"}, "Transport is nil"},
		{"bootstrap and force", Config{ID: "a", Transport: trans, Bootstrap: true, ForceNewCluster: true}, "exclude each other"},
		{"force without state", Config{ID: "a", Transport: trans, ForceNewCluster: true}, "no raft state to recover"},
		{"lease above heartbeat", Config{ID: "a", Transport: trans, LeaderLeaseTimeout: 2 * DefaultHeartbeatTimeout}, "LeaderLeaseTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := New(tt.cfg, newKVFSM())
			if err == nil {
				n.Shutdown()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestFollowerWithoutForwardRefusesWrites(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{tune: func(cfg *Config) { cfg.Forward = nil }})
	follower := c.follower()
	err := follower.node.Propose(context.Background(), []byte("set k=v"))
	if !errors.Is(err, ErrNotLeader) || apierr.KindOf(err) != apierr.KindUnavailable {
		t.Fatalf("Propose on a follower without Forward = %v, want an Unavailable ErrNotLeader", err)
	}
	if leader := c.leader(); !strings.Contains(err.Error(), leader.id) {
		t.Errorf("error %q does not name the leader %s", err, leader.id)
	}
}
