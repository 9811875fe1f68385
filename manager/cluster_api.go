package manager

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/ca"
	"github.com/shoal/shoal/clusterapi"
	"github.com/shoal/shoal/internal/apierr"
	"github.com/shoal/shoal/internal/ids"
	"github.com/shoal/shoal/manager/dispatcher"
	"github.com/shoal/shoal/manager/store"
)

// clusterAPIHandler serves the node-to-manager protocol (package clusterapi).
func (m *Manager) clusterAPIHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+clusterapi.PathJoin, m.handleJoin)
	if m.cfg.NodeHandler != nil {
		mux.Handle(clusterapi.PathNodePrefix, m.cfg.NodeHandler)
	}
	mux.HandleFunc("POST "+clusterapi.PathHeartbeat, m.member(m.handleHeartbeat))
	mux.HandleFunc("POST "+clusterapi.PathRenew, m.member(m.handleRenew))
	mux.HandleFunc("POST "+clusterapi.PathRaftJoin, m.member(m.handleRaftJoin))
	mux.HandleFunc("POST "+clusterapi.PathPropose, m.member(m.handlePropose))
	mux.HandleFunc("POST "+clusterapi.PathAssignments, m.member(m.handleAssignments))
	mux.HandleFunc("POST "+clusterapi.PathTaskStatus, m.member(m.handleTaskStatus))
	return mux
}

type memberHandler func(w http.ResponseWriter, r *http.Request, id ca.NodeIdentity)

// member admits only requests carrying a verified certificate of a node still in the swarm.
func (m *Manager) member(h memberHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := ca.PeerIdentity(r.TLS)
		if !ok {
			writeError(w, apierr.Forbiddenf("this request needs a node certificate of this swarm"))
			return
		}
		if m.store.IsRemoved(id.NodeID) {
			writeError(w, apierr.Forbiddenf("node %s was removed from the swarm; its certificate is no longer accepted. Run 'shoal swarm leave --force' on it, then join again", id.NodeID))
			return
		}
		h(w, r, id)
	}
}

func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil {
		return apierr.Invalidf("reading request: %v", err)
	}
	if len(body) > 1<<20 {
		return apierr.Invalidf("request body too large (limit 1 MiB)")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return apierr.Invalidf("malformed request: %v", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(apierr.HTTPStatus(err))
	_ = json.NewEncoder(w).Encode(clusterapi.ErrorResponse{Message: err.Error()})
}

// misdirect sends the caller to the leader.
func (m *Manager) misdirect(w http.ResponseWriter) {
	_, addr := m.raft.Leader()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusMisdirectedRequest)
	_ = json.NewEncoder(w).Encode(clusterapi.ErrorResponse{Message: "not the leader", LeaderAddr: addr})
}

func (m *Manager) handleJoin(w http.ResponseWriter, r *http.Request) {
	var req clusterapi.JoinRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	resp, err := m.admit(r.Context(), req)
	if err != nil {
		m.logger.Info("join refused", "remote", r.RemoteAddr, "hostname", req.Description.Hostname, "err", err)
		writeError(w, err)
		return
	}
	m.logger.Info("node joined", "node", resp.NodeID, "role", resp.Role, "hostname", req.Description.Hostname)
	writeJSON(w, resp)
}

// admit checks a join token and, when it is good, creates the node and signs its certificate.
// A refused join writes nothing.
func (m *Manager) admit(ctx context.Context, req clusterapi.JoinRequest) (clusterapi.JoinResponse, error) {
	cluster, err := m.store.Cluster()
	if err != nil {
		return clusterapi.JoinResponse{}, err
	}
	role, err := roleForToken(cluster, req.Token)
	if err != nil {
		return clusterapi.JoinResponse{}, err
	}
	switch req.Availability {
	case "":
		req.Availability = swarm.NodeAvailabilityActive
	case swarm.NodeAvailabilityActive, swarm.NodeAvailabilityPause, swarm.NodeAvailabilityDrain:
	default:
		return clusterapi.JoinResponse{}, apierr.Invalidf("invalid availability %q: must be active, pause or drain", req.Availability)
	}
	root, err := ca.ParseRootCA(cluster.RootCACertPEM, cluster.RootCAKeyPEM)
	if err != nil {
		return clusterapi.JoinResponse{}, fmt.Errorf("loading the swarm's root CA: %w", err)
	}
	nodeID := ids.New()
	certRole := ca.WorkerRole
	if role == swarm.NodeRoleManager {
		certRole = ca.ManagerRole
	}
	certPEM, err := root.IssueNodeCert(req.CSRPEM, ca.NodeIdentity{NodeID: nodeID, Role: certRole, ClusterID: cluster.ID}, m.cfg.Clock.Now(), CertExpiry(cluster))
	if err != nil {
		return clusterapi.JoinResponse{}, apierr.Invalidf("cannot sign the joining node's certificate: %v", err)
	}
	node := &swarm.Node{
		ID:          nodeID,
		Spec:        swarm.NodeSpec{Role: role, Availability: req.Availability},
		Description: req.Description,
		Status:      swarm.NodeStatus{State: swarm.NodeStateReady, Addr: hostOf(req.AdvertiseAddr)},
	}
	node.Description.TLSInfo = tlsInfo(root)
	if role == swarm.NodeRoleManager {
		node.ManagerStatus = &swarm.ManagerStatus{Addr: req.AdvertiseAddr, Reachability: swarm.ReachabilityReachable}
	}
	if err := m.store.Write(ctx, store.Action{Op: store.OpCreate, Node: node}); err != nil {
		return clusterapi.JoinResponse{}, err
	}
	return clusterapi.JoinResponse{
		NodeID:          nodeID,
		ClusterID:       cluster.ID,
		Role:            role,
		CertPEM:         certPEM,
		RootCAPEM:       cluster.RootCACertPEM,
		Managers:        dispatcher.Managers(m.store.Nodes()),
		HeartbeatPeriod: m.dispatcher.Period(),
	}, nil
}

