package agent

import (
	"context"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shoal/shoal/clusterapi"
	"github.com/shoal/shoal/internal/clock"
	"github.com/shoal/shoal/network/netns"
)

// Before a task is stopped for a planned reason, the cluster has already taken it out of
// every node's balancers, VIP rules and DNS answers (the managers dropped it the moment
// its desired state left RUNNING; nodes hear of it through their long-polls within
// milliseconds). drain asks every other node to confirm it has applied that, bounded, and
// then waits for the requests in flight on the task to finish, bounded by the stop grace
// period, so the task gets its stop signal only once it is idle, whatever the program does
// on that signal.
const (
	// drainConfirmBound is the longest a drain waits for other nodes to confirm; a node
	// that cannot answer (its daemon is gone) cannot hold a stop longer than this.
	drainConfirmBound = 5 * time.Second
	// drainRetry is how soon a node that did not answer is asked again.
	drainRetry = 200 * time.Millisecond
	// drainQuiet is how long the task must have no open connection to count as idle.
	drainQuiet = 300 * time.Millisecond
)

// askRoutes asks one node whether it still routes new work to a task, letting it hold
// the answer up to wait for that to stop.
type askRoutes func(ctx context.Context, node clusterapi.NodeEndpoint, taskID string, wait time.Duration) (routed bool, err error)

// drainTask runs before a planned stop of a running task: when the task is on overlay
// networks, every other node confirms it stopped routing to it; then, when anything
// routed to it at all (networks or host-mode ports), the requests in flight finish.
func (w *Worker) drainTask(ctx context.Context, taskID, netnsPath string, grace time.Duration, hostPorts bool) {
	deadline := w.cfg.Clock.Now().Add(grace)
	wired := w.confirmUnrouted(ctx, taskID)
	if ctx.Err() != nil || netnsPath == "" || (!wired && !hostPorts) {
		return
	}
	if !waitIdle(ctx, w.cfg.Clock, netnsPath, deadline) {
		w.cfg.Logger.Info("task still had connections when its grace period ended", "task", taskID)
	}
}

// confirmUnrouted asks every other node to confirm it no longer routes to a task on the
// overlay networks (bounded by drainConfirmBound, whatever the grace period) and reports
// whether the task was on any.
func (w *Worker) confirmUnrouted(ctx context.Context, taskID string) (wired bool) {
	if w.plumb == nil {
		return false
	}
	w.plumb.mu.Lock()
	_, wired = w.plumb.local[taskID]
	w.plumb.mu.Unlock()
	if !wired {
		return false
	}
	if late := confirmUnrouted(ctx, w.cfg.Clock, w.plumb.otherNodes(w.cfg.NodeID), taskID, drainConfirmBound, w.askRoutes); len(late) > 0 {
		w.cfg.Logger.Warn("stopping a task although some nodes did not confirm they stopped routing to it", "task", taskID, "nodes", late)
	}
	return true
}

// waitIdle waits until the namespace has had no established TCP connection for
// drainQuiet, or deadline passes (false), or ctx ends.
func waitIdle(ctx context.Context, clk clock.Clock, netnsPath string, deadline time.Time) bool {
	var idleSince time.Time
	for clk.Now().Before(deadline) {
		n, err := establishedConns(netnsPath)
		if err != nil {
			return true // the namespace is gone: nothing is in flight
		}
		switch {
		case n > 0:
			idleSince = time.Time{}
		case idleSince.IsZero():
			idleSince = clk.Now()
		case clk.Now().Sub(idleSince) >= drainQuiet:
			return true
		}
		select {
		case <-ctx.Done():
			return true
		case <-clk.After(50 * time.Millisecond):
		}
	}
	return false
}

// establishedConns counts the established TCP connections in a namespace that clients
// made to it: those whose local port is one the namespace listens on. The task's own
// outgoing connections (to a database, say) are not requests in flight on it.
func establishedConns(netnsPath string) (int, error) {
	var tables [][]string
	err := netns.Do(netnsPath, func() error {
		for _, file := range []string{"/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"} {
			data, err := os.ReadFile(file)
			if err != nil {
				continue
			}
			tables = append(tables, strings.Split(string(data), "\n"))
		}
		return nil
	})
	n := 0
	for _, lines := range tables {
		n += inboundConns(lines)
	}
	return n, err
}

// inboundConns counts, in the lines of a /proc/net/tcp table, the ESTABLISHED connections
// on a local port some socket of the table LISTENs on.
func inboundConns(lines []string) int {
	const (
		established = "01"
		listen      = "0A"
	)
	localPort := func(addr string) string {
		_, port, _ := strings.Cut(addr, ":")
		return port
	}
	listening := map[string]bool{}
	for _, line := range lines {
		if f := strings.Fields(line); len(f) > 3 && f[3] == listen {
			listening[localPort(f[1])] = true
		}
	}
	n := 0
	for _, line := range lines {
		if f := strings.Fields(line); len(f) > 3 && f[3] == established && listening[localPort(f[1])] {
			n++
		}
	}
	return n
}

// confirmUnrouted asks every node at once to confirm it no longer routes new work to the
// task, asking again a node that fails to answer or still routes, until bound passes. It
// returns the nodes that never confirmed.
func confirmUnrouted(ctx context.Context, clk clock.Clock, nodes []clusterapi.NodeEndpoint, taskID string, bound time.Duration, ask askRoutes) []string {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	deadline := clk.Now().Add(bound)
	go func() {
		select {
		case <-ctx.Done():
		case <-clk.After(bound):
			cancel()
		}
	}()
	var (
		mu          sync.Mutex
		unconfirmed []string
		wg          sync.WaitGroup
	)
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				left := deadline.Sub(clk.Now())
				if left <= 0 || ctx.Err() != nil {
					break
				}
				if routed, err := ask(ctx, n, taskID, left); err == nil && !routed {
					return
				}
				select {
				case <-ctx.Done():
				case <-clk.After(drainRetry):
				}
			}
			mu.Lock()
			unconfirmed = append(unconfirmed, n.ID)
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Strings(unconfirmed)
	return unconfirmed
}
