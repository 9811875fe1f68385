// Package daemon is one node's long-running process: it serves the Docker Engine API on
// a unix socket, remembers the node's swarm membership, and runs the node's agent and,
// on managers, its manager. It is the api.Backend.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/agent"
	"github.com/shoal/shoal/agent/exec"
	"github.com/shoal/shoal/agent/exec/runc"
	"github.com/shoal/shoal/api"
	"github.com/shoal/shoal/ca"
	"github.com/shoal/shoal/image"
	"github.com/shoal/shoal/internal/apierr"
	"github.com/shoal/shoal/internal/clock"
	"github.com/shoal/shoal/manager"
	"github.com/shoal/shoal/manager/raft"
	"github.com/shoal/shoal/network/overlay"
)

// Config says how to run a daemon.
type Config struct {
	DataRoot string // default /var/lib/shoal
	Host     string // unix:///run/shoal/shoal.sock
	Hostname string
	Debug    bool
	Version  string
	Logger   *slog.Logger
	Clock    clock.Clock
	// RaftTuning overrides Raft timings (tests).
	RaftTuning func(*raft.Config)
	// Executor replaces the runc executor (control-plane tests use a fake).
	Executor exec.Executor
	// NetnsPrefix starts the names of the network namespaces the node makes (tasks',
	// overlay networks'); nodes sharing a machine (a lab) need different ones.
	NetnsPrefix string
}

// Daemon is a running node.
type Daemon struct {
	cfg    Config
	logger *slog.Logger
	ctx    context.Context // the daemon's lifetime; node components run under it

	images   *image.Store   // this node's images
	executor exec.Executor  // runs this node's tasks; nil when the node cannot run containers
	overlay  overlay.Kernel // the node's overlay data plane; nil without the runc executor
	execs    *execTable     // exec instances in this node's containers

	mu       sync.Mutex // guards the fields below; held across membership changes
	state    *nodeState
	creds    *ca.Credentials
	mgr      *manager.Manager
	mgrStop  func()                       // stops mgr and waits for it
	agentEnd func()                       // stops the agent and waits for it
	nodePort func()                       // stops a worker's node API listener
	worker   atomic.Pointer[agent.Worker] // runs this node's tasks while it is in a swarm
	nodeAddr atomic.Value                 // string: the node's advertised address, for its description
	swarmErr string
}

// New checks the configuration and prepares the data root.
func New(cfg Config) (*Daemon, error) {
	if cfg.DataRoot == "" {
		cfg.DataRoot = "/var/lib/shoal"
	}
	if cfg.Hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("finding the hostname (give --hostname): %w", err)
		}
		cfg.Hostname = h
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.NetnsPrefix == "" {
		cfg.NetnsPrefix = "shoal-"
	}
	if err := os.MkdirAll(cfg.DataRoot, 0o700); err != nil {
		return nil, fmt.Errorf("creating data root: %w", err)
	}
	if err := os.Chmod(cfg.DataRoot, 0o700); err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, logger: cfg.Logger, execs: newExecTable(cfg.Clock)}
	images, err := image.Open(filepath.Join(cfg.DataRoot, "image"))
	if err != nil {
		return nil, fmt.Errorf("opening the image store: %w", err)
	}
	d.images = images
	if cfg.Executor != nil {
		d.executor = cfg.Executor
		return d, nil
	}
	ex, err := runc.New(runc.Options{
		Root:   filepath.Join(cfg.DataRoot, "containers"),
		Images: taskImages{store: images},
		Clock:  cfg.Clock,
		Logger: cfg.Logger.With("component", "executor"),
	})
	if err != nil {
		cfg.Logger.Warn("this node cannot run tasks", "err", err)
	} else {
		d.executor = ex
		ov, err := overlay.NewNetlink(overlay.Config{SandboxPrefix: cfg.NetnsPrefix + "ov"})
		if err != nil {
			return nil, fmt.Errorf("overlay data plane: %w", err)
		}
		d.overlay = ov
	}
	return d, nil
}

