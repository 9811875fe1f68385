package agent

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/agent/exec"
	"github.com/shoal/shoal/ca"
	"github.com/shoal/shoal/clusterapi"
	"github.com/shoal/shoal/internal/clock"
)

// assignmentWait is how long a manager may hold an assignments request open.
const assignmentWait = 20 * time.Second

// WorkerConfig says which node's tasks to run and with what.
type WorkerConfig struct {
	NodeID   string
	Creds    *ca.Credentials
	Managers func() []swarm.Peer
	Executor exec.Executor
	// Overlay, when set, wires tasks to their overlay networks; nil leaves every task
	// with a namespace of its own and loopback only.
	Overlay *OverlayConfig
	Clock   clock.Clock
	Logger  *slog.Logger
}

// Worker runs the tasks the managers assign to this node and reports their states.
type Worker struct {
	cfg    WorkerConfig
	client *clusterapi.Client // to managers
	nodes  *clusterapi.Client // to other nodes' node API (any node, manager or worker)
	plumb  *plumbing          // nil without an overlay

	target atomic.Int64 // index into Managers() of the manager we ask; used by two goroutines

	mu      sync.Mutex // guards runners
	runners map[string]*taskRunner

	namesMu      sync.Mutex                    // guards portSpecs and serviceNames
	portSpecs    map[string][]swarm.PortConfig // task ID → the ports it publishes on this node
	serviceNames map[string]string

	statusMu sync.Mutex // guards pending
	pending  map[string]swarm.TaskStatus
	wake     chan struct{}
}

// NewWorker makes a worker; Run drives it.
func NewWorker(cfg WorkerConfig) *Worker {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var plumb *plumbing
	if cfg.Overlay != nil {
		plumb = newPlumbing(*cfg.Overlay)
	}
	return &Worker{
		plumb:   plumb,
		cfg:     cfg,
		client:  clusterapi.NewClient(cfg.Creds.ClientTLSConfig(clusterapi.ProtoAPI)),
		nodes:   clusterapi.NewClient(cfg.Creds.NodeClientTLSConfig(clusterapi.ProtoAPI)),
		runners: map[string]*taskRunner{},
		pending: map[string]swarm.TaskStatus{},
		wake:    make(chan struct{}, 1),
	}
}

func (w *Worker) managerAddr() string {
	ms := w.cfg.Managers()
	if len(ms) == 0 {
		return ""
	}
	return ms[int(w.target.Load()%int64(len(ms)))].Addr
}

func (w *Worker) nextManager() { w.target.Add(1) }

// Run fetches assignments and reconciles the node's containers with them until ctx ends.
// Containers keep running when it returns (a daemon restart re-adopts them).
func (w *Worker) Run(ctx context.Context) error {
	defer w.client.Close()
	defer w.nodes.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.reportStatus(ctx) }()
	defer func() {
		w.mu.Lock()
		for _, r := range w.runners {
			r.cancel()
		}
		w.mu.Unlock()
		wg.Wait()
		if w.plumb != nil {
			w.plumb.close()
		}
	}()

	known := ""
	adopted := false
	for ctx.Err() == nil {
		addr := w.managerAddr()
		var resp clusterapi.AssignmentsResponse
		cctx, cancel := context.WithTimeout(ctx, assignmentWait+10*time.Second)
		err := w.client.Call(cctx, addr, clusterapi.PathAssignments,
			clusterapi.AssignmentsRequest{NodeID: w.cfg.NodeID, Known: known, Wait: assignmentWait}, &resp)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			w.cfg.Logger.Debug("fetching assignments failed", "manager", addr, "err", err)
			w.nextManager()
			select {
			case <-ctx.Done():
			case <-w.cfg.Clock.After(time.Second):
			}
			continue
		}
		known = resp.ETag
		w.namesMu.Lock()
		w.portSpecs, w.serviceNames = resp.HostPorts, resp.ServiceNames
		w.namesMu.Unlock()
		if w.plumb != nil {
			if err := w.plumb.update(resp); err != nil {
				w.cfg.Logger.Warn("wiring overlay networks", "err", err)
			}
		}
		if !adopted {
			w.removeStrays(ctx, resp.Tasks)
			adopted = true
		}
		w.reconcile(ctx, resp.Tasks, &wg)
	}
	return nil
}

