package raft

import (
	"context"
	"errors"
	"strconv"
	"time"

	hraft "github.com/hashicorp/raft"
)

// proposeAttempts bounds how often Propose re-routes a write when leadership
// moves between finding the leader and handing it the write.
const proposeAttempts = 3

// Propose replicates cmd and returns once a majority has committed it and
// this node (if leader) or the leader (via Config.Forward) has applied it.
// The answer is the FSM's Apply error, or nil. If no leader is known, it
// waits at most two election timeouts (and no longer than ctx) for one, then
// fails with an Unavailable error wrapping ErrNoLeader.
//
// A write forwarded from a follower is applied on the follower's own FSM
// shortly after Propose returns, not necessarily before.
func (n *Node) Propose(ctx context.Context, cmd []byte) error {
	var err error
	for range proposeAttempts {
		if n.IsLeader() {
			_, err = n.applyAsLeader(ctx, cmd)
			if errors.Is(err, hraft.ErrNotLeader) {
				continue // never queued: safe to route it again
			}
			return err
		}
		id, addr, werr := n.awaitLeader(ctx, 2*n.cfg.ElectionTimeout)
		if werr != nil {
			return werr
		}
		if id == n.cfg.ID {
			// Elected meanwhile, or lost it again since raft named us.
			err = unavailable(ErrNotLeader, "leadership kept moving while the write was routed; retry")
			continue
		}
		if n.cfg.Forward == nil {
			return unavailable(ErrNotLeader, "this manager (%s) is not the leader and cannot forward writes; send them to the leader, %s at %s", n.cfg.ID, id, addr)
		}
		index, err := n.forward(ctx, id, addr, cmd)
		if err != nil {
			return err
		}
		return n.waitApplied(ctx, index)
	}
	return err
}

// ProposeAsLeader is Propose for a proposal that a follower forwarded: it
// applies cmd if this node is the leader and otherwise fails with an
// Unavailable error wrapping ErrNotLeader, never forwarding again, so a
// proposal cannot bounce between managers that disagree about the leader.
// The RPC handler behind Config.Forward should call it.
// It returns the log index the write was applied at.
func (n *Node) ProposeAsLeader(ctx context.Context, cmd []byte) (uint64, error) {
	if !n.IsLeader() {
		return 0, n.notLeaderError("a forwarded write")
	}
	return n.applyAsLeader(ctx, cmd)
}

func (n *Node) applyAsLeader(ctx context.Context, cmd []byte) (uint64, error) {
	timeout, err := n.timeout(ctx)
	if err != nil {
		return 0, unavailable(err, "the write was not proposed: %v", err)
	}
	f := n.raft.Apply(cmd, timeout)
	if err := n.await(ctx, f); err != nil {
		return 0, n.raftError("committing the write", err)
	}
	if answer, ok := f.Response().(error); ok {
		return f.Index(), answer
	}
	return f.Index(), nil
}

