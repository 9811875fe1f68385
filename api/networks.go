package api

import (
	"net/http"
	"reflect"
	"slices"

	"github.com/moby/moby/api/types/network"
	"github.com/shoal/shoal/internal/apierr"
)

// networkEndpoints serves the network routes from a NetworkBackend. The server holds no
// NetworkBackend of its own, so the routes close over this instead.
type networkEndpoints struct {
	backend NetworkBackend
}

// networkRoutes are Docker's /networks endpoints. Connecting and disconnecting containers
// and pruning are refused with 501 even when the backend has networks: a Shoal network is
// joined through a service's spec, and removed one at a time with its reason if in use.
func (s *server) networkRoutes() []route {
	backend, ok := s.backend.(NetworkBackend)
	n := networkEndpoints{backend: backend}
	routes := []route{
		{http.MethodPost, "/networks/create", n.create},
		{http.MethodGet, "/networks", n.list},
		{http.MethodGet, "/networks/{id}", n.inspect},
		{http.MethodDelete, "/networks/{id}", n.remove},
		{http.MethodPost, "/networks/{id}/connect", refuseNetworkConnect},
		{http.MethodPost, "/networks/{id}/disconnect", refuseNetworkDisconnect},
		{http.MethodPost, "/networks/prune", refuseNetworkPrune},
	}
	if !ok {
		return unimplemented(routes, "networks are not implemented yet")
	}
	return routes
}

// create answers 201 with the new network's ID, as Docker does.
func (n networkEndpoints) create(w http.ResponseWriter, r *http.Request) error {
	req, err := decodeBody(w, r, decodeNetworkCreateRequest)
	if err != nil {
		return err
	}
	resp, err := n.backend.NetworkCreate(r.Context(), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, resp)
}

func (n networkEndpoints) list(w http.ResponseWriter, r *http.Request) error {
	filters, err := parseNetworkFilters(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	networks, err := n.backend.NetworkList(r.Context(), filters)
	if err != nil {
		return err
	}
	if networks == nil {
		networks = []network.Summary{} // clients expect [], not null
	}
	return writeJSON(w, http.StatusOK, networks)
}

// inspect honours the scope parameter as Docker does: a network of another scope is not
// found. The backend is not told the scope; every Shoal network has the one it reports.
func (n networkEndpoints) inspect(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	verbose, err := parseQueryBool(q, "verbose")
	if err != nil {
		return err
	}
	scope, err := parseNetworkScope(q.Get("scope"))
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	nw, err := n.backend.NetworkInspect(r.Context(), id, verbose)
	if err != nil {
		return err
	}
	if scope != "" && nw.Scope != scope {
		return apierr.NotFoundf("network %s not found", id)
	}
	if nw.Containers == nil {
		nw.Containers = map[string]network.EndpointResource{} // Docker always sends the object
	}
	return writeJSON(w, http.StatusOK, nw)
}

// remove answers 204, as Docker does. A network in use is the backend's to refuse, with
// the reason.
func (n networkEndpoints) remove(w http.ResponseWriter, r *http.Request) error {
	if err := n.backend.NetworkRemove(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func refuseNetworkConnect(http.ResponseWriter, *http.Request) error {
	return apierr.NotImplementedf("connecting containers to networks is not implemented yet: attach a service with service create --network or service update --network-add")
}

func refuseNetworkDisconnect(http.ResponseWriter, *http.Request) error {
	return apierr.NotImplementedf("disconnecting containers from networks is not implemented yet: detach a service with service update --network-rm")
}

func refuseNetworkPrune(http.ResponseWriter, *http.Request) error {
	return apierr.NotImplementedf("network prune is not implemented yet: remove networks one at a time with network rm")
}

// decodeNetworkCreateRequest decodes the body of `POST /networks/create`. Only syntax is
// checked: whether the driver, scope or subnet is allowed is the backend's call.
func decodeNetworkCreateRequest(body []byte) (network.CreateRequest, error) {
	req, err := decodeJSONObject[network.CreateRequest](body, "network create request")
	if err != nil {
		return req, err
	}
	return req, checkNoNullEntries(reflect.ValueOf(req), "network create request", "")
}

// networkFilterNames are the filters `GET /networks` accepts, as the Docker daemon's.
var networkFilterNames = []string{"driver", "id", "label", "name", "scope", "type"}

// parseNetworkFilters parses the `filters` parameter of `GET /networks`. Scopes and types
// are case-insensitive and come back in lower case.
func parseNetworkFilters(raw string) (NetworkListFilters, error) {
	args, err := parseFilters(raw, networkFilterNames)
	if err != nil {
		return NetworkListFilters{}, err
	}
	scope, err := enumFilter(args, "scope", networkScopes...)
	if err != nil {
		return NetworkListFilters{}, err
	}
	kind, err := enumFilter(args, "type", "custom", "builtin")
	if err != nil {
		return NetworkListFilters{}, err
	}
	return NetworkListFilters{
		ID:     args["id"],
		Name:   args["name"],
		Driver: args["driver"],
		Label:  args["label"],
		Scope:  scope,
		Type:   kind,
	}, nil
}

// networkScopes are the scopes Docker knows a network by.
var networkScopes = []string{"swarm", "local", "global"}

// parseNetworkScope reads the scope parameter of `GET /networks/{id}`: empty for any.
func parseNetworkScope(raw string) (string, error) {
	if raw != "" && !slices.Contains(networkScopes, raw) {
		return "", apierr.Invalidf("invalid scope %q: must be swarm, local or global", raw)
	}
	return raw, nil
}
