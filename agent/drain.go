package agent

import (
	"bufio"
	"context"
	"os"
	"strings"
	"time"

	"github.com/shoal/shoal/internal/clock"
	"github.com/shoal/shoal/network/netns"
)

// Before a task is stopped for a planned reason, the cluster has already taken it out of
// every node's balancers and VIP rules (the managers dropped it the moment its desired
// state left RUNNING; nodes hear of it through their long-polls within milliseconds).
// drain waits for that to take effect and for the requests in flight on the task to
// finish, bounded by the stop grace period, so the task gets its stop signal only once it
// is idle, whatever the program does on that signal.
const (
	// drainPropagation is how long other nodes get to stop sending new work.
	drainPropagation = 2 * time.Second
	// drainQuiet is how long the task must have no open connection to count as idle.
	drainQuiet = 300 * time.Millisecond
)

func (p *plumbing) drain(ctx context.Context, clk clock.Clock, taskID string, grace time.Duration) {
	p.mu.Lock()
	lt, ok := p.local[taskID]
	p.mu.Unlock()
	if !ok {
		return
	}
	deadline := clk.Now().Add(grace)
	wait := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-clk.After(d):
			return true
		}
	}
	if !wait(min(drainPropagation, grace)) {
		return
	}
	var idleSince time.Time
	for clk.Now().Before(deadline) {
		n, err := establishedConns(lt.netnsPath)
		if err != nil {
			return
		}
		switch {
		case n > 0:
			idleSince = time.Time{}
		case idleSince.IsZero():
			idleSince = clk.Now()
		case clk.Now().Sub(idleSince) >= drainQuiet:
			return
		}
		if !wait(50 * time.Millisecond) {
			return
		}
	}
	p.cfg.Logger.Info("task still had connections when its grace period ended", "task", taskID)
}

// establishedConns counts the established TCP connections in a namespace.
func establishedConns(netnsPath string) (int, error) {
	n := 0
	err := netns.Do(netnsPath, func() error {
		for _, file := range []string{"/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"} {
			f, err := os.Open(file)
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				fields := strings.Fields(sc.Text())
				if len(fields) > 3 && fields[3] == "01" { // TCP_ESTABLISHED
					n++
				}
			}
			f.Close()
		}
		return nil
	})
	return n, err
}
