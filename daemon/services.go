package daemon

import (
	"context"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/api"
	"github.com/shoal/shoal/manager"
	"github.com/shoal/shoal/manager/orchestrator/update"
)

// ServiceCreate creates a service (managers only).
func (d *Daemon) ServiceCreate(ctx context.Context, spec swarm.ServiceSpec) (swarm.ServiceCreateResponse, error) {
	m, err := d.manager()
	if err != nil {
		return swarm.ServiceCreateResponse{}, err
	}
	id, err := m.Control().CreateService(ctx, spec)
	return swarm.ServiceCreateResponse{ID: id}, err
}

// ServiceList lists services matching filters, with running/desired counts when asked.
func (d *Daemon) ServiceList(ctx context.Context, f api.ServiceListFilters, withStatus bool) ([]swarm.Service, error) {
	m, err := d.manager()
	if err != nil {
		return nil, err
	}
	out := []swarm.Service{}
	for _, s := range m.Store().Services() {
		if !serviceMatches(s, f) {
			continue
		}
		if withStatus {
			s.ServiceStatus = serviceStatus(m, s)
		}
		out = append(out, *s)
	}
	return out, nil
}

func serviceMatches(s *swarm.Service, f api.ServiceListFilters) bool {
	mode := "replicated"
	if s.Spec.Mode.Global != nil {
		mode = "global"
	}
	return anyOf(f.ID, func(v string) bool { return strings.HasPrefix(s.ID, v) }) &&
		anyOf(f.Name, func(v string) bool { return strings.HasPrefix(s.Spec.Name, v) }) &&
		anyOf(f.Mode, func(v string) bool { return v == mode }) &&
		anyOf(f.Label, labelMatch(s.Spec.Labels))
}

// serviceStatus counts running tasks against desired ones, as `service ls` shows them.
func serviceStatus(m *manager.Manager, s *swarm.Service) *swarm.ServiceStatus {
	st := &swarm.ServiceStatus{}
	tasks := m.Store().TasksOfService(s.ID)
	for _, t := range tasks {
		if t.DesiredState == swarm.TaskStateRunning && t.Status.State == swarm.TaskStateRunning {
			st.RunningTasks++
		}
	}
	switch {
	case s.Spec.Mode.Replicated != nil && s.Spec.Mode.Replicated.Replicas != nil:
		st.DesiredTasks = *s.Spec.Mode.Replicated.Replicas
	case s.Spec.Mode.Global != nil:
		for _, t := range tasks {
			if t.DesiredState == swarm.TaskStateRunning {
				st.DesiredTasks++
			}
		}
	}
	return st
}

// ServiceInspect returns one service.
func (d *Daemon) ServiceInspect(ctx context.Context, ref string, insertDefaults bool) (swarm.Service, error) {
	m, err := d.manager()
	if err != nil {
		return swarm.Service{}, err
	}
	s, err := m.Control().ResolveService(ref)
	if err != nil {
		return swarm.Service{}, err
	}
	return *s, nil
}

// ServiceUpdate changes a service's spec, or rolls it back.
func (d *Daemon) ServiceUpdate(ctx context.Context, ref string, version uint64, spec swarm.ServiceSpec, opts api.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
	m, err := d.manager()
	if err != nil {
		return swarm.ServiceUpdateResponse{}, err
	}
	err = m.Control().UpdateService(ctx, ref, version, spec, opts.Rollback == "previous")
	return swarm.ServiceUpdateResponse{Warnings: []string{}}, err
}

// ServiceRemove removes a service; its tasks are drained and stopped.
func (d *Daemon) ServiceRemove(ctx context.Context, ref string) error {
	m, err := d.manager()
	if err != nil {
		return err
	}
	return m.Control().RemoveService(ctx, ref)
}

// TaskList lists tasks matching filters.
func (d *Daemon) TaskList(ctx context.Context, f api.TaskListFilters) ([]swarm.Task, error) {
	m, err := d.manager()
	if err != nil {
		return nil, err
	}
	st := m.Store()
	// Service and node filters take names as well as IDs.
	serviceIDs := resolveAll(f.Service, func(ref string) (string, bool) {
		s, err := m.Control().ResolveService(ref)
		if err != nil {
			return "", false
		}
		return s.ID, true
	})
	nodeIDs := resolveAll(f.Node, func(ref string) (string, bool) {
		n, err := resolveNode(st, ref)
		if err != nil {
			return "", false
		}
		return n.ID, true
	})
	names := map[string]string{}
	services := map[string]*swarm.Service{}
	for _, s := range st.Services() {
		names[s.ID] = s.Spec.Name
		services[s.ID] = s
	}
	out := []swarm.Task{}
	for _, t := range st.Tasks() {
		name := taskName(t, names[t.ServiceID])
		ok := anyOf(f.ID, func(v string) bool { return strings.HasPrefix(t.ID, v) }) &&
			anyOf(f.Name, func(v string) bool { return strings.HasPrefix(name, v) }) &&
			anyOf(f.DesiredState, func(v string) bool { return desiredStateMatches(t.DesiredState, v) }) &&
			anyOf(f.Label, labelMatch(t.Labels)) &&
			(f.Service == nil || serviceIDs[t.ServiceID]) &&
			(f.Node == nil || nodeIDs[t.NodeID]) &&
			(!f.UpToDate || (services[t.ServiceID] != nil && update.IsCurrent(services[t.ServiceID], t)))
		if ok {
			out = append(out, *t)
		}
	}
	return out, nil
}

// desiredStateMatches applies docker's desired-state filter: "shutdown" also matches
// tasks marked for removal.
func desiredStateMatches(state swarm.TaskState, v string) bool {
	if v == "shutdown" {
		return state == swarm.TaskStateShutdown || state == swarm.TaskStateRemove
	}
	return string(state) == v
}

func taskName(t *swarm.Task, service string) string {
	if t.Slot > 0 {
		return service + "." + strconv.Itoa(t.Slot)
	}
	return service + "." + t.NodeID
}

func resolveAll(refs []string, resolve func(string) (string, bool)) map[string]bool {
	if refs == nil {
		return nil
	}
	out := map[string]bool{}
	for _, r := range refs {
		if id, ok := resolve(r); ok {
			out[id] = true
		}
	}
	return out
}

// TaskInspect returns one task.
func (d *Daemon) TaskInspect(ctx context.Context, id string) (swarm.Task, error) {
	m, err := d.manager()
	if err != nil {
		return swarm.Task{}, err
	}
	t, err := m.Control().ResolveTask(id)
	if err != nil {
		return swarm.Task{}, err
	}
	return *t, nil
}
