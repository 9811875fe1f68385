package agent

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/agent/exec"
)

// taskRunner drives one task's container through its life and reports each state. It
// obeys the task's desired state: RUNNING starts it, SHUTDOWN stops it, REMOVE (or the
// task vanishing from the node's assignments) stops and removes it.
type taskRunner struct {
	w      *Worker
	id     string
	cancel context.CancelFunc
	ctx    context.Context

	mu      sync.Mutex // guards task, last and published
	task    *swarm.Task
	last    swarm.TaskState
	changed chan struct{}
	// published are the task's host-mode ports once served (only the runner's goroutine
	// starts and stops them; report reads them).
	published *hostPorts
}

func newTaskRunner(w *Worker, t *swarm.Task) *taskRunner {
	return &taskRunner{w: w, id: t.ID, task: t, last: t.Status.State, changed: make(chan struct{}, 1)}
}

// update hands the runner the task's latest version.
func (r *taskRunner) update(t *swarm.Task) {
	r.mu.Lock()
	if t.Spec.ContainerSpec == nil && r.task != nil { // a bare removal marker
		cp := *r.task
		cp.DesiredState = t.DesiredState
		t = &cp
	}
	r.task = t
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *taskRunner) current() *swarm.Task {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.task
}

func (r *taskRunner) desired() swarm.TaskState { return r.current().DesiredState }

// report sends an observed state forward (never back).
func (r *taskRunner) report(state swarm.TaskState, msg string, err error, cs *swarm.ContainerStatus) {
	r.mu.Lock()
	if exec.Advance(r.last, state) != nil || (r.last == state && err == nil) {
		r.mu.Unlock()
		return
	}
	r.last = state
	published := r.published
	r.mu.Unlock()
	r.w.report(r.id, r.status(state, msg, err, cs, published))
}

// status is what the runner reports: the state with the ports the task serves now.
func (r *taskRunner) status(state swarm.TaskState, msg string, err error, cs *swarm.ContainerStatus, published *hostPorts) swarm.TaskStatus {
	st := swarm.TaskStatus{Timestamp: r.w.cfg.Clock.Now().UTC(), State: state, Message: msg, ContainerStatus: cs}
	if published != nil {
		st.PortStatus.Ports = published.Published
	}
	if err != nil {
		st.Err = err.Error()
	}
	return st
}

// reportPorts reports the running task again with the ports it now publishes.
func (r *taskRunner) reportPorts(cs *swarm.ContainerStatus) {
	r.mu.Lock()
	state, published := r.last, r.published
	r.mu.Unlock()
	r.w.report(r.id, r.status(state, "ports changed", nil, cs, published))
}

func (r *taskRunner) lastState() swarm.TaskState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

func (r *taskRunner) run(parent context.Context) {
	r.ctx, r.cancel = context.WithCancel(parent)
	defer r.cancel()
	defer r.closeHostPorts()
	ctx := r.ctx
	ctrl, wired, err := r.controller()
	if err != nil {
		r.report(swarm.TaskStateRejected, "rejected", err, nil)
		r.awaitRemoval(ctx, nil)
		return
	}
	defer ctrl.Close()
	// A task leaves its networks as soon as it has stopped: its addresses go back to the
	// pool and may be handed to a task elsewhere.
	unwire := func() {
		if wired && ctx.Err() == nil {
			wired = false
			if err := r.w.plumb.detach(r.id); err != nil {
				r.w.cfg.Logger.Warn("unwiring a stopped task", "task", r.id, "err", err)
			}
		}
	}
	defer unwire()

	// A stop-first replacement waits (READY) until the task it replaces has stopped.
	for r.desired() == swarm.TaskStateReady {
		select {
		case <-ctx.Done():
			return
		case <-r.changed:
		}
	}
	if r.desired() == swarm.TaskStateRunning && !exec.IsTerminal(r.lastState()) {
		if running, err := r.start(ctx, ctrl); err == nil {
			r.supervise(ctx, ctrl, running)
		}
	}
	if ctx.Err() != nil {
		return // the daemon is stopping; containers keep running
	}
	if exec.IsTerminal(r.lastState()) {
		unwire()
	}
	r.awaitRemoval(ctx, ctrl)
}

