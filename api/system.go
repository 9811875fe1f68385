package api

import (
	"net/http"

	"github.com/moby/moby/api/types/swarm"
)

// builderVersion is what /_ping advertises in Builder-Version. Shoal builds no images;
// "1" (the classic builder) keeps BuildKit clients from opening a session it cannot serve.
const builderVersion = "1"

func (s *server) systemRoutes() []route {
	return []route{
		{http.MethodGet, "/_ping", s.ping},
		{http.MethodGet, "/version", s.version},
		{http.MethodGet, "/info", s.info},
	}
}

// ping answers GET and HEAD /_ping, which clients use to learn the API version and the
// node's swarm state before anything else.
func (s *server) ping(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Builder-Version", builderVersion)
	if status := s.swarmStatusHeader(r); status != "" {
		h.Set("Swarm", status)
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	_, err := w.Write([]byte("OK"))
	return err
}

// swarmStatusHeader is the Swarm header's value: the local node state, with the role
// ("active/manager", "active/worker") once the node is in a swarm, as the Docker daemon
// sends it. It is empty when the backend cannot say; a ping never fails for it.
func (s *server) swarmStatusHeader(r *http.Request) string {
	var state swarm.LocalNodeState
	var controlAvailable bool
	if reporter, ok := s.backend.(SwarmStatusReporter); ok {
		state, controlAvailable = reporter.SwarmStatus(r.Context())
	} else {
		info, err := s.backend.Info(r.Context())
		if err != nil {
			return ""
		}
		state, controlAvailable = info.Swarm.LocalNodeState, info.Swarm.ControlAvailable
	}
	switch {
	case state == "":
		return ""
	case state != swarm.LocalNodeStateActive:
		return string(state)
	case controlAvailable:
		return string(state) + "/manager"
	}
	return string(state) + "/worker"
}

func (s *server) version(w http.ResponseWriter, r *http.Request) error {
	v, err := s.backend.Version(r.Context())
	if err != nil {
		return err
	}
	// The API layer owns version negotiation, so it fills in the range it serves.
	if v.APIVersion == "" {
		v.APIVersion = s.opts.MaxVersion
	}
	if v.MinAPIVersion == "" {
		v.MinAPIVersion = s.opts.MinVersion
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *server) info(w http.ResponseWriter, r *http.Request) error {
	info, err := s.backend.Info(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, info)
}
