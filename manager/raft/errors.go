package raft

import (
	"errors"
	"fmt"

	hraft "github.com/hashicorp/raft"

	"github.com/shoal/shoal/internal/apierr"
)

var (
	// ErrNoLeader is the cause of the error Propose returns when no leader
	// appeared in time: quorum is lost or an election is running.
	ErrNoLeader = errors.New("no raft leader")

	// ErrNotLeader is the cause of errors from leader-only operations
	// called on a follower. It is hashicorp/raft's, so both match.
	ErrNotLeader = hraft.ErrNotLeader
)

// unavailable makes an apierr Unavailable error whose message is the
// format's and whose cause (for errors.Is) is cause.
func unavailable(cause error, format string, args ...any) error {
	return &apierr.Error{Kind: apierr.KindUnavailable, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// noLeaderError explains a write refused for want of a leader, with the
// numbers a user needs to judge how far the swarm is from quorum.
func (n *Node) noLeaderError() error {
	voters, err := n.voterCount()
	switch {
	case err != nil:
		return unavailable(ErrNoLeader, "the swarm has no leader: quorum lost or an election is in progress; writes are refused until a majority of managers is reachable")
	case voters == 0:
		return unavailable(ErrNoLeader, "the swarm has no leader that this manager knows of: it is not in the raft configuration yet (not joined, or removed); writes are refused until it is added")
	}
	return unavailable(ErrNoLeader, "the swarm has no leader: quorum lost or an election is in progress (%d managers in the configuration, a majority of %d is needed); writes are refused until a majority of managers is reachable", voters, voters/2+1)
}

// notLeaderError refuses a leader-only operation on a follower.
func (n *Node) notLeaderError(op string) error {
	if id, addr := n.Leader(); id != "" {
		return unavailable(ErrNotLeader, "%s must be done on the leader: this manager (%s) is not the leader, %s at %s is", op, n.cfg.ID, id, addr)
	}
	return unavailable(ErrNotLeader, "%s must be done on the leader: this manager (%s) is not the leader, and no leader is known (quorum lost or an election is in progress)", op, n.cfg.ID)
}

// raftError turns an error from a raft future into one a user can act on;
// every failure that waiting or retrying can cure becomes Unavailable. op
// says what was being done ("committing the write").
func (n *Node) raftError(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, hraft.ErrNotLeader):
		return unavailable(err, "%s failed: this manager stopped being the leader first; retry, the new leader will take it", op)
	case errors.Is(err, hraft.ErrLeadershipLost):
		return unavailable(err, "%s failed: this manager lost leadership before a majority of managers confirmed it (quorum lost, or a new election); the change may or may not have been applied, check before retrying", op)
	case errors.Is(err, hraft.ErrLeadershipTransferInProgress):
		return unavailable(err, "%s failed: leadership is being handed to another manager; retry in a moment", op)
	case errors.Is(err, hraft.ErrEnqueueTimeout):
		return unavailable(err, "%s failed: the leader could not queue it in time (overloaded or stepping down); retry", op)
	case errors.Is(err, hraft.ErrAbortedByRestore):
		return unavailable(err, "%s failed: this manager was restoring a snapshot from the leader and dropped it; retry", op)
	case errors.Is(err, hraft.ErrRaftShutdown):
		return unavailable(err, "%s failed: this manager is shutting down", op)
	}
	return fmt.Errorf("%s: %w", op, err)
}
