package daemon

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/api"
	"github.com/shoal/shoal/ca"
	"github.com/shoal/shoal/clusterapi"
	"github.com/shoal/shoal/internal/apierr"
	"github.com/shoal/shoal/internal/ids"
	"github.com/shoal/shoal/manager"
	"github.com/shoal/shoal/manager/controlapi"
	"github.com/shoal/shoal/manager/dispatcher"
	"github.com/shoal/shoal/manager/store"
	"github.com/shoal/shoal/network/netns"
	"github.com/shoal/shoal/network/overlay"
)

const (
	defaultListenAddr       = "0.0.0.0:2377"
	defaultTaskHistoryLimit = 5
	minCertExpiry           = 30 * time.Second // Docker's floor is 1h; ours is lower so tests can watch renewals
	minHeartbeatPeriod      = 100 * time.Millisecond
)

var errAlreadyInSwarm = apierr.Unavailablef(`This node is already part of a swarm. Use "shoal swarm leave" to leave this swarm and join another one.`)

// SwarmInit makes this node the first manager of a new swarm (or, with ForceNewCluster,
// recovers a lone surviving manager with all its state).
func (d *Daemon) SwarmInit(ctx context.Context, req swarm.InitRequest) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if req.ForceNewCluster && d.state != nil && d.state.Role == swarm.NodeRoleManager {
		return d.forceNewClusterLocked(ctx)
	}
	if d.state != nil {
		return "", errAlreadyInSwarm
	}
	spec, err := initSpec(req.Spec)
	if err != nil {
		return "", err
	}
	availability, err := checkAvailability(req.Availability)
	if err != nil {
		return "", err
	}
	listen, advertise, err := resolveAddrs(req.ListenAddr, req.AdvertiseAddr, "")
	if err != nil {
		return "", err
	}
	now := d.cfg.Clock.Now()
	root, err := ca.NewRootCA(now)
	if err != nil {
		return "", err
	}
	workerToken, err := ca.NewJoinToken(root.CertPEM, rand.Reader)
	if err != nil {
		return "", err
	}
	managerToken, err := ca.NewJoinToken(root.CertPEM, rand.Reader)
	if err != nil {
		return "", err
	}
	clusterID, nodeID := ids.New(), ids.New()
	key, keyPEM, err := ca.NewNodeKey()
	if err != nil {
		return "", err
	}
	csr, err := ca.NewCSR(key)
	if err != nil {
		return "", err
	}
	certPEM, err := root.IssueNodeCert(csr, ca.NodeIdentity{NodeID: nodeID, Role: ca.ManagerRole, ClusterID: clusterID}, now, spec.CAConfig.NodeCertExpiry)
	if err != nil {
		return "", err
	}
	creds, err := ca.NewCredentials(root, certPEM, keyPEM)
	if err != nil {
		return "", err
	}
	cluster := &store.Cluster{RootCACertPEM: root.CertPEM, RootCAKeyPEM: root.KeyPEM}
	cluster.ID = clusterID
	cluster.Spec = spec
	cluster.TLSInfo = manager.TLSInfo(root)
	cluster.JoinTokens = swarm.JoinTokens{Worker: workerToken, Manager: managerToken}
	cluster.DataPathPort = 4789
	cluster.SubnetSize = 24
	if req.SubnetSize != 0 {
		cluster.SubnetSize = req.SubnetSize
	}
	cluster.DefaultAddrPool = req.DefaultAddrPool
	if len(cluster.DefaultAddrPool) == 0 {
		cluster.DefaultAddrPool = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	}
	ingress, err := controlapi.NewNetwork(network.CreateRequest{Name: "ingress", Ingress: true}, nil, cluster.DefaultAddrPool, cluster.SubnetSize)
	if err != nil {
		return "", err
	}
	d.nodeAddr.Store(advertise)
	node := &swarm.Node{
		ID:            nodeID,
		Spec:          swarm.NodeSpec{Role: swarm.NodeRoleManager, Availability: availability},
		Description:   d.describe(),
		Status:        swarm.NodeStatus{State: swarm.NodeStateReady, Addr: hostOf(advertise)},
		ManagerStatus: &swarm.ManagerStatus{Addr: advertise, Reachability: swarm.ReachabilityReachable},
	}
	node.Description.TLSInfo = cluster.TLSInfo

	d.state = &nodeState{
		NodeID: nodeID, ClusterID: clusterID, Role: swarm.NodeRoleManager,
		ListenAddr: listen, AdvertiseAddr: advertise,
		Managers:        []swarm.Peer{{NodeID: nodeID, Addr: advertise}},
		HeartbeatPeriod: spec.Dispatcher.HeartbeatPeriod,
	}
	d.creds = creds
	fail := func(err error) (string, error) {
		d.stopNodeLocked()
		d.state, d.creds = nil, nil
		_ = os.RemoveAll(d.swarmDir())
		return "", err
	}
	if err := ca.SaveNodeCredentials(d.certDir(), root.CertPEM, certPEM, keyPEM); err != nil {
		return fail(err)
	}
	if err := d.startManagerLocked(&manager.Bootstrap{Cluster: cluster, Node: node, Networks: []*swarm.Network{ingress}}, false); err != nil {
		return fail(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := d.mgr.WaitReady(wctx); err != nil {
		return fail(err)
	}
	if err := d.saveState(d.state); err != nil {
		return fail(err)
	}
	d.startAgentLocked()
	d.logger.Info("swarm initialized", "node", nodeID, "cluster", clusterID, "advertise", advertise)
	return nodeID, nil
}

// forceNewClusterLocked restarts this manager as the only member of its swarm, keeping
// all state.
func (d *Daemon) forceNewClusterLocked(ctx context.Context) (string, error) {
	d.stopNodeLocked()
	d.swarmErr = ""
	if d.creds == nil {
		if err := d.loadCredsLocked(); err != nil {
			return "", err
		}
	}
	if err := d.startManagerLocked(nil, true); err != nil {
		return "", fmt.Errorf("recovering the swarm with --force-new-cluster: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := d.mgr.WaitReady(wctx); err != nil {
		return "", err
	}
	d.state.Managers = []swarm.Peer{{NodeID: d.state.NodeID, Addr: d.state.AdvertiseAddr}}
	if err := d.saveState(d.state); err != nil {
		return "", err
	}
	d.startAgentLocked()
	d.logger.Warn("swarm recovered with --force-new-cluster: this manager is now the only raft member")
	return d.state.NodeID, nil
}

func (d *Daemon) loadCredsLocked() error {
	rootPEM, certPEM, keyPEM, err := ca.LoadNodeCredentials(d.certDir())
	if err != nil {
		return fmt.Errorf("loading node certificate: %w", err)
	}
	root, err := ca.ParseRootCA(rootPEM, nil)
	if err != nil {
		return err
	}
	d.creds, err = ca.NewCredentials(root, certPEM, keyPEM)
	return err
}

// SwarmJoin joins an existing swarm through one of its managers. A refused join leaves
// nothing behind.
func (d *Daemon) SwarmJoin(ctx context.Context, req swarm.JoinRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state != nil {
		return errAlreadyInSwarm
	}
	if len(req.RemoteAddrs) == 0 {
		return apierr.Invalidf("at least one manager address is needed to join (HOST:PORT)")
	}
	token, err := ca.ParseJoinToken(req.JoinToken)
	if err != nil {
		return apierr.Invalidf("%v", err) // ParseJoinToken's message starts with "invalid join token"
	}
	availability, err := checkAvailability(req.Availability)
	if err != nil {
		return err
	}
	key, keyPEM, err := ca.NewNodeKey()
	if err != nil {
		return err
	}
	csr, err := ca.NewCSR(key)
	if err != nil {
		return err
	}
	client := clusterapi.NewClient(ca.PinnedClientTLSConfig(token.CADigest, clusterapi.ProtoAPI))
	defer client.Close()
	var (
		resp    clusterapi.JoinResponse
		lastErr error
		listen  string
		adv     string
	)
	for _, remote := range req.RemoteAddrs {
		remote = withDefaultPort(remote)
		listen, adv, err = resolveAddrs(req.ListenAddr, req.AdvertiseAddr, remote)
		if err != nil {
			return err
		}
		d.nodeAddr.Store(adv)
		jr := clusterapi.JoinRequest{Token: req.JoinToken, CSRPEM: csr, AdvertiseAddr: adv, Availability: availability, Description: d.describe()}
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		lastErr = client.Call(cctx, remote, clusterapi.PathJoin, jr, &resp)
		cancel()
		if errors.Is(lastErr, ca.ErrDigestMismatch) {
			// Reached, but not the swarm the token is for: the token is wrong (or this
			// manager is an impostor). Say so rather than "cannot reach"; try the others.
			lastErr = apierr.Invalidf("refused to join through %s: %w", remote, ca.ErrDigestMismatch)
			continue
		}
		if lastErr == nil || apierr.KindOf(lastErr) == apierr.KindInvalid || apierr.KindOf(lastErr) == apierr.KindForbidden {
			break
		}
	}
	if lastErr != nil {
		return joinError(lastErr)
	}
	root, err := ca.ParseRootCA(resp.RootCAPEM, nil)
	if err != nil {
		return err
	}
	creds, err := ca.NewCredentials(root, resp.CertPEM, keyPEM)
	if err != nil {
		return err
	}
	d.creds = creds
	d.state = &nodeState{
		NodeID: resp.NodeID, ClusterID: resp.ClusterID, Role: resp.Role,
		ListenAddr: listen, AdvertiseAddr: adv, Managers: resp.Managers,
		HeartbeatPeriod: resp.HeartbeatPeriod,
	}
	fail := func(err error) error {
		d.stopNodeLocked()
		d.state, d.creds = nil, nil
		_ = os.RemoveAll(d.swarmDir())
		return err
	}
	if err := ca.SaveNodeCredentials(d.certDir(), resp.RootCAPEM, resp.CertPEM, keyPEM); err != nil {
		return fail(err)
	}
	if resp.Role == swarm.NodeRoleManager {
		if err := d.startManagerLocked(nil, false); err != nil {
			return fail(err)
		}
		jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := d.mgr.JoinRaft(jctx, resp.Managers); err != nil {
			return fail(err)
		}
		if err := d.mgr.WaitReady(jctx); err != nil {
			return fail(err)
		}
	}
	if resp.Role != swarm.NodeRoleManager {
		if err := d.startNodePortLocked(); err != nil {
			return fail(err)
		}
	}
	if err := d.saveState(d.state); err != nil {
		return fail(err)
	}
	d.startAgentLocked()
	d.logger.Info("joined swarm", "node", resp.NodeID, "role", resp.Role, "cluster", resp.ClusterID)
	return nil
}

func joinError(err error) error {
	msg := err.Error()
	if apierr.KindOf(err) == apierr.KindUnknown || apierr.KindOf(err) == apierr.KindUnavailable {
		return apierr.Unavailablef("cannot join the swarm: %s", msg)
	}
	return err
}

// SwarmLeave takes this node out of its swarm and forgets the membership.
func (d *Daemon) SwarmLeave(ctx context.Context, force bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == nil {
		return apierr.Unavailablef("This node is not part of a swarm")
	}
	if d.state.Role == swarm.NodeRoleManager && !force && d.state.Removed == "" {
		return apierr.Unavailablef("%s", d.leaveWarningLocked())
	}
	d.stopNodeLocked()
	d.removeTaskContainers(ctx)
	if err := os.RemoveAll(d.swarmDir()); err != nil {
		return fmt.Errorf("removing swarm state: %w", err)
	}
	d.state, d.creds, d.swarmErr = nil, nil, ""
	d.logger.Info("left the swarm")
	return nil
}

// removeTaskContainers kills and removes every container of this node's tasks, as docker
// does when a node leaves: no manager will ever tell this node about them again, and the
// cluster has already rescheduled them elsewhere. The agent is stopped, so none of them is
// in use. A container that cannot be removed is logged, not fatal to leaving.
func (d *Daemon) removeTaskContainers(ctx context.Context) {
	if d.executor == nil {
		return
	}
	containers, err := d.executor.List(ctx)
	if err != nil {
		d.logger.Warn("listing task containers to remove on leave", "err", err)
		return
	}
	for _, c := range containers {
		ctrl, err := d.executor.Controller(&swarm.Task{ID: c.ID})
		if err == nil {
			err = ctrl.Remove(ctx)
			ctrl.Close()
		}
		if err != nil {
			d.logger.Warn("removing a task container on leave", "container", c.ID, "err", err)
		}
	}
	// Then the node's overlay networks and the namespaces it made for tasks and the mesh.
	if d.overlay != nil {
		if _, err := overlay.Reconcile(d.overlay, overlay.Desired{}); err != nil {
			d.logger.Warn("removing overlay networks on leave", "err", err)
		}
	}
	names, _ := netns.List(d.cfg.NetnsPrefix)
	for _, name := range names {
		if strings.HasPrefix(name, d.cfg.NetnsPrefix+"t") || name == d.cfg.NetnsPrefix+"ingress" {
			if err := netns.Delete(name); err != nil {
				d.logger.Warn("removing a task namespace on leave", "netns", name, "err", err)
			}
		}
	}
}

// leaveWarningLocked is Docker's refusal text for a manager leaving without --force.
func (d *Daemon) leaveWarningLocked() string {
	const prefix = "You are attempting to leave the swarm on a node that is participating as a manager. "
	managers, reachable := 1, 1
	if d.mgr != nil {
		managers, reachable = 0, 0
		for _, n := range d.mgr.Store().Nodes() {
			if n.ManagerStatus != nil {
				managers++
				if n.ManagerStatus.Reachability == swarm.ReachabilityReachable {
					reachable++
				}
			}
		}
	}
	if managers <= 1 {
		return prefix + "Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message."
	}
	if reachable-1 < managers/2+1 {
		return prefix + fmt.Sprintf("Removing this node leaves %d managers out of %d. Without a Raft quorum your swarm will be inaccessible. The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message.", reachable-1, managers)
	}
	return prefix + fmt.Sprintf("Removing this node leaves %d managers out of %d, which keeps the Raft quorum, but the swarm will have fewer managers to tolerate failures. Demote it first with 'shoal node demote', or use `--force` to leave anyway.", reachable-1, managers)
}

// SwarmInspect returns the swarm as Docker shows it (managers only).
func (d *Daemon) SwarmInspect(ctx context.Context) (swarm.Swarm, error) {
	m, err := d.manager()
	if err != nil {
		return swarm.Swarm{}, err
	}
	c, err := m.Store().Cluster()
	if err != nil {
		return swarm.Swarm{}, err
	}
	return c.Swarm, nil
}

// SwarmUpdate changes the swarm's spec and rotates tokens.
func (d *Daemon) SwarmUpdate(ctx context.Context, version uint64, spec swarm.Spec, flags api.SwarmUpdateFlags) error {
	m, err := d.manager()
	if err != nil {
		return err
	}
	if err := validateSpec(spec); err != nil {
		return err
	}
	c, err := m.Store().Cluster()
	if err != nil {
		return err
	}
	if c.Version.Index != version {
		return apierr.Conflictf("update out of sequence: the swarm is at version %d, the update was made against version %d; inspect it again and retry", c.Version.Index, version)
	}
	spec = withSpecDefaults(spec)
	c.Spec = spec
	if flags.RotateWorkerToken {
		if c.JoinTokens.Worker, err = ca.NewJoinToken(c.RootCACertPEM, rand.Reader); err != nil {
			return err
		}
	}
	if flags.RotateManagerToken {
		if c.JoinTokens.Manager, err = ca.NewJoinToken(c.RootCACertPEM, rand.Reader); err != nil {
			return err
		}
	}
	if flags.RotateManagerUnlockKey {
		return apierr.NotImplementedf("autolock and unlock keys are not implemented yet")
	}
	return m.Store().Write(ctx, store.Action{Op: store.OpUpdate, Cluster: c})
}

// SwarmUnlockKey answers as Docker does for a swarm without autolock.
func (d *Daemon) SwarmUnlockKey(ctx context.Context) (swarm.UnlockKeyResponse, error) {
	if _, err := d.manager(); err != nil {
		return swarm.UnlockKeyResponse{}, err
	}
	return swarm.UnlockKeyResponse{}, nil
}

// SwarmUnlock answers as Docker does for a swarm that is not locked.
func (d *Daemon) SwarmUnlock(ctx context.Context, req swarm.UnlockRequest) error {
	return apierr.Invalidf("swarm is not locked!")
}

// initSpec fills the reference's defaults into a spec from swarm init.
func initSpec(spec swarm.Spec) (swarm.Spec, error) {
	if err := validateSpec(spec); err != nil {
		return spec, err
	}
	if spec.Name == "" {
		spec.Name = "default"
	}
	return withSpecDefaults(spec), nil
}

func withSpecDefaults(spec swarm.Spec) swarm.Spec {
	if spec.Orchestration.TaskHistoryRetentionLimit == nil {
		v := int64(defaultTaskHistoryLimit)
		spec.Orchestration.TaskHistoryRetentionLimit = &v
	}
	if spec.Dispatcher.HeartbeatPeriod == 0 {
		spec.Dispatcher.HeartbeatPeriod = dispatcher.DefaultHeartbeatPeriod
	}
	if spec.CAConfig.NodeCertExpiry == 0 {
		spec.CAConfig.NodeCertExpiry = manager.DefaultCertExpiry
	}
	if spec.Raft.SnapshotInterval == 0 {
		spec.Raft.SnapshotInterval = 10000
	}
	if spec.Raft.KeepOldSnapshots == nil {
		v := uint64(0)
		spec.Raft.KeepOldSnapshots = &v
	}
	if spec.Raft.LogEntriesForSlowFollowers == 0 {
		spec.Raft.LogEntriesForSlowFollowers = 500
	}
	if spec.Raft.HeartbeatTick == 0 {
		spec.Raft.HeartbeatTick = 1
	}
	if spec.Raft.ElectionTick == 0 {
		spec.Raft.ElectionTick = 10
	}
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	return spec
}

func validateSpec(spec swarm.Spec) error {
	if hb := spec.Dispatcher.HeartbeatPeriod; hb != 0 && hb < minHeartbeatPeriod {
		return apierr.Invalidf("invalid dispatcher heartbeat period %s: must be at least %s", hb, minHeartbeatPeriod)
	}
	if exp := spec.CAConfig.NodeCertExpiry; exp != 0 && exp < minCertExpiry {
		return apierr.Invalidf("invalid certificate expiry %s: must be at least %s", exp, minCertExpiry)
	}
	if l := spec.Orchestration.TaskHistoryRetentionLimit; l != nil && *l < 0 {
		return apierr.Invalidf("invalid task history retention limit %d: must be 0 or more", *l)
	}
	if len(spec.CAConfig.ExternalCAs) > 0 || spec.CAConfig.SigningCACert != "" {
		return apierr.NotImplementedf("external CAs and custom root CAs are not implemented yet")
	}
	if spec.EncryptionConfig.AutoLockManagers {
		return apierr.NotImplementedf("autolock is not implemented yet")
	}
	return nil
}

func checkAvailability(a swarm.NodeAvailability) (swarm.NodeAvailability, error) {
	switch a {
	case "":
		return swarm.NodeAvailabilityActive, nil
	case swarm.NodeAvailabilityActive, swarm.NodeAvailabilityPause, swarm.NodeAvailabilityDrain:
		return a, nil
	}
	return "", apierr.Invalidf("invalid availability %q: must be active, pause or drain", a)
}

func withDefaultPort(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(addr, "2377")
}

// resolveAddrs works out the listen and advertise addresses as Docker does: the listen
// address defaults to 0.0.0.0:2377; the advertise address defaults to the listen host
// when it is specific, else to the address this machine uses to reach remote (on join),
// else to the machine's only non-loopback address.
func resolveAddrs(listen, advertise, remote string) (string, string, error) {
	if listen == "" {
		listen = defaultListenAddr
	}
	lhost, lport, err := net.SplitHostPort(withDefaultPort(listen))
	if err != nil {
		return "", "", apierr.Invalidf("invalid listen address %q: must be HOST:PORT", listen)
	}
	if p, err := strconv.Atoi(lport); err != nil || p <= 0 || p > 65535 {
		return "", "", apierr.Invalidf("invalid listen address %q: port must be 1-65535", listen)
	}
	listen = net.JoinHostPort(lhost, lport)
	if advertise != "" {
		ahost, aport, err := net.SplitHostPort(advertise)
		if err != nil {
			ahost, aport = advertise, lport
		}
		if ip := net.ParseIP(ahost); ip == nil {
			if ip, err := interfaceAddr(ahost); err == nil {
				ahost = ip
			} else {
				return "", "", apierr.Invalidf("invalid advertise address %q: must be an IP address or an interface name, with an optional port", advertise)
			}
		}
		return listen, net.JoinHostPort(ahost, aport), nil
	}
	if ip := net.ParseIP(lhost); ip != nil && !ip.IsUnspecified() {
		return listen, net.JoinHostPort(lhost, lport), nil
	}
	if remote != "" {
		c, err := net.DialTimeout("udp", remote, time.Second)
		if err == nil {
			local := c.LocalAddr().(*net.UDPAddr).IP.String()
			c.Close()
			return listen, net.JoinHostPort(local, lport), nil
		}
	}
	ip, err := onlyAddress()
	if err != nil {
		return "", "", err
	}
	return listen, net.JoinHostPort(ip, lport), nil
}

func interfaceAddr(name string) (string, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return "", err
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String(), nil
		}
	}
	return "", errors.New("no IPv4 address")
}

// onlyAddress is the machine's single non-loopback IPv4 address, or Docker's error.
func onlyAddress() (string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	var found []string
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagLoopback != 0 || ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
				found = append(found, fmt.Sprintf("%s on %s", ipn.IP, ifc.Name))
				if len(found) == 1 {
					found[0] = ipn.IP.String() + " on " + ifc.Name
				}
			}
		}
	}
	switch len(found) {
	case 0:
		return "", apierr.Invalidf("could not find an IP address to advertise: the machine has no non-loopback IPv4 address; use --advertise-addr")
	case 1:
		host, _, _ := cutOn(found[0])
		return host, nil
	}
	return "", apierr.Invalidf("could not choose an IP address to advertise since this system has multiple addresses (%s and %s); use --advertise-addr to choose one", found[0], found[1])
}

func cutOn(s string) (string, string, bool) {
	for i := 0; i+4 <= len(s); i++ {
		if s[i:i+4] == " on " {
			return s[:i], s[i+4:], true
		}
	}
	return s, "", false
}
