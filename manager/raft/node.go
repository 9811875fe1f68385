// Package raft is the consensus layer that replicates the managers' state
// store. It wraps hashicorp/raft and deals only in opaque commands: the store
// implements FSM and proposes its changes through Node.Propose, so the store
// never imports raft and raft never imports the store.
//
// A Node owns one raft instance with its log, stable and snapshot stores
// (raft-boltdb and files under Config.DataDir, or memory in tests). Writes go
// to the leader: a follower hands them over through Config.Forward. Without
// a leader, writes fail quickly with an apierr Unavailable error instead of
// waiting for quorum to come back.
package raft

import (
	"errors"
	"fmt"
	"sync"
	"time"

	hraft "github.com/hashicorp/raft"
)

// Node is this manager's raft member. All methods are safe for concurrent use.
type Node struct {
	cfg    Config
	raft   *hraft.Raft
	stores *stores

	// leadership carries this node's leadership transitions to
	// LeadershipChanges' reader; relayLeadership is its only sender.
	leadership chan bool

	// observer feeds leader-change observations to watchLeader.
	observer     *hraft.Observer
	observations chan hraft.Observation

	leaderMu      sync.Mutex
	leaderChanged chan struct{} // closed, then replaced, when the known leader changes

	// stop is closed by Shutdown once raft has stopped; the node's
	// goroutines then end.
	stop chan struct{}

	trackMu  sync.Mutex
	stopping bool           // set by Shutdown; track refuses new goroutines after it
	wg       sync.WaitGroup // every goroutine the node starts

	shutdownOnce sync.Once
	shutdownErr  error
}

// Server is one member of the raft configuration.
type Server struct {
	ID    string
	Addr  string
	Voter bool // false for a non-voter (a manager still catching up)
}

// New starts a raft node for fsm. With Bootstrap and no existing state it
// forms a one-manager cluster; with ForceNewCluster it first rewrites the
// existing state's configuration to this node alone; otherwise it resumes
// its state, or (with none) waits for a leader to add it.
//
// The FSM receives the state from the newest snapshot and the log before New
// returns or shortly after, on raft's goroutine.
func New(cfg Config, fsm FSM) (*Node, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if fsm == nil {
		return nil, errors.New("raft: the FSM is nil: the store must supply the state machine to replicate")
	}
	hc, err := cfg.hraftConfig()
	if err != nil {
		return nil, err
	}
	st, err := openStores(cfg.DataDir, hc.Logger.Named("snapshot"))
	if err != nil {
		return nil, err
	}
	r, err := startRaft(cfg, hc, fsmAdapter{fsm: fsm}, st)
	if err != nil {
		return nil, errors.Join(err, st.close())
	}

	n := &Node{
		cfg:           cfg,
		raft:          r,
		stores:        st,
		leadership:    make(chan bool, 1),
		observations:  make(chan hraft.Observation, 16),
		leaderChanged: make(chan struct{}),
		stop:          make(chan struct{}),
	}
	n.observer = hraft.NewObserver(n.observations, false, func(o *hraft.Observation) bool {
		_, ok := o.Data.(hraft.LeaderObservation)
		return ok
	})
	r.RegisterObserver(n.observer)
	n.wg.Add(2)
	go n.relayLeadership()
	go n.watchLeader()
	return n, nil
}

// startRaft prepares the stores as cfg asks (bootstrap or recovery) and
// starts raft on them.
func startRaft(cfg Config, hc *hraft.Config, fsm hraft.FSM, st *stores) (*hraft.Raft, error) {
	hasState, err := hraft.HasExistingState(st.logs, st.stable, st.snaps)
	if err != nil {
		return nil, fmt.Errorf("checking for existing raft state: %w", err)
	}
	switch {
	case cfg.ForceNewCluster:
		if !hasState {
			return nil, fmt.Errorf("force-new-cluster: %s has no raft state to recover; start without it to create a new cluster", describeDataDir(cfg.DataDir))
		}
		// The FSM replays the log here and is then restored from the
		// snapshot RecoverCluster writes, so it ends with the same state.
		if err := hraft.RecoverCluster(hc, fsm, st.logs, st.stable, st.snaps, cfg.Transport, cfg.soleVoter()); err != nil {
			return nil, fmt.Errorf("force-new-cluster: rewriting the raft configuration to %s alone: %w", cfg.ID, err)
		}
	case cfg.Bootstrap && !hasState:
		if err := hraft.BootstrapCluster(hc, st.logs, st.stable, st.snaps, cfg.Transport, cfg.soleVoter()); err != nil {
			return nil, fmt.Errorf("bootstrapping a one-manager raft cluster: %w", err)
		}
	}
	r, err := hraft.NewRaft(hc, fsm, st.logs, st.stable, st.snaps, cfg.Transport)
	if err != nil {
		return nil, fmt.Errorf("starting raft: %w", err)
	}
	return r, nil
}

