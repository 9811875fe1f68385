package raft

import (
	"context"
	"fmt"

	hraft "github.com/hashicorp/raft"

	"github.com/shoal/shoal/internal/apierr"
)

// AddVoter makes the manager id at addr a voter. Leader only. It returns
// once the new configuration is committed; the new member catches up after.
// Adding a voter already at addr does nothing; one at another address
// moves it.
func (n *Node) AddVoter(ctx context.Context, id, addr string) error {
	if id == "" || addr == "" {
		return apierr.Invalidf("adding a manager to raft needs its node ID and address, got ID %q and address %q", id, addr)
	}
	op := fmt.Sprintf("adding manager %s at %s", id, addr)
	if !n.IsLeader() {
		return n.notLeaderError(op)
	}
	servers, err := n.Servers()
	if err != nil {
		return err
	}
	for _, s := range servers {
		if s.ID == id && s.Addr == addr && s.Voter {
			return nil
		}
	}
	timeout, err := n.timeout(ctx)
	if err != nil {
		return unavailable(err, "%s: %v", op, err)
	}
	f := n.raft.AddVoter(hraft.ServerID(id), hraft.ServerAddress(addr), 0, timeout)
	return n.raftError(op, n.await(ctx, f))
}

// RemoveServer removes the manager id from the configuration. Leader only.
// Removing one that is not there does nothing. A leader that removes itself
// steps down once the change is committed.
func (n *Node) RemoveServer(ctx context.Context, id string) error {
	if id == "" {
		return apierr.Invalidf("removing a manager from raft needs its node ID")
	}
	op := "removing manager " + id
	if !n.IsLeader() {
		return n.notLeaderError(op)
	}
	servers, err := n.Servers()
	if err != nil {
		return err
	}
	found := false
	for _, s := range servers {
		found = found || s.ID == id
	}
	if !found {
		return nil
	}
	timeout, err := n.timeout(ctx)
	if err != nil {
		return unavailable(err, "%s: %v", op, err)
	}
	f := n.raft.RemoveServer(hraft.ServerID(id), 0, timeout)
	return n.raftError(op, n.await(ctx, f))
}

// Servers returns the latest configuration this node knows, which may not be
// committed yet.
func (n *Node) Servers() ([]Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, n.raftError("reading the raft configuration", err)
	}
	cfg := f.Configuration()
	servers := make([]Server, 0, len(cfg.Servers))
	for _, s := range cfg.Servers {
		servers = append(servers, Server{ID: string(s.ID), Addr: string(s.Address), Voter: s.Suffrage == hraft.Voter})
	}
	return servers, nil
}

// voterCount is how many voters the configuration has.
func (n *Node) voterCount() (int, error) {
	servers, err := n.Servers()
	if err != nil {
		return 0, err
	}
	voters := 0
	for _, s := range servers {
		if s.Voter {
			voters++
		}
	}
	return voters, nil
}