// start prepares and starts the container, or finds it already running (adopted). It
// reports the task RUNNING (and says so) unless the container has a health check that has
// not passed yet: supervise reports it once it does.
func (r *taskRunner) start(ctx context.Context, ctrl exec.Controller) (running bool, err error) {
	if info, err := ctrl.Inspect(ctx); err == nil && info.State == exec.ContainerRunning {
		// Adopted after a restart: it takes traffic again once its health check passes.
		return r.announceIfHealthy(ctx, ctrl)
	}
	r.report(swarm.TaskStateAccepted, "accepted", nil, nil)
	r.report(swarm.TaskStatePreparing, "preparing", nil, nil)
	if err := ctrl.Prepare(ctx); err != nil && !errors.Is(err, exec.ErrTaskPrepared) {
		if ctx.Err() != nil {
			return false, err
		}
		r.report(swarm.TaskStateRejected, "preparing", err, nil)
		return false, err
	}
	r.report(swarm.TaskStateStarting, "starting", nil, nil)
	if err := ctrl.Start(ctx); err != nil && !errors.Is(err, exec.ErrTaskStarted) {
		if ctx.Err() != nil {
			return false, err
		}
		r.report(swarm.TaskStateFailed, "starting", err, nil)
		return false, err
	}
	return r.announceIfHealthy(ctx, ctrl)
}

// healthPoll is how often a started task's health is looked at until it first passes.
const healthPoll = 100 * time.Millisecond

// announceIfHealthy reports the task RUNNING when it has no health check or its check
// has passed: only then do balancers and DNS send it work, and only then are its
// host-mode ports served. A port it cannot have fails the task (stopped).
func (r *taskRunner) announceIfHealthy(ctx context.Context, ctrl exec.Controller) (bool, error) {
	if st := ctrl.Health().Status; st != container.NoHealthcheck && st != container.Healthy {
		return false, nil
	}
	info, _ := ctrl.Inspect(ctx)
	if err := r.publishHostPorts(info); err != nil {
		r.failForPorts(ctx, ctrl, "starting", err)
		return false, err
	}
	r.report(swarm.TaskStateRunning, "started", nil, info.ContainerStatus())
	return true, nil
}

// publishHostPorts serves the task's mode=host ports on this node, once.
func (r *taskRunner) publishHostPorts(info exec.ContainerInfo) error {
	ports := r.w.hostPortsOf(r.id)
	if len(ports) == 0 || r.published != nil {
		return nil
	}
	addr := netip.MustParseAddr("127.0.0.1")
	for _, att := range r.current().NetworksAttachments {
		if len(att.Addresses) > 0 {
			addr = att.Addresses[0].Addr()
			break
		}
	}
	h, err := publishHostPorts(r.id, info.NetnsPath, addr, ports, r.w.cfg.Logger)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.published = h
	r.mu.Unlock()
	return nil
}

// republishHostPorts serves the ports the service now publishes in host mode when they
// changed (service update --publish-add/--publish-rm); a port it cannot have fails the task.
func (r *taskRunner) republishHostPorts(ctx context.Context, ctrl exec.Controller) error {
	r.mu.Lock()
	h := r.published
	r.mu.Unlock()
	want := r.w.hostPortsOf(r.id)
	if h.serves(want) {
		return nil
	}
	r.closeHostPorts()
	info, _ := ctrl.Inspect(ctx)
	if err := r.publishHostPorts(info); err != nil {
		r.failForPorts(ctx, ctrl, "publishing ports", err)
		return err
	}
	r.reportPorts(info.ContainerStatus())
	return nil
}

// failForPorts stops a task whose host-mode ports cannot be served and reports it failed.
func (r *taskRunner) failForPorts(ctx context.Context, ctrl exec.Controller, msg string, err error) {
	_ = ctrl.Shutdown(ctx, 0, r.grace())
	info, _ := ctrl.Inspect(ctx)
	r.report(swarm.TaskStateFailed, msg, err, info.ContainerStatus())
}

// closeHostPorts stops serving the task's mode=host ports.
func (r *taskRunner) closeHostPorts() {
	r.mu.Lock()
	h := r.published
	r.published = nil
	r.mu.Unlock()
	h.close()
}

type waitResult struct {
	status exec.ExitStatus
	err    error
}

// supervise waits for the container to end or for the cluster to want it stopped; a
// task not yet reported running is reported so once its health check passes.
func (r *taskRunner) supervise(ctx context.Context, ctrl exec.Controller, running bool) {
	waitCtx, stopWaiting := context.WithCancel(ctx)
	defer stopWaiting()
	exited := make(chan waitResult, 1)
	go func() {
		st, err := ctrl.Wait(waitCtx)
		exited <- waitResult{st, err}
	}()
	for {
		var healthTick <-chan time.Time
		if !running {
			healthTick = r.w.cfg.Clock.After(healthPoll)
		}
		select {
		case <-ctx.Done():
			return
		case <-healthTick:
			var err error
			if running, err = r.announceIfHealthy(ctx, ctrl); err != nil {
				return
			}
		case res := <-exited:
			r.reportExit(ctx, ctrl, res)
			return
		case <-r.changed:
			if r.desired() != swarm.TaskStateRunning {
				r.stop(ctx, ctrl)
				return
			}
			if running && r.republishHostPorts(ctx, ctrl) != nil {
				return
			}
		}
	}
}

