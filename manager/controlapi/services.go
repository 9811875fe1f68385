package controlapi

import (
	"context"
	"reflect"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/internal/apierr"
	"github.com/shoal/shoal/internal/ids"
	"github.com/shoal/shoal/internal/portspec"
	"github.com/shoal/shoal/manager/orchestrator"
	"github.com/shoal/shoal/manager/orchestrator/update"
	"github.com/shoal/shoal/manager/store"
)

// API turns service requests into store writes.
type API struct {
	store            *store.Store
	now              func() time.Time
	parseConstraints ConstraintParser
}

// New makes the control API over st.
func New(st *store.Store, now func() time.Time, parseConstraints ConstraintParser) *API {
	if now == nil {
		now = time.Now
	}
	return &API{store: st, now: now, parseConstraints: parseConstraints}
}

// CreateService validates spec, fills the defaults and stores the service; the
// orchestrators create its tasks.
func (a *API) CreateService(ctx context.Context, spec swarm.ServiceSpec) (string, error) {
	if err := ValidateServiceSpec(&spec, a.parseConstraints); err != nil {
		return "", err
	}
	id := ids.New()
	if spec.Name == "" {
		spec.Name = ServiceNameFor(id)
	}
	if _, err := a.store.ServiceByName(spec.Name); err == nil {
		return "", apierr.Conflictf("service %s already exists", spec.Name)
	}
	if err := a.checkPublishedPorts("", spec); err != nil {
		return "", err
	}
	if err := a.checkNetworks(spec); err != nil {
		return "", err
	}
	spec = WithDefaults(spec)
	svc := &swarm.Service{ID: id, Spec: spec}
	if err := a.store.Write(ctx, store.Action{Op: store.OpCreate, Service: svc}); err != nil {
		return "", err
	}
	return id, nil
}

// UpdateService replaces a service's spec at version (or, with rollback, returns it to
// its previous spec) and starts a rolling update, unless the change only scales.
func (a *API) UpdateService(ctx context.Context, ref string, version uint64, spec swarm.ServiceSpec, rollback bool) error {
	svc, err := a.ResolveService(ref)
	if err != nil {
		return err
	}
	if svc.Version.Index != version {
		return apierr.Conflictf("update out of sequence: service %s is at version %d, the update was made against version %d; inspect it again and retry", svc.Spec.Name, svc.Version.Index, version)
	}
	now := a.now().UTC()
	if rollback {
		if svc.PreviousSpec == nil {
			return apierr.Invalidf("service %s has no previous spec to roll back to", svc.Spec.Name)
		}
		spec = *svc.PreviousSpec
		svc.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateRollbackStarted, StartedAt: &now, Message: "manually requested rollback"}
	} else {
		if err := CheckUpdate(svc.Spec, spec); err != nil {
			return err
		}
		spec.Name = svc.Spec.Name
		if err := ValidateServiceSpec(&spec, a.parseConstraints); err != nil {
			return err
		}
		if err := a.checkPublishedPorts(svc.ID, spec); err != nil {
			return err
		}
		if err := a.checkNetworks(spec); err != nil {
			return err
		}
		spec = WithDefaults(spec)
		svc.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateUpdating, StartedAt: &now, Message: "update in progress"}
		if a.onlyScales(svc, spec) {
			// As in swarmkit, a scale starts no rolling update and clears the last one's
			// status. An update here would complete at once, before the new replicas
			// even exist, and clients waiting for convergence (docker service scale)
			// would take that "completed" for the end of the scale.
			svc.UpdateStatus = nil
		}
	}
	previous := svc.Spec
	svc.PreviousSpec = &previous
	svc.Spec = spec
	return a.store.Write(ctx, store.Action{Op: store.OpUpdate, Service: svc})
}

// onlyScales says whether spec changes svc's replica count and no live task would be
// replaced: the reconciler alone carries such a change out.
func (a *API) onlyScales(svc *swarm.Service, spec swarm.ServiceSpec) bool {
	if svc.Spec.Mode.Replicated == nil || spec.Mode.Replicated == nil ||
		reflect.DeepEqual(svc.Spec.Mode.Replicated.Replicas, spec.Mode.Replicated.Replicas) {
		return false
	}
	next := &swarm.Service{ID: svc.ID, Spec: spec}
	for _, t := range a.store.TasksOfService(svc.ID) {
		if orchestrator.Live(t) && !update.IsCurrent(next, t) {
			return false
		}
	}
	return true
}

// RemoveService deletes a service and marks its tasks for removal; agents stop them
// (draining them first) and the reaper deletes them.
func (a *API) RemoveService(ctx context.Context, ref string) error {
	svc, err := a.ResolveService(ref)
	if err != nil {
		return err
	}
	actions := []store.Action{{Op: store.OpDelete, Service: svc}}
	for _, t := range a.store.TasksOfService(svc.ID) {
		if t.DesiredState != swarm.TaskStateRemove {
			t.DesiredState = swarm.TaskStateRemove
			actions = append(actions, store.Action{Op: store.OpUpdate, Task: t})
		}
	}
	return a.store.Write(ctx, actions...)
}

// checkPublishedPorts refuses a port another service already publishes where the two would
// meet: an ingress port is served on every node, so it clashes with the same port of any
// other service, in ingress or host mode (two services' host-mode ports only need
// different nodes, which the scheduler sees to).
func (a *API) checkPublishedPorts(selfID string, spec swarm.ServiceSpec) error {
	if spec.EndpointSpec == nil || len(spec.EndpointSpec.Ports) == 0 {
		return nil
	}
	others := a.store.Services() // one read of the store, not one per port
	for _, p := range spec.EndpointSpec.Ports {
		if p.PublishedPort == 0 {
			continue
		}
		proto := portspec.Protocol(p)
		for _, other := range others {
			if other.ID == selfID {
				continue
			}
			ports := other.Endpoint.Ports
			if other.Spec.EndpointSpec != nil {
				ports = append(ports, other.Spec.EndpointSpec.Ports...)
			}
			for _, q := range ports {
				if (portspec.Ingress(p) || portspec.Ingress(q)) && q.PublishedPort == p.PublishedPort && portspec.Protocol(q) == proto {
					return apierr.Conflictf("port %d/%s is already published by service %s", p.PublishedPort, proto, other.Spec.Name)
				}
			}
		}
	}
	return nil
}

// checkNetworks refuses networks that do not exist, and the ingress network, which a
// service joins by publishing ports rather than by name.
func (a *API) checkNetworks(spec swarm.ServiceSpec) error {
	for _, att := range spec.TaskTemplate.Networks {
		n, err := a.ResolveNetwork(att.Target)
		if err != nil {
			return apierr.NotFoundf("network %s not found", att.Target)
		}
		if n.Spec.Ingress {
			return apierr.Invalidf("service cannot be explicitly attached to the ingress network %q: publish a port instead", n.Spec.Name)
		}
	}
	return nil
}
