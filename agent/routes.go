package agent

import (
	"context"
	"time"

	"github.com/shoal/shoal/clusterapi"
)

// routedTasks is every task this node sends new work to after applying resp: the tasks
// behind its published ports and the serving tasks its resolvers and VIP rules point at.
func routedTasks(resp clusterapi.AssignmentsResponse) map[string]bool {
	routed := map[string]bool{}
	for _, mp := range resp.Mesh {
		for _, be := range mp.Backends {
			routed[be.TaskID] = true
		}
	}
	for _, t := range resp.DNS.Tasks {
		if t.Serving() {
			routed[t.ID] = true
		}
	}
	return routed
}

// setRoutesLocked records what the node routes to once an assignment is applied and wakes
// whoever waits for a task to leave it. An assignment not applied cleanly adds its routes
// to the old ones instead of replacing them.
func (p *plumbing) setRoutesLocked(resp clusterapi.AssignmentsResponse, clean bool) {
	routed := routedTasks(resp)
	if !clean {
		for id := range p.routed {
			routed[id] = true
		}
	}
	p.routed = routed
	p.nodes = resp.Nodes
	close(p.applied)
	p.applied = make(chan struct{})
}

// Routes reports whether this node still sends the task new work, waiting up to wait for
// that to stop (the answer to another node draining the task). Before the node has applied
// any assignment (its daemon just restarted; its tasks' VIP rules survived) it cannot tell,
// and says it routes.
func (p *plumbing) Routes(ctx context.Context, taskID string, wait time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		p.mu.Lock()
		known := p.routed != nil
		routed, applied := p.routed[taskID], p.applied
		p.mu.Unlock()
		if known && !routed {
			return false
		}
		select {
		case <-ctx.Done():
			return true
		case <-applied:
		}
	}
}

// otherNodes are the nodes to ask before stopping a task, this one excluded.
func (p *plumbing) otherNodes(self string) []clusterapi.NodeEndpoint {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]clusterapi.NodeEndpoint, 0, len(p.nodes))
	for _, n := range p.nodes {
		if n.ID != self {
			out = append(out, n)
		}
	}
	return out
}
