package api

import (
	"net/http"

	"github.com/moby/moby/api/types/swarm"
)

func (s *server) nodeRoutes() []route {
	return []route{
		{http.MethodGet, "/nodes", s.nodeList},
		{http.MethodGet, "/nodes/{id}", s.nodeInspect},
		{http.MethodPost, "/nodes/{id}/update", s.nodeUpdate},
		{http.MethodDelete, "/nodes/{id}", s.nodeRemove},
	}
}

func (s *server) nodeList(w http.ResponseWriter, r *http.Request) error {
	filters, err := parseNodeFilters(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	nodes, err := s.backend.NodeList(r.Context(), filters)
	if err != nil {
		return err
	}
	if nodes == nil {
		nodes = []swarm.Node{} // clients expect [], not null
	}
	return writeJSON(w, http.StatusOK, nodes)
}

func (s *server) nodeInspect(w http.ResponseWriter, r *http.Request) error {
	node, err := s.backend.NodeInspect(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, node)
}

func (s *server) nodeUpdate(w http.ResponseWriter, r *http.Request) error {
	version, err := parseObjectVersion(r.URL.Query())
	if err != nil {
		return err
	}
	spec, err := decodeBody(w, r, decodeNodeSpec)
	if err != nil {
		return err
	}
	if err := s.backend.NodeUpdate(r.Context(), r.PathValue("id"), version, spec); err != nil {
		return err
	}
	return writeEmpty(w)
}

func (s *server) nodeRemove(w http.ResponseWriter, r *http.Request) error {
	force, err := parseQueryBool(r.URL.Query(), "force")
	if err != nil {
		return err
	}
	if err := s.backend.NodeRemove(r.Context(), r.PathValue("id"), force); err != nil {
		return err
	}
	return writeEmpty(w)
}
