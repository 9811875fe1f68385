package raft

import "fmt"

// TransferLeadership asks raft to hand leadership to another voter (a demoted leader
// calls it so the next leader can remove it). It returns once the transfer is done or
// has failed.
func (n *Node) TransferLeadership() error {
	if err := n.raft.LeadershipTransfer().Error(); err != nil {
		return fmt.Errorf("transferring leadership: %w", err)
	}
	return nil
}
