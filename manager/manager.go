// Package manager is the control plane of one manager node: it owns the mTLS port,
// the Raft member and the replicated store, serves the cluster API to nodes, and runs
// the leader-only components (dispatcher, Raft membership) while this manager leads.
package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	hraft "github.com/hashicorp/raft"
	"github.com/moby/moby/api/types/swarm"
	"golang.org/x/sync/errgroup"

	"github.com/shoal/shoal/ca"
	"github.com/shoal/shoal/clusterapi"
	"github.com/shoal/shoal/internal/apierr"
	"github.com/shoal/shoal/internal/clock"
	"github.com/shoal/shoal/manager/controlapi"
	"github.com/shoal/shoal/manager/dispatcher"
	"github.com/shoal/shoal/manager/raft"
	"github.com/shoal/shoal/manager/scheduler"
	"github.com/shoal/shoal/manager/store"
)

// DefaultCertExpiry is the reference's node certificate lifetime (90 days).
const DefaultCertExpiry = 90 * 24 * time.Hour

// Config says how to start a manager.
type Config struct {
	NodeID        string
	ListenAddr    string // host:port to bind, e.g. 0.0.0.0:2377
	AdvertiseAddr string // host:port other nodes reach us at
	DataDir       string // holds the Raft state
	Creds         *ca.Credentials

	// Bootstrap, on `swarm init`, makes this manager the first voter and writes these
	// objects once it leads.
	Bootstrap *Bootstrap
	// ForceNewCluster recovers a lone surviving manager with all its state.
	ForceNewCluster bool

	Clock  clock.Clock
	Logger *slog.Logger
	// NodeHandler serves this node's own endpoints (clusterapi.PathNodePrefix: task logs)
	// on the manager port, as a worker serves them on its own listener.
	NodeHandler http.Handler
	// RaftTuning overrides Raft timings (tests); nil keeps the defaults.
	RaftTuning func(*raft.Config)
}

// Bootstrap holds the objects `swarm init` creates.
type Bootstrap struct {
	Cluster  *store.Cluster
	Node     *swarm.Node
	Networks []*swarm.Network // the ingress network
}

// Manager is one running manager.
type Manager struct {
	cfg        Config
	logger     *slog.Logger
	store      *store.Store
	raft       *raft.Node
	port       *port
	dispatcher *dispatcher.Dispatcher
	peers      *clusterapi.Client // manager-to-manager calls with our node certificate
	httpServer *http.Server
	control    *controlapi.API
	views      viewCache // what the nodes' assignments are made from, per store generation
}

// New binds the manager port and starts Raft. Run serves until its context ends.
func New(cfg Config) (*Manager, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Manager{cfg: cfg, logger: cfg.Logger.With("component", "manager")}
	m.store = store.New(nil, cfg.Clock.Now)
	m.dispatcher = dispatcher.New(m.store, cfg.Clock, m.logger.With("component", "dispatcher"))
	m.peers = clusterapi.NewClient(cfg.Creds.ClientTLSConfig(clusterapi.ProtoAPI))

	p, err := listenPort(cfg.ListenAddr, cfg.Creds, m.logger, m.raftPeerAllowed)
	if err != nil {
		return nil, err
	}
	m.port = p
	layer := &raftLayer{chanListener: chanListener{p: p, conns: p.raftConns}, advertise: advertiseAddr(cfg.AdvertiseAddr), creds: cfg.Creds}
	transport := hraft.NewNetworkTransportWithLogger(layer, 3, 10*time.Second, raft.NewHCLogger(m.logger.With("component", "raft-transport"), false))
	rcfg := raft.Config{
		ID:              cfg.NodeID,
		Addr:            cfg.AdvertiseAddr,
		DataDir:         filepath.Join(cfg.DataDir),
		Transport:       transport,
		Bootstrap:       cfg.Bootstrap != nil,
		ForceNewCluster: cfg.ForceNewCluster,
		Forward:         m.forwardProposal,
		Logger:          m.logger.With("component", "raft"),
	}
	if cfg.RaftTuning != nil {
		cfg.RaftTuning(&rcfg)
	}
	node, err := raft.New(rcfg, m.store)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("starting raft: %w", err)
	}
	m.raft = node
	m.store.SetProposer(node)
	m.control = controlapi.New(m.store, cfg.Clock.Now, scheduler.ValidateConstraints)
	m.httpServer = &http.Server{Handler: m.clusterAPIHandler(), ReadHeaderTimeout: 10 * time.Second}
	go p.serve()
	return m, nil
}

// Store is the replicated state (reads are local; writes go through Raft).
func (m *Manager) Store() *store.Store { return m.store }

// Control is the service and task API over the store.
func (m *Manager) Control() *controlapi.API { return m.control }

// Raft is this manager's Raft member.
func (m *Manager) Raft() *raft.Node { return m.raft }

// Run serves the cluster API and runs the leader-only components whenever this manager
// leads, until ctx ends; then it shuts Raft down.
func (m *Manager) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		err := m.httpServer.Serve(chanListener{p: m.port, conns: m.port.apiConns})
		if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
			return nil
		}
		return err
	})
	g.Go(func() error { return m.runLeadership(ctx) })
	g.Go(func() error {
		<-ctx.Done()
		m.port.close() // unblocks the API server's Accept
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = m.httpServer.Shutdown(shutdownCtx)
		return nil
	})
	err := g.Wait()
	m.stop()
	return err
}

