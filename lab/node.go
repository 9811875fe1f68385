package lab

import (
	"context"
	"fmt"
	"time"
)

// StopOptions say how hard Stop hits a node.
type StopOptions struct {
	// DaemonOnly kills only the daemon and leaves the rest of the node's processes (its
	// tasks) running, as a daemon crash would.
	DaemonOnly bool
}

// Stop takes a node off the cluster as a power cut would: it SIGKILLs the node's daemon
// (and, unless opts.DaemonOnly, every other process in the node's namespace and their
// descendants) and sets the node's switch-side link down.
func (l *Lab) Stop(node string, opts StopOptions) error {
	if err := checkHost(); err != nil {
		return err
	}
	st := l.state()
	n, err := st.node(node)
	if err != nil {
		return err
	}
	killDaemon(n.PID, n.PIDStart)
	if !opts.DaemonOnly {
		if err := killNetnsProcesses([]string{n.Netns}); err != nil {
			return fmt.Errorf("stop %s: %w", node, err)
		}
	}
	if err := setNodeLink(st, n, false); err != nil {
		return fmt.Errorf("stop %s: cut link: %w", node, err)
	}
	return l.setPID(node, 0, 0)
}

// Start brings a stopped node back: its link goes up and its daemon starts again with the
// same data root, from which it rejoins the cluster by itself. A running daemon is left
// alone. Start waits for the daemon's API unless the lab was built without that wait.
func (l *Lab) Start(ctx context.Context, node string) error {
	if err := checkHost(); err != nil {
		return err
	}
	st := l.state()
	n, err := st.node(node)
	if err != nil {
		return err
	}
	if err := setNodeLink(st, n, true); err != nil {
		return fmt.Errorf("start %s: %w", node, err)
	}
	if alive(n.PID, n.PIDStart) && inNetns(n.PID, n.Netns) {
		return nil
	}
	pid, start, err := startDaemon(n)
	if err != nil {
		return err
	}
	if err := l.setPID(node, pid, start); err != nil {
		return err
	}
	n.PID, n.PIDStart = pid, start
	if !st.WaitPing {
		return nil
	}
	timeout := time.Duration(st.StartTimeout)
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}
	return waitPing(ctx, n, timeout)
}