func describeDataDir(dir string) string {
	if dir == "" {
		return "the in-memory store"
	}
	return "data dir " + dir
}

// IsLeader reports whether this node is the leader now. Leadership can end
// the next moment; writes go through Propose, which handles that.
func (n *Node) IsLeader() bool {
	return n.raft.State() == hraft.Leader
}

// Leader returns the leader this node knows of, or two empty strings.
func (n *Node) Leader() (id, addr string) {
	a, i := n.raft.LeaderWithID()
	return string(i), string(a)
}

// LastContact is when this follower last heard from the leader (zero if
// never). On the leader it is not meaningful.
func (n *Node) LastContact() time.Time {
	return n.raft.LastContact()
}

// LeadershipChanges reports this node's leadership: true when it becomes the
// leader, false when it stops being the leader (also at Shutdown). Raft never
// waits for the reader: the channel holds one undelivered value, the latest,
// so a slow reader skips intermediate transitions and may see the same value
// twice (leadership lost and regained meanwhile). Treat each value as "the
// current state is", and start or stop leader-only work idempotently;
// IsLeader answers the same question at any time. There is one channel per
// node, meant for one reader (the manager's leader loop). It is closed after
// Shutdown.
func (n *Node) LeadershipChanges() <-chan bool {
	return n.leadership
}

// relayLeadership copies raft's leadership signals to n.leadership, keeping
// only the newest undelivered one, and closes it at shutdown.
func (n *Node) relayLeadership() {
	defer n.wg.Done()
	defer close(n.leadership)
	signals := n.raft.LeaderCh()
	for {
		select {
		case v := <-signals:
			n.publishLeadership(v)
		case <-n.stop:
			// Raft has stopped; if it was leading, its last word is false.
			select {
			case v := <-signals:
				n.publishLeadership(v)
			default:
			}
			return
		}
	}
}

func (n *Node) publishLeadership(leader bool) {
	select {
	case n.leadership <- leader:
		return
	default:
	}
	select {
	case <-n.leadership: // drop the stale value
	default:
	}
	// Cannot block: this goroutine is the only sender and the buffer is empty.
	n.leadership <- leader
}

// watchLeader wakes the waiters of awaitLeader whenever raft reports a
// different leader (or none).
func (n *Node) watchLeader() {
	defer n.wg.Done()
	for {
		select {
		case <-n.observations:
			n.leaderMu.Lock()
			close(n.leaderChanged)
			n.leaderChanged = make(chan struct{})
			n.leaderMu.Unlock()
		case <-n.stop:
			return
		}
	}
}

// leaderChange returns a channel closed at the next leader change.
func (n *Node) leaderChange() <-chan struct{} {
	n.leaderMu.Lock()
	defer n.leaderMu.Unlock()
	return n.leaderChanged
}

// track counts a goroutine the node is about to start, so Shutdown waits for
// it; it returns false once Shutdown has begun.
func (n *Node) track() bool {
	n.trackMu.Lock()
	defer n.trackMu.Unlock()
	if n.stopping {
		return false
	}
	n.wg.Add(1)
	return true
}

// Shutdown stops raft, waits for the node's goroutines, closes the stores
// and the transport, and closes LeadershipChanges. It does not hand over
// leadership first: the others elect a new leader after their election
// timeout. Calling it again returns the first result.
func (n *Node) Shutdown() error {
	n.shutdownOnce.Do(func() {
		n.trackMu.Lock()
		n.stopping = true
		n.trackMu.Unlock()

		n.raft.DeregisterObserver(n.observer)
		raftErr := n.raft.Shutdown().Error()
		close(n.stop)
		n.wg.Wait()
		var closeErr error
		if err := n.stores.close(); err != nil {
			closeErr = fmt.Errorf("closing the raft log: %w", err)
		}
		if raftErr != nil {
			raftErr = fmt.Errorf("stopping raft: %w", raftErr)
		}
		n.shutdownErr = errors.Join(raftErr, closeErr)
	})
	return n.shutdownErr
}
