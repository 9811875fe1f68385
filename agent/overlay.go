package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/clusterapi"
	"github.com/shoal/shoal/network/dns"
	"github.com/shoal/shoal/network/netns"
	"github.com/shoal/shoal/network/overlay"
	"github.com/shoal/shoal/network/vip"
)

// OverlayConfig lets a worker wire its tasks to their overlay networks.
type OverlayConfig struct {
	Kernel      overlay.Kernel // the node's data plane (network/overlay over netlink)
	UnderlayIP  netip.Addr     // this node's address, its VXLAN endpoint
	NetnsPrefix string         // task namespaces are <prefix>t<first 12 of the task ID>
	Logger      *slog.Logger
}

// plumbing is the worker's view of what its tasks need from the overlay. Every change
// ends in a Reconcile of the whole node, so nothing stale survives a task moving.
type plumbing struct {
	cfg OverlayConfig

	mu          sync.Mutex // guards the fields below and serialises reconciles
	networks    map[string]clusterapi.OverlayNetwork
	peers       []clusterapi.OverlayPeer
	local       map[string]localTask // task ID → its namespace and attachments
	names       *dns.Table           // what the tasks' resolvers answer
	records     dns.Records          // the same, as the managers sent it (VIPs and their tasks)
	servers     map[string]*taskResolver
	vipRules    map[string]string        // task ID → the VIP rule set installed in its namespace
	vipApplied  map[string][]vip.Service // task ID → the VIPs and backends of that rule set
	mesh        map[string]*meshListener // published port → its listener on this node
	sandboxPath string                   // the ingress sandbox's namespace, once made
	routed      map[string]bool          // tasks this node sends new work to, as applied
	nodes       []clusterapi.NodeEndpoint
	applied     chan struct{} // closed (and replaced) when an assignment has been applied
}

// taskResolver is the DNS server inside one task's namespace, at 127.0.0.11:53.
type taskResolver struct {
	srv    *dns.Server
	cancel context.CancelFunc
	done   chan struct{}
}

type localTask struct {
	netnsPath   string
	attachments []swarm.NetworkAttachment
}

func newPlumbing(cfg OverlayConfig) *plumbing {
	return &plumbing{cfg: cfg, networks: map[string]clusterapi.OverlayNetwork{}, local: map[string]localTask{}, servers: map[string]*taskResolver{}, vipRules: map[string]string{}, vipApplied: map[string][]vip.Service{}, mesh: map[string]*meshListener{}, applied: make(chan struct{})}
}

// netnsName is a task's namespace name.
func (p *plumbing) netnsName(taskID string) string {
	id := taskID
	if len(id) > 12 {
		id = id[:12]
	}
	return p.cfg.NetnsPrefix + "t" + id
}

// update takes the latest networks and peers from an assignments answer.
func (p *plumbing) update(resp clusterapi.AssignmentsResponse) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.networks = map[string]clusterapi.OverlayNetwork{}
	for _, n := range resp.Networks {
		p.networks[n.ID] = n
	}
	p.peers = resp.Peers
	p.records = resp.DNS
	meshErr := p.updateMeshLocked(resp)
	if meshErr != nil {
		p.cfg.Logger.Warn("routing mesh", "err", meshErr)
	}
	table, tableErr := dns.NewTable(resp.DNS)
	if tableErr == nil {
		p.names = table
		for _, r := range p.servers {
			r.srv.Update(table)
		}
	} else {
		p.cfg.Logger.Warn("the swarm's names do not make a DNS table", "err", tableErr)
	}
	err := p.reconcileLocked()
	// What failed to apply may still send work where it did before: until an update
	// applies cleanly, the node keeps claiming the routes it had as well as the new ones.
	p.setRoutesLocked(resp, meshErr == nil && tableErr == nil && err == nil)
	return err
}

// attach makes a task's namespace, wires it to its networks and returns its path.
func (p *plumbing) attach(t *swarm.Task) (string, error) {
	path, err := netns.CreateWithLoopback(p.netnsName(t.ID))
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.local[t.ID] = localTask{netnsPath: path, attachments: t.NetworksAttachments}
	if err := p.reconcileLocked(); err != nil {
		return "", err
	}
	if _, running := p.servers[t.ID]; !running {
		r, err := p.startResolver(path, t)
		if err != nil {
			return "", err
		}
		p.servers[t.ID] = r
	}
	return path, nil
}

// ResolverAddr is where a task's resolver listens inside its namespace (Docker's address).
const ResolverAddr = "127.0.0.11"