// stop releases Raft and the port; Run calls it on the way out.
func (m *Manager) stop() {
	if err := m.raft.Shutdown(); err != nil {
		m.logger.Warn("raft shutdown", "err", err)
	}
	m.port.close()
	m.peers.Close()
}

// runLeadership starts the leader-only set when leadership is gained and stops it when
// it is lost: the one place where that happens.
func (m *Manager) runLeadership(ctx context.Context) error {
	var leader *leaderRun
	stopLeader := func() {
		if leader != nil {
			leader.stop()
			leader = nil
			m.logger.Info("leadership lost: leader components stopped")
		}
	}
	defer stopLeader()
	changes := m.raft.LeadershipChanges()
	check := time.NewTicker(time.Second)
	defer check.Stop()
	for {
		leading := m.raft.IsLeader()
		switch {
		case leading && leader == nil:
			leader = startLeaderRun(ctx, m.runLeader)
			m.logger.Info("leadership gained: leader components started")
		case !leading:
			stopLeader()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changes:
		case <-check.C:
		}
	}
}

// leaderRun is one term's run of the leader-only components.
type leaderRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startLeaderRun(parent context.Context, run func(context.Context)) *leaderRun {
	ctx, cancel := context.WithCancel(parent)
	r := &leaderRun{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		run(ctx)
	}()
	return r
}

func (r *leaderRun) stop() {
	r.cancel()
	<-r.done
}

// runLeader runs the leader-only components until ctx ends.
func (m *Manager) runLeader(ctx context.Context) {
	if err := m.raft.Barrier(ctx); err != nil {
		m.logger.Warn("leader barrier failed", "err", err)
		return
	}
	if b := m.cfg.Bootstrap; b != nil {
		if _, err := m.store.Cluster(); err != nil {
			actions := []store.Action{{Op: store.OpCreate, Cluster: b.Cluster}, {Op: store.OpCreate, Node: b.Node}}
			for _, n := range b.Networks {
				actions = append(actions, store.Action{Op: store.OpCreate, Network: n})
			}
			if err := m.store.Write(ctx, actions...); err != nil {
				m.logger.Error("writing the new swarm's first objects", "err", err)
			}
		}
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); _ = m.dispatcher.Run(ctx) }()
	go func() { defer wg.Done(); m.reconcileMembership(ctx) }()
	go func() { defer wg.Done(); m.runOrchestration(ctx) }()
	wg.Wait()
}

// raftPeerAllowed lets only current managers' certificates speak Raft.
func (m *Manager) raftPeerAllowed(id ca.NodeIdentity) error {
	if id.Role != ca.ManagerRole {
		return fmt.Errorf("node %s holds a %s certificate; only managers take part in raft", id.NodeID, id.Role)
	}
	if m.store.IsRemoved(id.NodeID) {
		return fmt.Errorf("node %s was removed from the swarm", id.NodeID)
	}
	return nil
}

func (m *Manager) forwardProposal(ctx context.Context, leaderID, leaderAddr string, cmd []byte) (uint64, error) {
	if leaderAddr == "" {
		return 0, apierr.Unavailablef("the swarm has no leader to take the write")
	}
	var resp clusterapi.ProposeResponse
	err := m.peers.Call(ctx, leaderAddr, clusterapi.PathPropose, clusterapi.ProposeRequest{Cmd: cmd}, &resp)
	return resp.Index, err
}

// WaitReady waits until this manager's store holds the cluster object (after init, join
// or restart) or ctx ends.
func (m *Manager) WaitReady(ctx context.Context) error {
	for {
		ch := m.store.Changed()
		if _, err := m.store.Cluster(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return apierr.Unavailablef("the manager did not receive the swarm state in time: %v", ctx.Err())
		case <-ch:
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// JoinRaft asks the leader, found through any of managers, to add this manager as a voter.
func (m *Manager) JoinRaft(ctx context.Context, managers []swarm.Peer) error {
	req := clusterapi.RaftJoinRequest{NodeID: m.cfg.NodeID, Addr: m.cfg.AdvertiseAddr}
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		for _, p := range managers {
			addr := p.Addr
			for hop := 0; hop < 3; hop++ {
				err := m.peers.Call(ctx, addr, clusterapi.PathRaftJoin, req, nil)
				var mis *clusterapi.MisdirectedError
				if errors.As(err, &mis) && mis.LeaderAddr != "" {
					addr = mis.LeaderAddr
					continue
				}
				if err == nil {
					return nil
				}
				lastErr = err
				break
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("joining raft: %w (last error: %v)", ctx.Err(), lastErr)
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("joining raft: %w", lastErr)
}

// LeaderID returns the current leader's node ID, or "".
func (m *Manager) LeaderID() string {
	id, _ := m.raft.Leader()
	return id
}

// CertExpiry is the cluster's node certificate lifetime.
func CertExpiry(c *store.Cluster) time.Duration {
	if c != nil && c.Spec.CAConfig.NodeCertExpiry > 0 {
		return c.Spec.CAConfig.NodeCertExpiry
	}
	return DefaultCertExpiry
}
