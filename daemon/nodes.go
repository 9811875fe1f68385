package daemon

import (
	"context"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/api"
	"github.com/shoal/shoal/internal/apierr"
	"github.com/shoal/shoal/manager"
	"github.com/shoal/shoal/manager/store"
)

// NodeList lists the swarm's nodes matching filters (managers only).
func (d *Daemon) NodeList(ctx context.Context, f api.NodeListFilters) ([]swarm.Node, error) {
	m, err := d.manager()
	if err != nil {
		return nil, err
	}
	var out []swarm.Node
	for _, n := range m.Store().Nodes() {
		if nodeMatches(n, f) {
			out = append(out, presentNode(m, n))
		}
	}
	return out, nil
}

// presentNode fills in what is derived at read time: which manager leads.
func presentNode(m *manager.Manager, n *swarm.Node) swarm.Node {
	if n.ManagerStatus != nil {
		n.ManagerStatus.Leader = n.ID == m.LeaderID()
		if n.ManagerStatus.Leader {
			n.ManagerStatus.Reachability = swarm.ReachabilityReachable
		}
	}
	return *n
}

// nodeMatches applies Docker's node filters: each filter given must match one of its values.
func nodeMatches(n *swarm.Node, f api.NodeListFilters) bool {
	return anyOf(f.ID, func(v string) bool { return strings.HasPrefix(n.ID, v) }) &&
		anyOf(f.Name, func(v string) bool { return strings.HasPrefix(n.Description.Hostname, v) }) &&
		anyOf(f.Role, func(v string) bool { return string(n.Spec.Role) == v }) &&
		anyOf(f.Membership, func(v string) bool { return v == "accepted" }) &&
		anyOf(f.Label, labelMatch(n.Description.Engine.Labels)) &&
		anyOf(f.NodeLabel, labelMatch(n.Spec.Labels))
}

// anyOf is true when no values were given or one of them matches.
func anyOf(values []string, match func(string) bool) bool {
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		if match(v) {
			return true
		}
	}
	return false
}

// labelMatch matches "key" (present) or "key=value".
func labelMatch(labels map[string]string) func(string) bool {
	return func(v string) bool {
		k, want, hasValue := strings.Cut(v, "=")
		got, ok := labels[k]
		return ok && (!hasValue || got == want)
	}
}

// resolveNode finds a node by full ID, unique ID prefix, or unique hostname.
func resolveNode(st *store.Store, ref string) (*swarm.Node, error) {
	if ref == "" {
		return nil, apierr.Invalidf("a node ID or hostname is required")
	}
	if n, err := st.Node(ref); err == nil {
		return n, nil
	}
	var byPrefix, byName []*swarm.Node
	for _, n := range st.Nodes() {
		if strings.HasPrefix(n.ID, ref) {
			byPrefix = append(byPrefix, n)
		}
		if n.Description.Hostname == ref {
			byName = append(byName, n)
		}
	}
	for _, found := range [][]*swarm.Node{byName, byPrefix} {
		switch len(found) {
		case 0:
			continue
		case 1:
			return found[0], nil
		default:
			return nil, apierr.Conflictf("node %s is ambiguous (%d matches found)", ref, len(found))
		}
	}
	return nil, apierr.NotFoundf("No such node: %s", ref)
}

// NodeInspect returns one node.
func (d *Daemon) NodeInspect(ctx context.Context, ref string) (swarm.Node, error) {
	m, err := d.manager()
	if err != nil {
		return swarm.Node{}, err
	}
	n, err := resolveNode(m.Store(), ref)
	if err != nil {
		return swarm.Node{}, err
	}
	return presentNode(m, n), nil
}

// NodeUpdate replaces a node's spec (role, availability, labels, name) at version.
func (d *Daemon) NodeUpdate(ctx context.Context, ref string, version uint64, spec swarm.NodeSpec) error {
	m, err := d.manager()
	if err != nil {
		return err
	}
	n, err := resolveNode(m.Store(), ref)
	if err != nil {
		return err
	}
	if spec.Availability, err = checkAvailability(spec.Availability); err != nil {
		return err
	}
	switch spec.Role {
	case swarm.NodeRoleManager, swarm.NodeRoleWorker:
	case "":
		spec.Role = n.Spec.Role
	default:
		return apierr.Invalidf("invalid role %q: must be worker or manager", spec.Role)
	}
	if n.Version.Index != version {
		return apierr.Conflictf("update out of sequence: node %s is at version %d, the update was made against version %d; inspect it again and retry", n.ID, n.Version.Index, version)
	}
	if n.Spec.Role == swarm.NodeRoleManager && spec.Role == swarm.NodeRoleWorker {
		if err := checkDemotion(m, n); err != nil {
			return err
		}
	}
	n.Spec = spec
	return m.Store().Write(ctx, store.Action{Op: store.OpUpdate, Node: n})
}

// checkDemotion refuses to demote the last manager or to break quorum.
func checkDemotion(m *manager.Manager, target *swarm.Node) error {
	managers, reachable := 0, 0
	for _, n := range m.Store().Nodes() {
		if n.Spec.Role != swarm.NodeRoleManager {
			continue
		}
		managers++
		if n.ID == m.LeaderID() || (n.ManagerStatus != nil && n.ManagerStatus.Reachability == swarm.ReachabilityReachable) {
			reachable++
		}
	}
	if managers <= 1 {
		return apierr.Forbiddenf("attempting to demote the last manager of the swarm")
	}
	targetReachable := target.ID == m.LeaderID() || (target.ManagerStatus != nil && target.ManagerStatus.Reachability == swarm.ReachabilityReachable)
	after := reachable
	if targetReachable {
		after--
	}
	if after < (managers-1)/2+1 {
		return apierr.Forbiddenf("can't demote %s: the remaining %d reachable managers of %d would not be a raft quorum", target.ID, after, managers-1)
	}
	return nil
}

// NodeRemove removes a node from the swarm; its certificate is refused from then on.
func (d *Daemon) NodeRemove(ctx context.Context, ref string, force bool) error {
	m, err := d.manager()
	if err != nil {
		return err
	}
	n, err := resolveNode(m.Store(), ref)
	if err != nil {
		return err
	}
	if n.Spec.Role == swarm.NodeRoleManager || n.ManagerStatus != nil {
		return apierr.Forbiddenf("node %s is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal", n.ID)
	}
	if n.Status.State != swarm.NodeStateDown && !force {
		return apierr.Forbiddenf("node %s is not down and can't be removed. Use --force to remove it anyway (the node will be refused from then on)", n.ID)
	}
	return m.Store().Write(ctx,
		store.Action{Op: store.OpDelete, Node: n},
		store.Action{Op: store.OpCreate, RemovedNode: &store.RemovedNode{ID: n.ID, RemovedAt: d.cfg.Clock.Now().UTC()}})
}

// sortedPeers returns managers sorted by address (for Info).
func sortedPeers(nodes []*swarm.Node) []swarm.Peer {
	var peers []swarm.Peer
	for _, n := range nodes {
		if n.ManagerStatus != nil && n.Spec.Role == swarm.NodeRoleManager {
			peers = append(peers, swarm.Peer{NodeID: n.ID, Addr: n.ManagerStatus.Addr})
		}
	}
	sort.Slice(peers, func(i, j int) bool { return peers[i].Addr < peers[j].Addr })
	return peers
}
