// Package agent is the part of every node that talks to the managers: it reports the
// node alive with heartbeats at the period the cluster sets (with jitter), follows the
// leader, renews the node certificate before it expires, and tells its owner when the
// cluster changes the node's role or removes it. It never imports the manager.
package agent

import (
	"context"
	"errors"
	"log/slog"
	mathrand "math/rand/v2"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/ca"
	"github.com/shoal/shoal/clusterapi"
	"github.com/shoal/shoal/internal/apierr"
	"github.com/shoal/shoal/internal/clock"
)

// Config says who the node is and whom to tell about changes.
type Config struct {
	NodeID   string
	Creds    *ca.Credentials
	Managers []swarm.Peer
	Period   time.Duration // until the first answer says otherwise
	Addr     string        // the node's own address, reported in heartbeats
	Describe func() swarm.NodeDescription
	Clock    clock.Clock
	Logger   *slog.Logger

	// OnManagers is told the current managers after each heartbeat that changes them.
	OnManagers func([]swarm.Peer)
	// OnCertificate is told of a renewed certificate (new key) and the role it carries;
	// the owner persists it and starts or stops its manager when the role changed.
	OnCertificate func(certPEM, keyPEM []byte, role swarm.NodeRole) error
	// OnRemoved is told the cluster no longer accepts this node.
	OnRemoved func(reason string)
}

// Agent is one node's link to the managers.
type Agent struct {
	cfg      Config
	client   *clusterapi.Client
	rnd      *mathrand.Rand
	target   string // manager address we talk to (the leader when known)
	managers []swarm.Peer
	period   time.Duration
	renewAt  time.Time
}

// New makes an agent; Run drives it.
func New(cfg Config) *Agent {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Period <= 0 {
		cfg.Period = 5 * time.Second
	}
	a := &Agent{
		cfg:      cfg,
		client:   clusterapi.NewClient(cfg.Creds.ClientTLSConfig(clusterapi.ProtoAPI)),
		rnd:      mathrand.New(mathrand.NewPCG(uint64(time.Now().UnixNano()), 7)),
		managers: append([]swarm.Peer(nil), cfg.Managers...),
		period:   cfg.Period,
	}
	a.renewAt = ca.RenewalTime(cfg.Creds.Leaf(), a.rnd)
	return a
}

// Run reports to the managers until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	defer a.client.Close()
	failures := 0
	for {
		err := a.heartbeat(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := jitter(a.period, a.rnd)
		if err != nil {
			failures++
			if apierr.KindOf(err) == apierr.KindForbidden && strings.Contains(err.Error(), "removed") {
				a.cfg.Logger.Error("the swarm no longer accepts this node", "err", err)
				if a.cfg.OnRemoved != nil {
					a.cfg.OnRemoved(err.Error())
				}
				return nil
			}
			if failures == 1 || failures%10 == 0 {
				a.cfg.Logger.Warn("heartbeat failed", "manager", a.target, "err", err, "failures", failures)
			}
			a.nextTarget()
			if wait > time.Second { // retry other managers sooner than a full period
				wait = time.Second
			}
		} else {
			failures = 0
		}
		if err == nil && !a.cfg.Clock.Now().Before(a.renewAt) {
			if err := a.renew(ctx); err != nil {
				a.cfg.Logger.Warn("certificate renewal failed; will retry", "err", err)
				a.renewAt = a.cfg.Clock.Now().Add(time.Second)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-a.cfg.Clock.After(wait):
		}
	}
}

// jitter spreads heartbeats by ±10% so nodes do not beat in lockstep.
func jitter(d time.Duration, r *mathrand.Rand) time.Duration {
	return time.Duration(float64(d) * (0.9 + 0.2*r.Float64()))
}

func (a *Agent) nextTarget() {
	if len(a.managers) == 0 {
		return
	}
	idx := 0
	for i, m := range a.managers {
		if m.Addr == a.target {
			idx = (i + 1) % len(a.managers)
			break
		}
	}
	a.target = a.managers[idx].Addr
}

// heartbeat sends one heartbeat, following a redirect to the leader.
func (a *Agent) heartbeat(ctx context.Context) error {
	if a.target == "" {
		a.nextTarget()
	}
	req := clusterapi.HeartbeatRequest{NodeID: a.cfg.NodeID, Addr: a.cfg.Addr}
	if a.cfg.Describe != nil {
		req.Description = a.cfg.Describe()
	}
	var resp clusterapi.HeartbeatResponse
	for hop := 0; ; hop++ {
		cctx, cancel := context.WithTimeout(ctx, heartbeatTimeout(a.period))
		err := a.client.Call(cctx, a.target, clusterapi.PathHeartbeat, req, &resp)
		cancel()
		var mis *clusterapi.MisdirectedError
		if errors.As(err, &mis) && mis.LeaderAddr != "" && hop < 2 {
			a.target = mis.LeaderAddr
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	if resp.Period > 0 {
		a.period = resp.Period
	}
	if len(resp.Managers) > 0 && !samePeers(resp.Managers, a.managers) {
		a.managers = resp.Managers
		if a.cfg.OnManagers != nil {
			a.cfg.OnManagers(resp.Managers)
		}
	}
	if resp.Role != "" && resp.Role != a.certRole() {
		a.cfg.Logger.Info("the swarm changed this node's role", "role", resp.Role)
		return a.renew(ctx)
	}
	return nil
}

// heartbeatTimeout bounds one heartbeat call. A manager that died without closing its
// connections (power cut, link down) answers nothing, and the node must give up on it and
// find the leader well within the three periods after which the leader marks it Down:
// so the bound is one period, within [minHeartbeatTimeout, maxHeartbeatTimeout].
func heartbeatTimeout(period time.Duration) time.Duration {
	return min(max(period, minHeartbeatTimeout), maxHeartbeatTimeout)
}

const (
	minHeartbeatTimeout = 500 * time.Millisecond
	maxHeartbeatTimeout = 5 * time.Second
)

func (a *Agent) certRole() swarm.NodeRole {
	if a.cfg.Creds.Identity().Role == ca.ManagerRole {
		return swarm.NodeRoleManager
	}
	return swarm.NodeRoleWorker
}

// renew gets a new certificate (new key) for this node with the role the swarm gives it.
func (a *Agent) renew(ctx context.Context) error {
	key, keyPEM, err := ca.NewNodeKey()
	if err != nil {
		return err
	}
	csr, err := ca.NewCSR(key)
	if err != nil {
		return err
	}
	var resp clusterapi.RenewResponse
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.client.Call(cctx, a.target, clusterapi.PathRenew, clusterapi.RenewRequest{CSRPEM: csr}, &resp); err != nil {
		return err
	}
	if a.cfg.OnCertificate != nil {
		if err := a.cfg.OnCertificate(resp.CertPEM, keyPEM, resp.Role); err != nil {
			return err
		}
	} else if err := a.cfg.Creds.Update(resp.CertPEM, keyPEM); err != nil {
		return err
	}
	a.client.Close() // new connections present the new certificate
	a.renewAt = ca.RenewalTime(a.cfg.Creds.Leaf(), a.rnd)
	a.cfg.Logger.Info("node certificate renewed", "expires", a.cfg.Creds.Leaf().NotAfter, "next_renewal", a.renewAt)
	return nil
}

func samePeers(a, b []swarm.Peer) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