// removeStrays removes containers no assigned task accounts for (left by a crash or by a
// task deleted while the daemon was down).
func (w *Worker) removeStrays(ctx context.Context, tasks []swarm.Task) {
	containers, err := w.cfg.Executor.List(ctx)
	if err != nil {
		w.cfg.Logger.Warn("listing containers", "err", err)
		return
	}
	assigned := map[string]bool{}
	for _, t := range tasks {
		assigned[t.ID] = true
	}
	for _, c := range containers {
		if c.TaskID != "" && assigned[c.TaskID] {
			continue
		}
		ctrl, err := w.cfg.Executor.Controller(&swarm.Task{ID: c.ID})
		if err != nil {
			continue
		}
		if err := ctrl.Remove(ctx); err != nil {
			w.cfg.Logger.Warn("removing stray container", "container", c.ID, "err", err)
		}
		_ = ctrl.Close()
	}
}

// reconcile starts a runner for every assigned task that needs one and hands each
// runner its task's latest version; runners of tasks no longer assigned remove theirs.
func (w *Worker) reconcile(ctx context.Context, tasks []swarm.Task, wg *sync.WaitGroup) {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := map[string]bool{}
	for i := range tasks {
		t := tasks[i]
		seen[t.ID] = true
		if r, ok := w.runners[t.ID]; ok {
			r.update(&t)
			continue
		}
		if exec.IsTerminal(t.Status.State) && t.DesiredState == swarm.TaskStateRunning {
			continue // finished; the orchestrator replaces it
		}
		r := newTaskRunner(w, &t)
		w.runners[t.ID] = r
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.run(ctx)
			w.mu.Lock()
			if w.runners[r.id] == r {
				delete(w.runners, r.id)
			}
			w.mu.Unlock()
		}()
	}
	for id, r := range w.runners {
		if !seen[id] {
			r.update(&swarm.Task{ID: id, DesiredState: swarm.TaskStateRemove})
		}
	}
}

// report queues a task's observed status for the managers.
func (w *Worker) report(taskID string, st swarm.TaskStatus) {
	w.statusMu.Lock()
	w.pending[taskID] = st
	w.statusMu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// reportStatus sends queued statuses in batches, retrying until a manager takes them.
func (w *Worker) reportStatus(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		}
		for {
			w.statusMu.Lock()
			batch := w.pending
			w.pending = map[string]swarm.TaskStatus{}
			w.statusMu.Unlock()
			if len(batch) == 0 {
				break
			}
			req := clusterapi.TaskStatusRequest{NodeID: w.cfg.NodeID}
			for id, st := range batch {
				req.Updates = append(req.Updates, clusterapi.TaskStatusUpdate{TaskID: id, Status: st})
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := w.client.Call(cctx, w.managerAddr(), clusterapi.PathTaskStatus, req, nil)
			cancel()
			if err == nil {
				continue
			}
			if ctx.Err() != nil {
				return
			}
			w.cfg.Logger.Debug("reporting task status failed; will retry", "err", err)
			w.nextManager()
			w.statusMu.Lock()
			for id, st := range batch {
				if _, newer := w.pending[id]; !newer {
					w.pending[id] = st
				}
			}
			w.statusMu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-w.cfg.Clock.After(500 * time.Millisecond):
			}
		}
	}
}

// askRoutes asks another node, through its node API, whether it still routes new work to
// a task (see Worker.drainTask).
func (w *Worker) askRoutes(ctx context.Context, node clusterapi.NodeEndpoint, taskID string, wait time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, wait+5*time.Second)
	defer cancel()
	var resp clusterapi.NodeRoutesResponse
	err := w.nodes.Call(ctx, node.Addr, clusterapi.PathNodeRoutes, clusterapi.NodeRoutesRequest{TaskID: taskID, Wait: wait}, &resp)
	return resp.Routed, err
}

// Routes reports whether this node still sends new work to a task, waiting up to wait
// for that to stop: a node draining the task asks every node this.
func (w *Worker) Routes(ctx context.Context, taskID string, wait time.Duration) bool {
	if w.plumb == nil {
		return false
	}
	return w.plumb.Routes(ctx, taskID, wait)
}

// hostPortsOf are the ports a task publishes on this node (mode=host).
func (w *Worker) hostPortsOf(taskID string) []swarm.PortConfig {
	w.namesMu.Lock()
	defer w.namesMu.Unlock()
	return w.portSpecs[taskID]
}

// ServiceName is the name of a service this node runs tasks of ("" when it runs none).
func (w *Worker) ServiceName(serviceID string) string {
	w.namesMu.Lock()
	defer w.namesMu.Unlock()
	return w.serviceNames[serviceID]
}