// waitApplied waits until this node's FSM has applied index, so a follower that
// forwarded a write reads it back from its own store.
func (n *Node) waitApplied(ctx context.Context, index uint64) error {
	deadline := time.Now().Add(n.cfg.ApplyTimeout)
	for n.raft.AppliedIndex() < index {
		if time.Now().After(deadline) {
			return unavailable(ErrNoLeader, "the write was committed, but this manager has not caught up with it yet (applied %d of %d)", n.raft.AppliedIndex(), index)
		}
		select {
		case <-ctx.Done():
			return unavailable(ctx.Err(), "the write was committed; gave up waiting for this manager to apply it: %v", ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// Barrier waits until every entry before it is applied to the leader's FSM,
// so a new leader reads a state with all committed writes. Leader only.
func (n *Node) Barrier(ctx context.Context) error {
	if !n.IsLeader() {
		return n.notLeaderError("a barrier")
	}
	timeout, err := n.timeout(ctx)
	if err != nil {
		return unavailable(err, "the barrier was not started: %v", err)
	}
	return n.raftError("waiting for the log to be applied", n.await(ctx, n.raft.Barrier(timeout)))
}

// WaitForLeader waits until some node (maybe this one) is known as leader.
func (n *Node) WaitForLeader(ctx context.Context) error {
	_, _, err := n.awaitLeader(ctx, 0)
	return err
}

// awaitLeader returns the known leader, waiting for one for at most patience
// (0 = as long as ctx allows).
func (n *Node) awaitLeader(ctx context.Context, patience time.Duration) (id, addr string, err error) {
	var expired <-chan time.Time
	if patience > 0 {
		t := time.NewTimer(patience)
		defer t.Stop()
		expired = t.C
	}
	// Observations can be dropped if raft outpaces watchLeader; looking
	// again every election timeout covers that.
	recheck := time.NewTicker(n.cfg.ElectionTimeout)
	defer recheck.Stop()
	for {
		changed := n.leaderChange()
		if id, addr := n.Leader(); id != "" {
			return id, addr, nil
		}
		select {
		case <-changed:
		case <-recheck.C:
		case <-expired:
			return "", "", n.noLeaderError()
		case <-ctx.Done():
			return "", "", unavailable(errors.Join(ErrNoLeader, ctx.Err()), "%s (gave up waiting: %v)", n.noLeaderError(), ctx.Err())
		case <-n.stop:
			return "", "", unavailable(hraft.ErrRaftShutdown, "this manager is shutting down")
		}
	}
}

// timeout is how long raft may take to queue an operation: ApplyTimeout,
// or less if ctx ends sooner.
func (n *Node) timeout(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	timeout := n.cfg.ApplyTimeout
	if deadline, ok := ctx.Deadline(); ok {
		left := time.Until(deadline)
		if left <= 0 {
			return 0, context.DeadlineExceeded
		}
		timeout = min(timeout, left)
	}
	return timeout, nil
}

// await waits for a raft future or ctx. Raft resolves every future, at the
// latest when it shuts down, so the helper goroutine always ends.
func (n *Node) await(ctx context.Context, f hraft.Future) error {
	if !n.track() {
		return hraft.ErrRaftShutdown
	}
	done := make(chan error, 1)
	go func() {
		defer n.wg.Done()
		done <- f.Error()
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return unavailable(ctx.Err(), "gave up waiting for raft (%v); the change may still be applied", ctx.Err())
	}
}

// forward hands cmd to the leader, giving up as soon as this node sees the leader change
// (a dead leader would otherwise hold the write until the transport times out).
func (n *Node) forward(ctx context.Context, id, addr string, cmd []byte) (uint64, error) {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	changed := n.leaderChange()
	if cur, _ := n.Leader(); cur != id {
		cancel()
	}
	go func() {
		select {
		case <-changed:
			cancel()
		case <-fctx.Done():
		}
	}()
	index, err := n.cfg.Forward(fctx, id, addr, cmd)
	if err != nil && ctx.Err() == nil && fctx.Err() != nil {
		return 0, unavailable(hraft.ErrLeadershipLost, "the leader (%s) changed while the write was on its way to it; it may or may not have been applied: check, then retry", id)
	}
	return index, err
}

// CaughtUp says whether this node knows a leader and has applied every entry it knows
// to be committed and every entry of its own log, so its reads are as fresh as a
// follower's can be.
func (n *Node) CaughtUp() bool {
	if id, _ := n.Leader(); id == "" {
		return false
	}
	commit, err := strconv.ParseUint(n.raft.Stats()["commit_index"], 10, 64)
	if err != nil {
		return false
	}
	// A restarted node holds entries in its log that it applies only once the leader tells
	// it they are committed; until then its store is older than its own log.
	return n.raft.AppliedIndex() >= max(commit, n.raft.LastIndex()) && (n.IsLeader() || !n.LastContact().IsZero())
}
