package api

import (
	"net/http"
)

func (s *server) swarmRoutes() []route {
	return []route{
		{http.MethodPost, "/swarm/init", s.swarmInit},
		{http.MethodPost, "/swarm/join", s.swarmJoin},
		{http.MethodPost, "/swarm/leave", s.swarmLeave},
		{http.MethodGet, "/swarm", s.swarmInspect},
		{http.MethodPost, "/swarm/update", s.swarmUpdate},
		{http.MethodGet, "/swarm/unlockkey", s.swarmUnlockKey},
		{http.MethodPost, "/swarm/unlock", s.swarmUnlock},
	}
}

// decodeBody reads r's body and decodes it with decode, so no endpoint reaches the backend
// with a body that was too large, not JSON, or not the object it expects.
func decodeBody[T any](w http.ResponseWriter, r *http.Request, decode func([]byte) (T, error)) (T, error) {
	body, err := readBody(w, r)
	if err != nil {
		var zero T
		return zero, err
	}
	return decode(body)
}

// swarmInit answers with the new node's ID as a JSON string, as Docker does.
func (s *server) swarmInit(w http.ResponseWriter, r *http.Request) error {
	req, err := decodeBody(w, r, decodeInitRequest)
	if err != nil {
		return err
	}
	nodeID, err := s.backend.SwarmInit(r.Context(), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, nodeID)
}

func (s *server) swarmJoin(w http.ResponseWriter, r *http.Request) error {
	req, err := decodeBody(w, r, decodeJoinRequest)
	if err != nil {
		return err
	}
	if err := s.backend.SwarmJoin(r.Context(), req); err != nil {
		return err
	}
	return writeEmpty(w)
}

func (s *server) swarmLeave(w http.ResponseWriter, r *http.Request) error {
	force, err := parseQueryBool(r.URL.Query(), "force")
	if err != nil {
		return err
	}
	if err := s.backend.SwarmLeave(r.Context(), force); err != nil {
		return err
	}
	return writeEmpty(w)
}

func (s *server) swarmInspect(w http.ResponseWriter, r *http.Request) error {
	sw, err := s.backend.SwarmInspect(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sw)
}

func (s *server) swarmUpdate(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	version, err := parseObjectVersion(q)
	if err != nil {
		return err
	}
	var flags SwarmUpdateFlags
	for _, f := range []struct {
		name string
		dst  *bool
	}{
		{"rotateWorkerToken", &flags.RotateWorkerToken},
		{"rotateManagerToken", &flags.RotateManagerToken},
		{"rotateManagerUnlockKey", &flags.RotateManagerUnlockKey},
	} {
		if *f.dst, err = parseQueryBool(q, f.name); err != nil {
			return err
		}
	}
	spec, err := decodeBody(w, r, decodeSwarmSpec)
	if err != nil {
		return err
	}
	if err := s.backend.SwarmUpdate(r.Context(), version, spec, flags); err != nil {
		return err
	}
	return writeEmpty(w)
}

func (s *server) swarmUnlockKey(w http.ResponseWriter, r *http.Request) error {
	key, err := s.backend.SwarmUnlockKey(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, key)
}

func (s *server) swarmUnlock(w http.ResponseWriter, r *http.Request) error {
	req, err := decodeBody(w, r, decodeUnlockRequest)
	if err != nil {
		return err
	}
	if err := s.backend.SwarmUnlock(r.Context(), req); err != nil {
		return err
	}
	return writeEmpty(w)
}
