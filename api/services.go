package api

import (
	"io"
	"net/http"

	"github.com/moby/moby/api/types"
	"github.com/moby/moby/api/types/swarm"
)

func (s *server) serviceRoutes() []route {
	routes := []route{
		{http.MethodPost, "/services/create", s.serviceCreate},
		{http.MethodGet, "/services", s.serviceList},
		{http.MethodGet, "/services/{id}", s.serviceInspect},
		{http.MethodPost, "/services/{id}/update", s.serviceUpdate},
		{http.MethodDelete, "/services/{id}", s.serviceRemove},
		{http.MethodGet, "/services/{id}/logs", s.serviceLogs},
	}
	if s.services == nil {
		return unimplemented(routes, "services are not implemented yet")
	}
	return routes
}

// serviceCreate answers 201 with the new service's ID. The X-Registry-Auth header is
// accepted and ignored: Shoal does not pull from registries.
func (s *server) serviceCreate(w http.ResponseWriter, r *http.Request) error {
	spec, err := decodeBody(w, r, decodeServiceSpec)
	if err != nil {
		return err
	}
	resp, err := s.services.ServiceCreate(r.Context(), spec)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, resp)
}

func (s *server) serviceList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	filters, err := parseServiceFilters(q.Get("filters"))
	if err != nil {
		return err
	}
	withStatus, err := parseQueryBool(q, "status")
	if err != nil {
		return err
	}
	services, err := s.services.ServiceList(r.Context(), filters, withStatus)
	if err != nil {
		return err
	}
	if services == nil {
		services = []swarm.Service{} // clients expect [], not null
	}
	return writeJSON(w, http.StatusOK, services)
}

func (s *server) serviceInspect(w http.ResponseWriter, r *http.Request) error {
	insertDefaults, err := parseQueryBool(r.URL.Query(), "insertDefaults")
	if err != nil {
		return err
	}
	svc, err := s.services.ServiceInspect(r.Context(), r.PathValue("id"), insertDefaults)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, svc)
}

// serviceUpdate takes the spec even for a rollback, which ignores it, as Docker does: the
// docker CLI always sends one.
func (s *server) serviceUpdate(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	version, err := parseObjectVersion(q)
	if err != nil {
		return err
	}
	opts, err := parseServiceUpdateOptions(q)
	if err != nil {
		return err
	}
	spec, err := decodeBody(w, r, decodeServiceSpec)
	if err != nil {
		return err
	}
	resp, err := s.services.ServiceUpdate(r.Context(), r.PathValue("id"), version, spec, opts)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, resp)
}

func (s *server) serviceRemove(w http.ResponseWriter, r *http.Request) error {
	if err := s.services.ServiceRemove(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return writeEmpty(w)
}

func (s *server) serviceLogs(w http.ResponseWriter, r *http.Request) error {
	opts, err := parseLogsOptions(r.URL.Query())
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	return streamLogs(w, r, func(out io.Writer) error {
		return s.services.ServiceLogs(r.Context(), id, opts, out)
	})
}

// streamLogs sends what produce writes as Docker's multiplexed stream, until produce
// returns or the client goes away.
func streamLogs(w http.ResponseWriter, r *http.Request, produce func(io.Writer) error) error {
	return stream(w, r, types.MediaTypeMultiplexedStream, writeStdcopyError, produce)
}