// startResolver serves the task's names from inside its namespace; a task resolves the
// services and tasks of the networks it is on.
func (p *plumbing) startResolver(path string, t *swarm.Task) (*taskResolver, error) {
	var networks []string
	for _, att := range t.NetworksAttachments {
		networks = append(networks, att.Network.ID)
	}
	var (
		pc net.PacketConn
		ln net.Listener
	)
	err := netns.Do(path, func() error {
		var err error
		if pc, err = net.ListenPacket("udp4", ResolverAddr+":53"); err != nil {
			return err
		}
		if ln, err = net.Listen("tcp4", ResolverAddr+":53"); err != nil {
			pc.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("starting the task's resolver: %w", err)
	}
	srv, err := dns.NewServer(dns.Config{
		PacketConn:    pc,
		Listener:      ln,
		AskerNetworks: func(netip.Addr) []string { return networks },
		Logger:        p.cfg.Logger,
	})
	if err != nil {
		pc.Close()
		ln.Close()
		return nil, err
	}
	if p.names != nil {
		srv.Update(p.names)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &taskResolver{srv: srv, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); _ = srv.Run(ctx) }()
	return r, nil
}

// detach unwires a task and deletes its namespace.
func (p *plumbing) detach(taskID string) error {
	p.mu.Lock()
	if r, ok := p.servers[taskID]; ok {
		r.cancel()
		<-r.done
		delete(p.servers, taskID)
	}
	delete(p.local, taskID)
	delete(p.vipRules, taskID)
	delete(p.vipApplied, taskID)
	err := p.reconcileLocked()
	p.mu.Unlock()
	if derr := netns.Delete(p.netnsName(taskID)); derr != nil && err == nil {
		err = derr
	}
	return err
}

// desiredLocked is the node's whole overlay state as the cluster wants it.
func (p *plumbing) desiredLocked() overlay.Desired {
	d := overlay.Desired{UnderlayIP: p.cfg.UnderlayIP}
	used := map[string]bool{}
	ids := make([]string, 0, len(p.local))
	for id := range p.local {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		lt := p.local[id]
		for i, att := range lt.attachments {
			if _, ok := p.networks[att.Network.ID]; !ok || len(att.Addresses) == 0 {
				continue
			}
			used[att.Network.ID] = true
			d.Local = append(d.Local, overlay.LocalEndpoint{
				TaskID: id, NetworkID: att.Network.ID, IP: att.Addresses[0].Addr(),
				IfName: fmt.Sprintf("eth%d", i), NetnsPath: lt.netnsPath,
			})
		}
	}
	for id, n := range p.networks {
		if used[id] {
			d.Networks = append(d.Networks, overlay.Network{ID: n.ID, VNI: n.VNI, Subnet: n.Subnet, Gateway: n.Gateway})
		}
	}
	sort.Slice(d.Networks, func(i, j int) bool { return d.Networks[i].ID < d.Networks[j].ID })
	for _, peer := range p.peers {
		if used[peer.NetworkID] && peer.NodeAddr != p.cfg.UnderlayIP {
			d.Remote = append(d.Remote, overlay.RemoteEndpoint{NetworkID: peer.NetworkID, IP: peer.IP, VTEP: peer.NodeAddr})
		}
	}
	return d
}

func (p *plumbing) reconcileLocked() error {
	if _, err := overlay.Reconcile(p.cfg.Kernel, p.desiredLocked()); err != nil {
		return fmt.Errorf("wiring the overlay networks: %w", err)
	}
	return p.applyVIPsLocked()
}

// applyVIPsLocked points every VIP a local task can reach at the running tasks of its
// service on that network, in the task's namespace.
func (p *plumbing) applyVIPsLocked() error {
	running := map[string]map[string][]netip.Addr{} // service → network → running task IPs
	for _, t := range p.records.Tasks {
		if !t.Running || t.Draining {
			continue
		}
		for _, a := range t.Addresses {
			if running[t.ServiceID] == nil {
				running[t.ServiceID] = map[string][]netip.Addr{}
			}
			running[t.ServiceID][a.Network] = append(running[t.ServiceID][a.Network], a.IP)
		}
	}
	var errs []error
	for id, lt := range p.local {
		on := map[string]bool{}
		for _, att := range lt.attachments {
			on[att.Network.ID] = true
		}
		var services []vip.Service
		for _, s := range p.records.Services {
			for _, n := range s.Networks {
				if on[n.Network] && n.VIP.IsValid() {
					services = append(services, vip.Service{VIP: n.VIP, Backends: running[s.ID][n.Network]})
				}
			}
		}
		rules := vip.Rules(services)
		if p.vipRules[id] == rules {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := vip.Apply(ctx, lt.netnsPath, services)
		cancel()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.vipRules[id] = rules
		p.vipApplied[id] = services
	}
	return errors.Join(errs...)
}
