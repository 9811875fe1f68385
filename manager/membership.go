package manager

import (
	"context"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

// reconcileMembership keeps Raft's voters equal to the managers in the store: a node
// demoted to worker, or removed, gives its vote up. It runs on the leader only. A leader
// that is itself demoted hands leadership over first; the next leader removes it.
func (m *Manager) reconcileMembership(ctx context.Context) {
	for {
		m.reconcileMembershipOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-m.store.Changed():
		case <-time.After(time.Second):
		}
	}
}

func (m *Manager) reconcileMembershipOnce(ctx context.Context) {
	servers, err := m.raft.Servers()
	if err != nil {
		m.logger.Warn("reading raft configuration", "err", err)
		return
	}
	nodes := map[string]*swarm.Node{}
	for _, n := range m.store.Nodes() {
		nodes[n.ID] = n
	}
	for _, s := range servers {
		n := nodes[s.ID]
		if n != nil && n.Spec.Role == swarm.NodeRoleManager {
			continue
		}
		if s.ID == m.cfg.NodeID {
			m.logger.Info("this manager was demoted: handing leadership over")
			if err := m.raft.TransferLeadership(); err != nil {
				m.logger.Warn("leadership transfer failed", "err", err)
			}
			return
		}
		if err := m.raft.RemoveServer(ctx, s.ID); err != nil {
			m.logger.Warn("removing demoted manager from raft", "node", s.ID, "err", err)
			continue
		}
		m.logger.Info("manager left raft", "node", s.ID)
	}
	// Workers keep no manager status once they are out of raft.
	voters := map[string]bool{}
	for _, s := range servers {
		voters[s.ID] = true
	}
	for _, n := range nodes {
		if n.Spec.Role == swarm.NodeRoleWorker && n.ManagerStatus != nil && !voters[n.ID] {
			err := m.store.UpdateNode(ctx, n.ID, func(n *swarm.Node) error {
				if n.Spec.Role != swarm.NodeRoleWorker || n.ManagerStatus == nil {
					return errNoChange
				}
				n.ManagerStatus = nil
				return nil
			})
			if err != nil && err != errNoChange && ctx.Err() == nil {
				m.logger.Warn("clearing manager status", "node", n.ID, "err", err)
			}
		}
	}
}
