package dispatcher

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/clusterapi"
	"github.com/shoal/shoal/internal/apierr"
	"github.com/shoal/shoal/internal/clock"
	"github.com/shoal/shoal/manager/store"
)

// DefaultHeartbeatPeriod is the reference's dispatcher heartbeat.
const DefaultHeartbeatPeriod = 5 * time.Second

// Dispatcher runs on the leader only: the manager starts it when leadership is gained
// and cancels its context when it is lost.
type Dispatcher struct {
	store  *store.Store
	clock  clock.Clock
	logger *slog.Logger

	mu      sync.Mutex // guards tracker and running
	tracker *Tracker
	running bool
}

// New makes a dispatcher over st.
func New(st *store.Store, clk clock.Clock, logger *slog.Logger) *Dispatcher {
	return &Dispatcher{store: st, clock: clk, logger: logger, tracker: NewTracker()}
}

// Period is the cluster's heartbeat period.
func (d *Dispatcher) Period() time.Duration {
	c, err := d.store.Cluster()
	if err != nil || c.Spec.Dispatcher.HeartbeatPeriod <= 0 {
		return DefaultHeartbeatPeriod
	}
	return c.Spec.Dispatcher.HeartbeatPeriod
}

// Run marks silent nodes Down until ctx ends (leadership lost).
func (d *Dispatcher) Run(ctx context.Context) error {
	period := d.Period()
	d.mu.Lock()
	d.tracker.Reset(nodeIDs(d.store.Nodes()), d.clock.Now(), period)
	d.running = true
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.running = false
		d.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.clock.After(checkInterval(period)):
		}
		period = d.Period()
		d.markSilentNodesDown(ctx, period)
	}
}

func checkInterval(period time.Duration) time.Duration {
	if iv := period / 4; iv > 100*time.Millisecond {
		return iv
	}
	return 100 * time.Millisecond
}

func (d *Dispatcher) markSilentNodesDown(ctx context.Context, period time.Duration) {
	now := d.clock.Now()
	nodes := d.store.Nodes()
	d.mu.Lock()
	known := map[string]bool{}
	for _, n := range nodes {
		known[n.ID] = true
		d.tracker.Track(n.ID, now, period)
	}
	var silent []string
	for _, id := range d.tracker.Expired(now) {
		if !known[id] {
			d.tracker.Forget(id)
			continue
		}
		silent = append(silent, id)
	}
	d.mu.Unlock()
	for _, id := range silent {
		err := d.store.UpdateNode(ctx, id, func(n *swarm.Node) error {
			if n.Status.State == swarm.NodeStateDown && reachabilityIs(n, swarm.ReachabilityUnreachable) {
				return errUnchanged
			}
			n.Status.State = swarm.NodeStateDown
			n.Status.Message = "heartbeat failure"
			if n.ManagerStatus != nil {
				n.ManagerStatus.Reachability = swarm.ReachabilityUnreachable
			}
			return nil
		})
		if err == nil {
			d.logger.Info("node is down: no heartbeat for three periods", "node", id, "period", period)
		} else if err != errUnchanged && ctx.Err() == nil {
			d.logger.Warn("cannot mark node down", "node", id, "err", err)
		}
	}
}

var errUnchanged = apierr.Conflictf("unchanged")

func reachabilityIs(n *swarm.Node, r swarm.Reachability) bool {
	return n.ManagerStatus == nil || n.ManagerStatus.Reachability == r
}

// Heartbeat records that a node is alive, marks it Ready if it was not, and answers with
// the period and the role the cluster wants of it. Callers must have checked that the
// request comes from that node (or from a manager forwarding for it).
func (d *Dispatcher) Heartbeat(ctx context.Context, req clusterapi.HeartbeatRequest) (clusterapi.HeartbeatResponse, error) {
	period := d.Period()
	d.mu.Lock()
	if !d.running {
		d.mu.Unlock()
		return clusterapi.HeartbeatResponse{}, apierr.Unavailablef("the dispatcher is not running on this manager")
	}
	d.tracker.Beat(req.NodeID, d.clock.Now(), period)
	d.mu.Unlock()

	n, err := d.store.Node(req.NodeID)
	if err != nil {
		return clusterapi.HeartbeatResponse{}, err
	}
	if needsReadyUpdate(n, req) {
		err := d.store.UpdateNode(ctx, req.NodeID, func(n *swarm.Node) error {
			if !needsReadyUpdate(n, req) {
				return errUnchanged
			}
			wasDown := n.Status.State != swarm.NodeStateReady
			n.Status.State = swarm.NodeStateReady
			n.Status.Message = ""
			if req.Addr != "" {
				n.Status.Addr = req.Addr
			}
			if n.ManagerStatus != nil {
				n.ManagerStatus.Reachability = swarm.ReachabilityReachable
			}
			if req.Description.Hostname != "" {
				n.Description = req.Description
			}
			if wasDown {
				d.logger.Info("node is ready", "node", n.ID, "hostname", n.Description.Hostname)
			}
			return nil
		})
		if err != nil && err != errUnchanged {
			return clusterapi.HeartbeatResponse{}, err
		}
		if n, err = d.store.Node(req.NodeID); err != nil {
			return clusterapi.HeartbeatResponse{}, err
		}
	}
	return clusterapi.HeartbeatResponse{Period: period, Managers: Managers(d.store.Nodes()), Role: n.Spec.Role}, nil
}

func needsReadyUpdate(n *swarm.Node, req clusterapi.HeartbeatRequest) bool {
	if n.Status.State != swarm.NodeStateReady || (req.Addr != "" && n.Status.Addr != req.Addr) {
		return true
	}
	if n.ManagerStatus != nil && n.ManagerStatus.Reachability != swarm.ReachabilityReachable {
		return true
	}
	return req.Description.Hostname != "" && (req.Description.Hostname != n.Description.Hostname ||
		req.Description.Engine.EngineVersion != n.Description.Engine.EngineVersion)
}

// Managers lists the manager peers among nodes.
func Managers(nodes []*swarm.Node) []swarm.Peer {
	var out []swarm.Peer
	for _, n := range nodes {
		if n.ManagerStatus != nil && n.ManagerStatus.Addr != "" {
			out = append(out, swarm.Peer{NodeID: n.ID, Addr: n.ManagerStatus.Addr})
		}
	}
	return out
}

func nodeIDs(nodes []*swarm.Node) []string {
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = n.ID
	}
	return ids
}
