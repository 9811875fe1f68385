package daemon

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/agent/exec"
	"github.com/shoal/shoal/ca"
	"github.com/shoal/shoal/clusterapi"
	"github.com/shoal/shoal/internal/apierr"
)

// nodeHandler serves the node API (clusterapi.PathNodePrefix): the output of the tasks
// this node runs, to managers; whether it still routes to a task, to any node.
func (d *Daemon) nodeHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+clusterapi.PathNodeLogs, d.handleNodeLogs)
	mux.HandleFunc("POST "+clusterapi.PathNodeRoutes, d.handleNodeRoutes)
	mux.HandleFunc("POST "+clusterapi.PathNodeNetState, d.handleNodeNetState)
	return mux
}

func (d *Daemon) handleNodeNetState(w http.ResponseWriter, r *http.Request) {
	if _, ok := ca.PeerIdentity(r.TLS); !ok {
		writeNodeError(w, apierr.Forbiddenf("this request needs a node certificate of this swarm"))
		return
	}
	wk := d.worker.Load()
	if wk == nil {
		writeNodeError(w, apierr.Unavailablef("this node runs no tasks"))
		return
	}
	st, err := wk.NetState()
	if err != nil {
		writeNodeError(w, fmt.Errorf("reading the node's network state: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}

// maxRoutesWait bounds how long a routes question may be held.
const maxRoutesWait = 10 * time.Second

func (d *Daemon) handleNodeRoutes(w http.ResponseWriter, r *http.Request) {
	if _, ok := ca.PeerIdentity(r.TLS); !ok {
		writeNodeError(w, apierr.Forbiddenf("this request needs a node certificate of this swarm"))
		return
	}
	var req clusterapi.NodeRoutesRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeNodeError(w, apierr.Invalidf("malformed routes request: %v", err))
		return
	}
	var resp clusterapi.NodeRoutesResponse
	switch wk := d.worker.Load(); {
	case wk != nil:
		resp.Routed = wk.Routes(r.Context(), req.TaskID, min(max(req.Wait, 0), maxRoutesWait))
	case d.executor != nil:
		// Between swarm membership changes or while starting, a node running tasks cannot
		// tell what its surviving VIP rules still send where: the asker tries again.
		writeNodeError(w, apierr.Unavailablef("this node's worker is not running yet"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func (d *Daemon) handleNodeLogs(w http.ResponseWriter, r *http.Request) {
	id, ok := ca.PeerIdentity(r.TLS)
	if !ok || id.Role != ca.ManagerRole {
		writeNodeError(w, apierr.Forbiddenf("only managers may read a node's task output"))
		return
	}
	var req clusterapi.NodeLogsRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeNodeError(w, apierr.Invalidf("malformed logs request: %v", err))
		return
	}
	if d.executor == nil {
		writeNodeError(w, apierr.Unavailablef("this node runs no tasks"))
		return
	}
	ctrl, err := d.executor.Controller(&swarm.Task{ID: req.TaskID})
	if err != nil {
		writeNodeError(w, err)
		return
	}
	defer ctrl.Close()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	enc := json.NewEncoder(w)
	err = ctrl.Logs(r.Context(), exec.LogsOptions{Follow: req.Follow, Tail: req.Tail, Since: req.Since}, func(m exec.LogMessage) error {
		if err := enc.Encode(clusterapi.LogLine{Time: m.Time, Stream: m.Stream, Line: m.Line}); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	})
	if err != nil && !errors.Is(err, exec.ErrNoContainer) && r.Context().Err() == nil {
		d.logger.Debug("streaming task output", "task", req.TaskID, "err", err)
	}
}

func writeNodeError(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(apierr.HTTPStatus(err))
	_ = json.NewEncoder(w).Encode(clusterapi.ErrorResponse{Message: err.Error()})
}

// startNodePortLocked serves the node API on a worker's listen address (a manager serves
// it on its manager port instead).
func (d *Daemon) startNodePortLocked() error {
	if d.nodePort != nil || d.state == nil {
		return nil
	}
	ln, err := net.Listen("tcp", d.state.ListenAddr)
	if err != nil {
		return err
	}
	cfg := d.creds.ServerTLSConfig([]string{clusterapi.ProtoAPI})
	srv := &http.Server{Handler: d.nodeHandler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(tls.NewListener(ln, cfg)) }()
	d.nodePort = func() {
		_ = srv.Close()
		<-done
	}
	return nil
}

func (d *Daemon) stopNodePortLocked() {
	if d.nodePort != nil {
		d.nodePort()
		d.nodePort = nil
	}
}
