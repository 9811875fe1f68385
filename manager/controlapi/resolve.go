package controlapi

import (
	"strings"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/internal/apierr"
)

// resolveRef finds an object by full ID, then by name (when the kind has names), then by
// unique ID prefix, as the docker CLI lets users name them.
func resolveRef[T any](kind, ref string, byID, byName func(string) (*T, error), all func() []*T, id func(*T) string) (*T, error) {
	if ref == "" {
		return nil, apierr.Invalidf("a %s ID or name is required", kind)
	}
	if o, err := byID(ref); err == nil {
		return o, nil
	}
	if byName != nil {
		if o, err := byName(ref); err == nil {
			return o, nil
		}
	}
	var found []*T
	for _, o := range all() {
		if strings.HasPrefix(id(o), ref) {
			found = append(found, o)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, apierr.NotFoundf("%s %s not found", kind, ref)
	}
	return nil, apierr.Conflictf("%s %s is ambiguous (%d matches found)", kind, ref, len(found))
}

// ResolveService finds a service by full ID, name, or unique ID prefix.
func (a *API) ResolveService(ref string) (*swarm.Service, error) {
	return resolveRef("service", ref, a.store.Service, a.store.ServiceByName, a.store.Services,
		func(s *swarm.Service) string { return s.ID })
}

// ResolveNetwork finds a network by full ID, name, or unique ID prefix.
func (a *API) ResolveNetwork(ref string) (*swarm.Network, error) {
	return resolveRef("network", ref, a.store.Network, a.store.NetworkByName, a.store.Networks,
		func(n *swarm.Network) string { return n.ID })
}

// ResolveTask finds a task by full ID or unique ID prefix.
func (a *API) ResolveTask(ref string) (*swarm.Task, error) {
	return resolveRef("task", ref, a.store.Task, nil, a.store.Tasks,
		func(t *swarm.Task) string { return t.ID })
}
