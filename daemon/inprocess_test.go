package daemon

// An in-process cluster of real daemons (real Raft, mTLS, dispatcher, orchestrators,
// agents) on loopback addresses, each with the fake executor, to test control-plane
// behaviour that needs several nodes without containers.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/agent/exec/exectest"
	"github.com/shoal/shoal/api"
	"github.com/shoal/shoal/internal/clock"
)

type testNode struct {
	d      *Daemon
	addr   string
	cancel context.CancelFunc
	done   chan struct{}
	exec   *exectest.Executor
}

func startTestNode(t *testing.T, name, ip string) *testNode {
	t.Helper()
	dir := t.TempDir()
	fake := exectest.New(clock.Real{})
	d, err := New(Config{
		DataRoot: filepath.Join(dir, "data"),
		Host:     "unix://" + filepath.Join(dir, "shoal.sock"),
		Hostname: name,
		Version:  "test",
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Executor: fake,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &testNode{d: d, addr: ip + ":2377", cancel: cancel, done: make(chan struct{}), exec: fake}
	go func() { defer close(n.done); _ = d.Run(ctx) }()
	waitUntil(t, 5*time.Second, name+" to serve", func() bool {
		_, err := os.Stat(filepath.Join(dir, "shoal.sock"))
		return err == nil
	})
	t.Cleanup(n.stop)
	return n
}

func (n *testNode) stop() {
	n.cancel()
	<-n.done
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

// TestLeaderKilledMidUpdate: three managers and two workers; a rolling update is under
// way when the leader dies; the update still finishes, and no slot is lost or doubled.
func TestLeaderKilledMidUpdate(t *testing.T) {
	if testing.Short() {
		t.Skip("in-process cluster: tens of seconds")
	}
	ctx := context.Background()
	ips := []string{"127.0.10.1", "127.0.10.2", "127.0.10.3", "127.0.10.4", "127.0.10.5"}
	var nodes []*testNode
	for i, ip := range ips {
		nodes = append(nodes, startTestNode(t, fmt.Sprintf("node-%d", i+1), ip))
	}
	first := nodes[0]
	spec := swarm.Spec{}
	spec.Dispatcher.HeartbeatPeriod = 500 * time.Millisecond
	if _, err := first.d.SwarmInit(ctx, swarm.InitRequest{ListenAddr: first.addr, AdvertiseAddr: first.addr, Spec: spec}); err != nil {
		t.Fatal(err)
	}
	sw, err := first.d.SwarmInspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes[1:] {
		token := sw.JoinTokens.Worker
		if i < 2 {
			token = sw.JoinTokens.Manager
		}
		if err := n.d.SwarmJoin(ctx, swarm.JoinRequest{ListenAddr: n.addr, AdvertiseAddr: n.addr, RemoteAddrs: []string{first.addr}, JoinToken: token}); err != nil {
			t.Fatalf("join %s: %v", n.addr, err)
		}
	}

	replicas := uint64(6)
	svcSpec := swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: "web"},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "app:1"}},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
		UpdateConfig: &swarm.UpdateConfig{Parallelism: 1, Delay: 300 * time.Millisecond, Monitor: 200 * time.Millisecond},
	}
	created, err := first.d.ServiceCreate(ctx, svcSpec)
	if err != nil {
		t.Fatal(err)
	}
	running := func(via *testNode, image string) int {
		tasks, err := via.d.TaskList(ctx, api.TaskListFilters{Service: []string{created.ID}})
		if err != nil {
			return -1
		}
		n := 0
		for _, tk := range tasks {
			if tk.DesiredState == swarm.TaskStateRunning && tk.Status.State == swarm.TaskStateRunning && tk.Spec.ContainerSpec.Image == image {
				n++
			}
		}
		return n
	}
	waitUntil(t, 20*time.Second, "6 tasks of app:1 running", func() bool { return running(first, "app:1") == 6 })

	svc, err := first.d.ServiceInspect(ctx, "web", false)
	if err != nil {
		t.Fatal(err)
	}
	next := svc.Spec
	next.TaskTemplate.ContainerSpec.Image = "app:2"
	if _, err := first.d.ServiceUpdate(ctx, "web", svc.Version.Index, next, api.ServiceUpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "the update to be under way", func() bool { return running(first, "app:2") >= 2 })

	// Kill the leader (it is node 1: it bootstrapped and nothing moved leadership).
	var leader *testNode
	for _, n := range nodes[:3] {
		if m, err := n.d.manager(); err == nil && m.Raft().IsLeader() {
			leader = n
		}
	}
	if leader == nil {
		t.Fatal("no leader among the managers")
	}
	leader.stop()
	var survivor *testNode
	for _, n := range nodes[:3] {
		if n != leader {
			survivor = n
		}
	}
	waitUntil(t, 60*time.Second, "the update to complete after the leader died", func() bool {
		s, err := survivor.d.ServiceInspect(ctx, "web", false)
		return err == nil && s.UpdateStatus != nil && s.UpdateStatus.State == swarm.UpdateStateCompleted
	})
	waitUntil(t, 30*time.Second, "6 tasks of app:2 running", func() bool { return running(survivor, "app:2") == 6 })

	tasks, err := survivor.d.TaskList(ctx, api.TaskListFilters{Service: []string{created.ID}})
	if err != nil {
		t.Fatal(err)
	}
	perSlot := map[int]int{}
	for _, tk := range tasks {
		if tk.DesiredState == swarm.TaskStateRunning {
			perSlot[tk.Slot]++
		}
	}
	for slot := 1; slot <= 6; slot++ {
		if perSlot[slot] != 1 {
			t.Errorf("slot %d has %d tasks meant to run, want exactly 1 (all: %v)", slot, perSlot[slot], perSlot)
		}
	}
	if len(perSlot) != 6 {
		t.Errorf("slots meant to run: %v, want exactly 1..6", perSlot)
	}
}