func (r *taskRunner) reportExit(ctx context.Context, ctrl exec.Controller, res waitResult) {
	r.closeHostPorts()
	info, _ := ctrl.Inspect(ctx)
	cs := info.ContainerStatus()
	switch {
	case errors.Is(res.err, exec.ErrUnhealthy):
		// Failed first, so the cluster stops sending it work, then stopped once every node
		// confirmed (its in-flight requests are not waited for: it is unhealthy).
		r.report(swarm.TaskStateFailed, "unhealthy", errors.New("task: unhealthy container"), cs)
		r.w.confirmUnrouted(ctx, r.id)
		_ = ctrl.Shutdown(ctx, 0, r.grace())
	case res.err != nil:
		if ctx.Err() == nil {
			r.report(swarm.TaskStateFailed, "failed", res.err, cs)
		}
	case res.status.Code == 0:
		r.report(swarm.TaskStateComplete, "finished", nil, cs)
	default:
		cs.ExitCode = res.status.Code
		r.report(swarm.TaskStateFailed, "failed", res.status.Err(), cs)
	}
}

func (r *taskRunner) grace() time.Duration {
	if t := r.current(); t.Spec.ContainerSpec != nil {
		return exec.StopGracePeriod(t.Spec.ContainerSpec)
	}
	return 10 * time.Second
}

// stop stops the container with its stop signal and grace period.
func (r *taskRunner) stop(ctx context.Context, ctrl exec.Controller) {
	r.mu.Lock()
	published := r.published
	r.mu.Unlock()
	published.drain()
	if info, err := ctrl.Inspect(ctx); err == nil && info.State == exec.ContainerRunning {
		r.w.drainTask(ctx, r.id, info.NetnsPath, r.grace(), published != nil)
	}
	if err := ctrl.Shutdown(ctx, 0, r.grace()); err != nil && ctx.Err() == nil {
		r.w.cfg.Logger.Warn("stopping task", "task", r.id, "err", err)
	}
	r.closeHostPorts()
	info, _ := ctrl.Inspect(ctx)
	r.report(swarm.TaskStateShutdown, "shutdown", nil, info.ContainerStatus())
}

// awaitRemoval keeps an ended task's container until the task is to be removed.
func (r *taskRunner) awaitRemoval(ctx context.Context, ctrl exec.Controller) {
	for r.desired() != swarm.TaskStateRemove {
		if ctrl != nil && r.desired() == swarm.TaskStateShutdown && !exec.IsTerminal(r.lastState()) {
			r.stop(ctx, ctrl)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.changed:
		}
	}
	if ctrl == nil {
		return
	}
	if !exec.IsTerminal(r.lastState()) {
		r.stop(ctx, ctrl)
	}
	if err := ctrl.Remove(ctx); err != nil && ctx.Err() == nil {
		r.w.cfg.Logger.Warn("removing task container", "task", r.id, "err", err)
	}
}

// controller binds the task's container: in a namespace wired to its overlay networks when
// it has any and the node has an overlay, else in a namespace of its own.
func (r *taskRunner) controller() (exec.Controller, bool, error) {
	t := r.current()
	nx, ok := r.w.cfg.Executor.(exec.NetnsExecutor)
	if r.w.plumb == nil || !ok || len(t.NetworksAttachments) == 0 || exec.IsTerminal(t.Status.State) {
		ctrl, err := r.w.cfg.Executor.Controller(t)
		return ctrl, false, err
	}
	path, err := r.w.plumb.attach(t)
	if err != nil {
		return nil, false, fmt.Errorf("attaching the task to its networks: %w", err)
	}
	// The task resolves names through its resolver in its own namespace.
	withDNS := *t
	withDNS.Spec = t.Spec
	cs := *t.Spec.ContainerSpec
	if cs.DNSConfig == nil || len(cs.DNSConfig.Nameservers) == 0 {
		cs.DNSConfig = &swarm.DNSConfig{Nameservers: []netip.Addr{netip.MustParseAddr(ResolverAddr)}, Options: []string{"ndots:0"}}
	}
	withDNS.Spec.ContainerSpec = &cs
	ctrl, err := nx.ControllerInNetns(&withDNS, path)
	return ctrl, err == nil, err
}