// Run serves the API and runs the node until ctx ends. Leaving ctx ends the node's
// processes but keeps its membership: the next Run resumes it.
func (d *Daemon) Run(ctx context.Context) error {
	ctx, endLifetime := context.WithCancel(ctx) // also ends when the API server fails
	defer endLifetime()
	d.mu.Lock()
	d.ctx = ctx
	d.mu.Unlock()
	ln, err := listenUnix(d.cfg.Host)
	if err != nil {
		return err
	}
	d.mu.Lock()
	st, err := d.loadState()
	if err == nil && st != nil {
		d.state = st
		if st.Removed != "" {
			d.swarmErr = st.Removed
		} else if err = d.resumeLocked(); err != nil {
			d.swarmErr = err.Error()
			d.logger.Error("cannot resume swarm membership", "err", err)
			err = nil
		}
	}
	d.mu.Unlock()
	if err != nil {
		ln.Close()
		return err
	}

	srv := &http.Server{
		Handler:           api.NewHandler(d, api.Options{Logger: d.logger}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	d.logger.Info("daemon serving the API", "host", d.cfg.Host, "data_root", d.cfg.DataRoot, "hostname", d.cfg.Hostname)
	select {
	case <-ctx.Done():
	case err = <-served:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	d.mu.Lock()
	d.stopNodeLocked()
	d.mu.Unlock()
	endLifetime() // ends the execs still attached, which stop waits for
	d.execs.stop()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// listenUnix opens the API socket, mode 0660, replacing a stale socket file.
func listenUnix(host string) (net.Listener, error) {
	u, err := url.Parse(host)
	if err != nil || u.Scheme != "unix" || u.Path == "" {
		return nil, apierr.Invalidf("invalid -H %q: must be unix:///path/to/socket", host)
	}
	if err := os.MkdirAll(filepath.Dir(u.Path), 0o755); err != nil {
		return nil, err
	}
	if c, err := net.DialTimeout("unix", u.Path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("another daemon is already serving %s", u.Path)
	}
	_ = os.Remove(u.Path)
	ln, err := net.Listen("unix", u.Path)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", host, err)
	}
	if err := os.Chmod(u.Path, 0o660); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// resumeLocked restarts the node's components from its saved state.
func (d *Daemon) resumeLocked() error {
	if err := d.loadCredsLocked(); err != nil {
		return err
	}
	if leaf := d.creds.Leaf(); d.cfg.Clock.Now().After(leaf.NotAfter) {
		d.creds = nil
		return fmt.Errorf("this node's certificate expired at %s while the node was away; run 'shoal swarm leave --force' and join again", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	d.nodeAddr.Store(d.state.AdvertiseAddr)
	if d.state.Role == swarm.NodeRoleManager {
		if err := d.startManagerLocked(nil, false); err != nil {
			return err
		}
	} else if err := d.startNodePortLocked(); err != nil {
		return err
	}
	d.startAgentLocked()
	return nil
}

// startManagerLocked starts this node's manager. bootstrap is set on swarm init.
func (d *Daemon) startManagerLocked(bootstrap *manager.Bootstrap, forceNew bool) error {
	m, err := manager.New(manager.Config{
		NodeID:          d.state.NodeID,
		ListenAddr:      d.state.ListenAddr,
		AdvertiseAddr:   d.state.AdvertiseAddr,
		DataDir:         d.raftDir(),
		Creds:           d.creds,
		Bootstrap:       bootstrap,
		ForceNewCluster: forceNew,
		Clock:           d.cfg.Clock,
		Logger:          d.logger,
		RaftTuning:      d.cfg.RaftTuning,
		NodeHandler:     d.nodeHandler(),
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(d.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := m.Run(ctx); err != nil {
			d.logger.Error("manager stopped", "err", err)
		}
	}()
	d.mgr = m
	d.mgrStop = func() { cancel(); <-done }
	return nil
}

func (d *Daemon) stopManagerLocked() {
	if d.mgrStop != nil {
		d.mgrStop()
	}
	d.mgr, d.mgrStop = nil, nil
}

func (d *Daemon) startAgentLocked() {
	st := d.state
	a := agent.New(agent.Config{
		NodeID:        st.NodeID,
		Creds:         d.creds,
		Managers:      st.Managers,
		Period:        st.HeartbeatPeriod,
		Addr:          hostOf(st.AdvertiseAddr),
		Describe:      d.describe,
		Clock:         d.cfg.Clock,
		Logger:        d.logger.With("component", "agent"),
		OnManagers:    d.managersChanged,
		OnCertificate: d.certificateRenewed,
		OnRemoved:     d.removedFromSwarm,
	})
	ctx, cancel := context.WithCancel(d.ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx) }()
	var worker *agent.Worker
	if d.executor != nil {
		var ov *agent.OverlayConfig
		if ip, err := netip.ParseAddr(hostOf(st.AdvertiseAddr)); err == nil && d.overlay != nil {
			ov = &agent.OverlayConfig{Kernel: d.overlay, UnderlayIP: ip, NetnsPrefix: d.cfg.NetnsPrefix, Logger: d.logger.With("component", "overlay")}
		}
		worker = agent.NewWorker(agent.WorkerConfig{
			Overlay:  ov,
			NodeID:   st.NodeID,
			Creds:    d.creds,
			Managers: d.knownManagers,
			Executor: d.executor,
			Clock:    d.cfg.Clock,
			Logger:   d.logger.With("component", "worker"),
		})
	}
	d.worker.Store(worker)
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		if worker != nil {
			_ = worker.Run(ctx)
		}
	}()
	d.agentEnd = func() { cancel(); <-done; <-workerDone; d.worker.CompareAndSwap(worker, nil) }
}

// knownManagers is the node's current list of managers.
func (d *Daemon) knownManagers() []swarm.Peer {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == nil {
		return nil
	}
	return append([]swarm.Peer(nil), d.state.Managers...)
}

func (d *Daemon) stopAgentLocked() {
	if d.agentEnd != nil {
		d.agentEnd()
	}
	d.agentEnd = nil
}

func (d *Daemon) stopNodeLocked() {
	d.stopAgentLocked()
	d.stopManagerLocked()
	d.stopNodePortLocked()
}

// managersChanged is the agent telling us where the managers are now.
func (d *Daemon) managersChanged(peers []swarm.Peer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == nil {
		return
	}
	d.state.Managers = peers
	if err := d.saveState(d.state); err != nil {
		d.logger.Warn("saving manager list", "err", err)
	}
}

// certificateRenewed is the agent handing over a new certificate; when its role differs
// from the node's, the node starts or stops being a manager. It runs on the agent's
// goroutine, so it must not stop the agent.
func (d *Daemon) certificateRenewed(certPEM, keyPEM []byte, role swarm.NodeRole) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == nil || d.creds == nil {
		return errors.New("node left the swarm")
	}
	if err := ca.SaveNodeCredentials(d.certDir(), d.creds.Root().CertPEM, certPEM, keyPEM); err != nil {
		return err
	}
	if err := d.creds.Update(certPEM, keyPEM); err != nil {
		return err
	}
	if role == d.state.Role {
		return nil
	}
	d.logger.Info("changing role", "from", d.state.Role, "to", role)
	switch role {
	case swarm.NodeRoleManager:
		d.state.Role = role
		if err := d.saveState(d.state); err != nil {
			return err
		}
		_ = os.RemoveAll(d.raftDir()) // a fresh member; the leader sends it everything
		d.stopNodePortLocked()        // the manager port serves the node API now
		if err := d.startManagerLocked(nil, false); err != nil {
			return fmt.Errorf("starting manager after promotion: %w", err)
		}
		ctx, cancel := context.WithTimeout(d.ctx, 30*time.Second)
		defer cancel()
		if err := d.mgr.JoinRaft(ctx, d.state.Managers); err != nil {
			return err
		}
	case swarm.NodeRoleWorker:
		d.stopManagerLocked()
		_ = os.RemoveAll(d.raftDir())
		if err := d.startNodePortLocked(); err != nil {
			d.logger.Warn("serving the node API after demotion", "err", err)
		}
		d.state.Role = role
		if err := d.saveState(d.state); err != nil {
			return err
		}
	}
	return nil
}

// removedFromSwarm is the agent reporting that the swarm refuses this node.
func (d *Daemon) removedFromSwarm(reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == nil {
		return
	}
	d.stopManagerLocked()
	d.swarmErr = reason // the manager's refusal, which says the node was removed and what to do
	d.state.Removed = d.swarmErr
	_ = d.saveState(d.state)
}

// managerLocked returns the running manager or the error Docker gives on a non-manager.
func (d *Daemon) managerLocked() (*manager.Manager, error) {
	if d.state == nil {
		return nil, errNotInSwarm
	}
	if d.mgr == nil {
		return nil, errNotManager
	}
	return d.mgr, nil
}

// manager returns the running manager for an API call. A manager that has just started
// (or restarted) may not hold the swarm's latest state yet; the call waits a little for it
// to catch up with the leader, so its answers are not older than the caller's last write.
func (d *Daemon) manager() (*manager.Manager, error) {
	d.mu.Lock()
	m, err := d.managerLocked()
	d.mu.Unlock()
	if err != nil {
		return nil, err
	}
	// Without a leader there is nothing to catch up with: answer at once (reads from the
	// local state; writes fail fast for want of quorum).
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if id, _ := m.Raft().Leader(); id == "" || m.Raft().CaughtUp() {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return m, nil
}

var (
	errNotInSwarm = apierr.Unavailablef(`This node is not a swarm manager. Use "shoal swarm init" or "shoal swarm join" to connect this node to swarm and try again.`)
	errNotManager = apierr.Unavailablef(`This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.`)
)

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return strings.TrimSpace(addr)
}

// The daemon serves every part of the API.
var (
	_ api.Backend        = (*Daemon)(nil)
	_ api.ServiceBackend = (*Daemon)(nil)
	_ api.ImageBackend   = (*Daemon)(nil)
)

var (
	_ api.NetworkBackend   = (*Daemon)(nil)
	_ api.ContainerBackend = (*Daemon)(nil)
)
