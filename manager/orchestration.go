package manager

import (
	"context"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/internal/apierr"
	"github.com/shoal/shoal/internal/ids"
	"github.com/shoal/shoal/manager/orchestrator"
	"github.com/shoal/shoal/manager/orchestrator/global"
	"github.com/shoal/shoal/manager/orchestrator/replicated"
	"github.com/shoal/shoal/manager/orchestrator/update"
	"github.com/shoal/shoal/manager/scheduler"
	"github.com/shoal/shoal/manager/store"
)

// runOrchestration is the leader's pipeline: reconcile every service to its tasks, run
// rolling updates, then place pending tasks. It runs on every store change and when a
// restart delay or update step comes due. Leader only.
func (m *Manager) runOrchestration(ctx context.Context) {
	na, problems, err := newNetAlloc(m.store)
	if err != nil {
		m.logger.Error("cannot rebuild the address allocator; networks will not be allocated", "err", err)
	}
	for _, p := range problems {
		m.logger.Warn("address allocation conflict found in the swarm state", "problem", p.Error())
	}
	for {
		changed := m.store.Changed()
		next := m.orchestrateOnce(ctx)
		if na != nil {
			m.allocateOnce(ctx, na)
		}
		m.scheduleOnce(ctx)
		wait := time.Second
		if !next.IsZero() {
			if d := next.Sub(m.cfg.Clock.Now()); d < wait {
				wait = max(d, 10*time.Millisecond)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-m.cfg.Clock.After(wait):
		}
	}
}

// orchestrateOnce reconciles every service (and the tasks of removed ones) and returns
// the earliest time something needs another look.
func (m *Manager) orchestrateOnce(ctx context.Context) time.Time {
	now := m.cfg.Clock.Now()
	nodes := m.store.Nodes()
	historyLimit := orchestrator.DefaultHistoryLimit
	if c, err := m.store.Cluster(); err == nil && c.Spec.Orchestration.TaskHistoryRetentionLimit != nil {
		historyLimit = int(*c.Spec.Orchestration.TaskHistoryRetentionLimit)
	}
	byService := map[string][]*swarm.Task{}
	for _, t := range m.store.Tasks() {
		byService[t.ServiceID] = append(byService[t.ServiceID], t)
	}
	var next time.Time
	soonest := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	services := m.store.Services()
	for _, svc := range services {
		tasks := byService[svc.ID]
		delete(byService, svc.ID)
		if svc.UpdateStatus != nil && updating(svc.UpdateStatus.State) {
			due, err := m.updateStep(ctx, svc, tasks, nodes, now)
			if err != nil {
				m.logWriteError("rolling update", svc.Spec.Name, err)
				continue
			}
			soonest(due)
			if s, err := m.store.Service(svc.ID); err == nil {
				svc = s
				tasks = m.store.TasksOfService(svc.ID)
			}
		}
		in := orchestrator.Input{Service: svc, Tasks: tasks, Nodes: nodes, Now: now, HistoryLimit: historyLimit}
		reconcile := replicated.Reconcile
		if svc.Spec.Mode.Global != nil {
			reconcile = global.Reconcile
		}
		plan, err := reconcile(in)
		if err != nil {
			m.logger.Warn("reconciling service", "service", svc.Spec.Name, "err", err)
			continue
		}
		soonest(plan.RetryAt)
		if err := m.applyPlan(ctx, svc, plan, now); err != nil {
			m.logWriteError("reconciling", svc.Spec.Name, err)
		}
	}
	// Tasks whose service is gone are stopped, then deleted.
	for serviceID, tasks := range byService {
		plan, err := replicated.Reconcile(orchestrator.Input{Tasks: tasks, Nodes: nodes, Now: now, HistoryLimit: historyLimit})
		if err != nil {
			continue
		}
		if err := m.applyPlan(ctx, nil, plan, now); err != nil {
			m.logWriteError("cleaning up tasks of removed service", serviceID, err)
		}
	}
	return next
}

func (m *Manager) logWriteError(what, service string, err error) {
	if apierr.KindOf(err) == apierr.KindConflict {
		return // someone else wrote first; the next round sees it
	}
	m.logger.Warn(what+" failed", "service", service, "err", err)
}

// applyPlan writes a reconciler's plan in one proposal.
func (m *Manager) applyPlan(ctx context.Context, svc *swarm.Service, plan orchestrator.Plan, now time.Time) error {
	if plan.Empty() {
		return nil
	}
	var actions []store.Action
	for i := range plan.Create {
		t := plan.Create[i]
		t.ID = ids.New()
		if t.NodeID == "" {
			t.Status = swarm.TaskStatus{State: swarm.TaskStateNew, Timestamp: now, Message: "created"}
		}
		actions = append(actions, store.Action{Op: store.OpCreate, Task: &t})
	}
	setDesired := func(ids []string, state swarm.TaskState) {
		for _, id := range ids {
			t, err := m.store.Task(id)
			if err != nil || t.DesiredState == state {
				continue
			}
			t.DesiredState = state
			actions = append(actions, store.Action{Op: store.OpUpdate, Task: t})
		}
	}
	setDesired(plan.Shutdown, swarm.TaskStateShutdown)
	setDesired(plan.Remove, swarm.TaskStateRemove)
	for _, id := range plan.Delete {
		if t, err := m.store.Task(id); err == nil {
			actions = append(actions, store.Action{Op: store.OpDelete, Task: t})
		}
	}
	if len(actions) == 0 {
		return nil
	}
	return m.store.Write(ctx, actions...)
}

// scheduleOnce places every pending task, or records why it cannot be placed.
func (m *Manager) scheduleOnce(ctx context.Context) {
	tasks := m.store.Tasks()
	services := m.store.Services()
	byRef := map[string]*swarm.Network{}
	var ingress *swarm.Network
	for _, n := range m.store.Networks() {
		byRef[n.ID], byRef[n.Spec.Name] = n, n
		if n.Spec.Ingress {
			ingress = n
		}
	}
	wants := map[string][]*swarm.Network{}
	for _, s := range services {
		wants[s.ID] = serviceNetworks(s, byRef, ingress)
	}
	var pending []*swarm.Task
	for _, t := range tasks {
		if !orchestrator.Live(t) || (t.Status.State != swarm.TaskStateNew && t.Status.State != swarm.TaskStatePending) {
			continue
		}
		if want := wants[t.ServiceID]; len(want) > 0 && !attached(t, want) {
			continue // its addresses come first
		}
		pending = append(pending, t)
	}
	if len(pending) == 0 {
		return
	}
	decisions := scheduler.Schedule(scheduler.SnapshotOf(m.store.Nodes(), tasks, services), pending)
	byID := map[string]*swarm.Task{}
	for _, t := range pending {
		byID[t.ID] = t
	}
	now := m.cfg.Clock.Now().UTC()
	var actions []store.Action
	for _, d := range decisions {
		t := byID[d.TaskID]
		if t == nil {
			continue
		}
		switch {
		case d.NodeID != "":
			t.NodeID = d.NodeID
			t.Status = swarm.TaskStatus{State: swarm.TaskStateAssigned, Timestamp: now, Message: "scheduler assigned task to node"}
		case t.Status.State != swarm.TaskStatePending || t.Status.Err != d.Err:
			t.Status = swarm.TaskStatus{State: swarm.TaskStatePending, Timestamp: now, Message: "pending task scheduling", Err: d.Err}
		default:
			continue
		}
		actions = append(actions, store.Action{Op: store.OpUpdate, Task: t})
	}
	if len(actions) == 0 {
		return
	}
	if err := m.store.Write(ctx, actions...); err != nil && apierr.KindOf(err) != apierr.KindConflict && ctx.Err() == nil {
		m.logger.Warn("writing scheduling decisions", "err", err)
	}
}

func updating(s swarm.UpdateState) bool {
	return s == swarm.UpdateStateUpdating || s == swarm.UpdateStateRollbackStarted
}

// updateStep carries out the next step of a service's rolling update (or rollback) and
// returns when the next one may be due.
func (m *Manager) updateStep(ctx context.Context, svc *swarm.Service, tasks []*swarm.Task, nodes []*swarm.Node, now time.Time) (time.Time, error) {
	step := update.Plan(update.Input{Service: svc, Tasks: tasks, Nodes: nodes, Now: now})
	var actions []store.Action
	for i := range step.Create {
		t := step.Create[i]
		t.ID = ids.New()
		actions = append(actions, store.Action{Op: store.OpCreate, Task: &t})
	}
	for _, pair := range []struct {
		ids   []string
		state swarm.TaskState
	}{{step.Shutdown, swarm.TaskStateShutdown}, {step.Start, swarm.TaskStateRunning}} {
		for _, id := range pair.ids {
			t, err := m.store.Task(id)
			if err != nil || t.DesiredState == pair.state {
				continue
			}
			t.DesiredState = pair.state
			actions = append(actions, store.Action{Op: store.OpUpdate, Task: t})
		}
	}
	if step.Rollback && svc.PreviousSpec != nil {
		current := svc.Spec
		svc.Spec = *svc.PreviousSpec
		svc.PreviousSpec = &current
	}
	if step.Status != nil {
		svc.UpdateStatus = step.Status
		m.logger.Info("service update", "service", svc.Spec.Name, "state", step.Status.State, "message", step.Status.Message)
	}
	if step.Rollback || step.Status != nil {
		actions = append(actions, store.Action{Op: store.OpUpdate, Service: svc})
	}
	if len(actions) == 0 {
		return step.NextAt, nil
	}
	return step.NextAt, m.store.Write(ctx, actions...)
}
