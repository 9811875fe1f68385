package agent

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal/shoal/clusterapi"
	"github.com/shoal/shoal/internal/clock"
	"github.com/shoal/shoal/network/dns"
)

func TestRoutedTasksAreMeshBackendsAndServingTasks(t *testing.T) {
	resp := clusterapi.AssignmentsResponse{
		Mesh: []clusterapi.MeshPort{{Backends: []clusterapi.MeshBackend{{TaskID: "mesh1"}, {TaskID: "both"}}}},
		DNS: dns.Records{Tasks: []dns.Task{
			{ID: "both", Running: true},
			{ID: "serving", Running: true},
			{ID: "draining", Running: true, Draining: true},
			{ID: "starting"},
			{ID: "unhealthy", Running: true, Health: dns.HealthUnhealthy},
		}},
	}
	got := routedTasks(resp)
	want := map[string]bool{"mesh1": true, "both": true, "serving": true}
	if len(got) != len(want) {
		t.Fatalf("routed %v, want %v", got, want)
	}
	for id := range want {
		if !got[id] {
			t.Errorf("routed %v lacks %s", got, id)
		}
	}
}

func TestRoutesAnswersOnceAnAssignmentDropsTheTask(t *testing.T) {
	p := newPlumbing(OverlayConfig{Logger: slog.New(slog.DiscardHandler)})
	routing := clusterapi.AssignmentsResponse{Mesh: []clusterapi.MeshPort{{Backends: []clusterapi.MeshBackend{{TaskID: "web1"}}}}}
	p.mu.Lock()
	p.setRoutesLocked(routing, true)
	p.mu.Unlock()

	if p.Routes(context.Background(), "other", time.Minute) {
		t.Error("a task the node never routed to is reported routed")
	}
	if !p.Routes(context.Background(), "web1", 0) {
		t.Fatal("a mesh backend is not reported routed")
	}
	answer := make(chan bool)
	go func() { answer <- p.Routes(context.Background(), "web1", time.Minute) }()
	p.mu.Lock()
	p.setRoutesLocked(routing, true) // an unrelated change: still routed, keep waiting
	p.mu.Unlock()
	select {
	case <-answer:
		t.Fatal("answered while the task was still routed")
	case <-time.After(50 * time.Millisecond):
	}
	p.mu.Lock()
	p.setRoutesLocked(clusterapi.AssignmentsResponse{}, true)
	p.mu.Unlock()
	if <-answer {
		t.Error("still routed after the assignment dropped the task")
	}
}

func TestRoutesBeforeAnyAssignmentIsUnknown(t *testing.T) {
	p := newPlumbing(OverlayConfig{Logger: slog.New(slog.DiscardHandler)})
	if !p.Routes(context.Background(), "t1", 0) {
		t.Fatal("a node that applied nothing yet claims it does not route to a task")
	}
	answer := make(chan bool)
	go func() { answer <- p.Routes(context.Background(), "t1", time.Minute) }()
	p.mu.Lock()
	p.setRoutesLocked(clusterapi.AssignmentsResponse{}, true)
	p.mu.Unlock()
	if <-answer {
		t.Error("still routed after an assignment without the task was applied")
	}
}

func TestAnUncleanUpdateKeepsTheOldRoutes(t *testing.T) {
	p := newPlumbing(OverlayConfig{Logger: slog.New(slog.DiscardHandler)})
	old := clusterapi.AssignmentsResponse{Mesh: []clusterapi.MeshPort{{Backends: []clusterapi.MeshBackend{{TaskID: "old"}}}}}
	next := clusterapi.AssignmentsResponse{Mesh: []clusterapi.MeshPort{{Backends: []clusterapi.MeshBackend{{TaskID: "new"}}}}}
	p.mu.Lock()
	p.setRoutesLocked(old, true)
	p.setRoutesLocked(next, false)
	p.mu.Unlock()
	if !p.Routes(context.Background(), "old", 0) || !p.Routes(context.Background(), "new", 0) {
		t.Fatal("a failed update dropped routes the node may still have")
	}
	p.mu.Lock()
	p.setRoutesLocked(next, true)
	p.mu.Unlock()
	if p.Routes(context.Background(), "old", 0) {
		t.Error("a clean update kept a route it removed")
	}
}