// roleForToken says which role a token grants, or why it grants none.
func roleForToken(c *store.Cluster, token string) (swarm.NodeRole, error) {
	t, err := ca.ParseJoinToken(token)
	if err != nil {
		return "", apierr.Invalidf("%v", err) // ParseJoinToken's message starts with "invalid join token"
	}
	if err := t.CheckCA(c.RootCACertPEM); err != nil {
		return "", apierr.Invalidf("the join token was made for another swarm's CA: %v", err)
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(c.JoinTokens.Manager)) == 1 {
		return swarm.NodeRoleManager, nil
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(c.JoinTokens.Worker)) == 1 {
		return swarm.NodeRoleWorker, nil
	}
	return "", apierr.Invalidf("A valid join token is necessary to join this cluster: the token's secret is wrong or was rotated; get the current one with 'shoal swarm join-token worker|manager' on a manager")
}

func (m *Manager) handleHeartbeat(w http.ResponseWriter, r *http.Request, id ca.NodeIdentity) {
	var req clusterapi.HeartbeatRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.NodeID != id.NodeID {
		writeError(w, apierr.Forbiddenf("node %s cannot send heartbeats for node %s", id.NodeID, req.NodeID))
		return
	}
	if !m.raft.IsLeader() {
		m.misdirect(w)
		return
	}
	if req.Addr == "" {
		req.Addr = hostOf(r.RemoteAddr)
	}
	resp, err := m.dispatcher.Heartbeat(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, resp)
}

func (m *Manager) handleRenew(w http.ResponseWriter, r *http.Request, id ca.NodeIdentity) {
	var req clusterapi.RenewRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	cluster, err := m.store.Cluster()
	if err != nil {
		writeError(w, err)
		return
	}
	node, err := m.store.Node(id.NodeID)
	if err != nil {
		writeError(w, err)
		return
	}
	root, err := ca.ParseRootCA(cluster.RootCACertPEM, cluster.RootCAKeyPEM)
	if err != nil {
		writeError(w, fmt.Errorf("loading the swarm's root CA: %w", err))
		return
	}
	certRole := ca.WorkerRole
	if node.Spec.Role == swarm.NodeRoleManager {
		certRole = ca.ManagerRole
	}
	certPEM, err := root.IssueNodeCert(req.CSRPEM, ca.NodeIdentity{NodeID: id.NodeID, Role: certRole, ClusterID: cluster.ID}, m.cfg.Clock.Now(), CertExpiry(cluster))
	if err != nil {
		writeError(w, apierr.Invalidf("cannot renew the certificate: %v", err))
		return
	}
	writeJSON(w, clusterapi.RenewResponse{CertPEM: certPEM, RootCAPEM: cluster.RootCACertPEM, Role: node.Spec.Role})
}

func (m *Manager) handleRaftJoin(w http.ResponseWriter, r *http.Request, id ca.NodeIdentity) {
	var req clusterapi.RaftJoinRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if id.Role != ca.ManagerRole || req.NodeID != id.NodeID {
		writeError(w, apierr.Forbiddenf("only a manager can join raft, and only as itself"))
		return
	}
	if !m.raft.IsLeader() {
		m.misdirect(w)
		return
	}
	node, err := m.store.Node(req.NodeID)
	if err != nil {
		writeError(w, err)
		return
	}
	if node.Spec.Role != swarm.NodeRoleManager {
		writeError(w, apierr.Forbiddenf("node %s is not a manager in the swarm's state", req.NodeID))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	if err := m.raft.AddVoter(ctx, req.NodeID, req.Addr); err != nil {
		writeError(w, err)
		return
	}
	err = m.store.UpdateNode(ctx, req.NodeID, func(n *swarm.Node) error {
		if n.ManagerStatus != nil && n.ManagerStatus.Addr == req.Addr {
			return errNoChange
		}
		n.ManagerStatus = &swarm.ManagerStatus{Addr: req.Addr, Reachability: swarm.ReachabilityReachable}
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		writeError(w, err)
		return
	}
	m.logger.Info("manager joined raft", "node", req.NodeID, "addr", req.Addr)
	writeJSON(w, struct{}{})
}

var errNoChange = errors.New("no change")

func (m *Manager) handlePropose(w http.ResponseWriter, r *http.Request, id ca.NodeIdentity) {
	if id.Role != ca.ManagerRole {
		writeError(w, apierr.Forbiddenf("only managers may propose changes"))
		return
	}
	var req clusterapi.ProposeRequest
	if err := decode(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if !m.raft.IsLeader() {
		m.misdirect(w)
		return
	}
	index, err := m.raft.ProposeAsLeader(r.Context(), req.Cmd)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, clusterapi.ProposeResponse{Index: index})
}