func TestOtherNodesLeavesThisOneOut(t *testing.T) {
	p := newPlumbing(OverlayConfig{})
	p.mu.Lock()
	p.setRoutesLocked(clusterapi.AssignmentsResponse{Nodes: []clusterapi.NodeEndpoint{{ID: "a"}, {ID: "self"}, {ID: "b"}}}, true)
	p.mu.Unlock()
	var ids []string
	for _, n := range p.otherNodes("self") {
		ids = append(ids, n.ID)
	}
	if !slices.Equal(ids, []string{"a", "b"}) {
		t.Errorf("other nodes %v, want [a b]", ids)
	}
}

func TestConfirmUnroutedAsksUntilEveryNodeConfirmsOrTheBoundPasses(t *testing.T) {
	nodes := []clusterapi.NodeEndpoint{{ID: "quick"}, {ID: "slow"}, {ID: "dead"}, {ID: "stuck"}}
	var mu sync.Mutex
	asked := map[string]int{}
	ask := func(_ context.Context, n clusterapi.NodeEndpoint, taskID string, wait time.Duration) (bool, error) {
		if taskID != "t1" || wait <= 0 {
			return false, errors.New("bad question")
		}
		mu.Lock()
		asked[n.ID]++
		k := asked[n.ID]
		mu.Unlock()
		switch n.ID {
		case "quick":
			return false, nil
		case "slow": // fails twice, then confirms
			if k < 3 {
				return false, errors.New("connection refused")
			}
			return false, nil
		case "dead":
			return false, errors.New("connection refused")
		default: // still routes every time it is asked
			return true, nil
		}
	}
	clk := clock.NewFake(time.Unix(0, 0))
	done := make(chan []string)
	go func() { done <- confirmUnrouted(context.Background(), clk, nodes, "t1", time.Second, ask) }()

	var got []string
	advanced := time.Duration(0)
	for got == nil {
		select {
		case got = <-done:
		case <-time.After(time.Millisecond):
			clk.Advance(10 * time.Millisecond)
			advanced += 10 * time.Millisecond
		}
		if advanced > time.Minute {
			t.Fatal("confirmUnrouted did not end after its bound")
		}
	}
	if !slices.Equal(got, []string{"dead", "stuck"}) {
		t.Errorf("unconfirmed %v, want [dead stuck]", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if asked["quick"] != 1 || asked["slow"] != 3 {
		t.Errorf("asked %v: quick once, slow three times", asked)
	}
}

func TestConfirmUnroutedWithNoOtherNodeReturnsAtOnce(t *testing.T) {
	var calls atomic.Int32
	ask := func(context.Context, clusterapi.NodeEndpoint, string, time.Duration) (bool, error) {
		calls.Add(1)
		return true, nil
	}
	if got := confirmUnrouted(context.Background(), clock.NewFake(time.Unix(0, 0)), nil, "t1", time.Hour, ask); len(got) != 0 || calls.Load() != 0 {
		t.Errorf("got %v after %d calls", got, calls.Load())
	}
}

func TestInboundConnsCountsOnlyClientsOfListeningPorts(t *testing.T) {
	table := []string{
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
		"   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1", // listens on 8080
		"   1: 0300000A:1F90 0200000A:C350 01 00000000:00000000 00:00000000 00000000     0        0 2", // a client on 8080
		"   2: 0300000A:1F90 0400000A:C351 01 00000000:00000000 00:00000000 00000000     0        0 3", // another
		"   3: 0300000A:D431 0900000A:0CEA 01 00000000:00000000 00:00000000 00000000     0        0 4", // the task's own call out
		"   4: 0300000A:1F90 0500000A:C352 06 00000000:00000000 00:00000000 00000000     0        0 5", // TIME_WAIT
		"",
	}
	if n := inboundConns(table); n != 2 {
		t.Errorf("inboundConns = %d, want the 2 clients of port 8080", n)
	}
	if n := inboundConns(table[3:4]); n != 0 {
		t.Errorf("an outgoing connection without a listener counted: %d", n)
	}
}
