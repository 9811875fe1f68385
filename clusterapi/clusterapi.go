// Package clusterapi is the node-to-manager protocol that rides on each manager's mTLS
// port next to Raft: joining, heartbeats, certificate renewal, Raft membership and
// forwarded proposals. It holds the message types and the client; managers serve it.
// Both agent and manager import it; it imports neither.
package clusterapi

import (
	"net/netip"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/network/dns"
	"github.com/shoal/shoal/network/overlay"
)

// ALPN protocol names on a manager's port.
const (
	ProtoRaft = "shoal-raft"
	ProtoAPI  = "http/1.1" // plain HTTP/1.1 over mTLS; net/http serves it without a TLSNextProto hook
)

// Paths of the cluster API.
const (
	PathJoin      = "/cluster/join"
	PathHeartbeat = "/cluster/heartbeat"
	PathRenew     = "/cluster/renew"
	PathRaftJoin  = "/cluster/raft/join"
	PathPropose   = "/cluster/propose"
)

// JoinRequest asks a manager to admit a node. It is the only request that comes without
// a client certificate; the token's secret proves the right to join.
type JoinRequest struct {
	Token         string
	CSRPEM        []byte
	AdvertiseAddr string // host:port the node will listen on as a manager
	Availability  swarm.NodeAvailability
	Description   swarm.NodeDescription
}

// JoinResponse admits the node: its identity, its certificate and where the managers are.
type JoinResponse struct {
	NodeID          string
	ClusterID       string
	Role            swarm.NodeRole
	CertPEM         []byte
	RootCAPEM       []byte
	Managers        []swarm.Peer
	HeartbeatPeriod time.Duration
}

// HeartbeatRequest tells the leader a node is alive, and what it is.
type HeartbeatRequest struct {
	NodeID      string
	Addr        string // the address the node is seen at
	Description swarm.NodeDescription
}

// HeartbeatResponse tells the node when to report next and what the cluster wants of it.
type HeartbeatResponse struct {
	Period   time.Duration
	Managers []swarm.Peer
	// Role is the role the cluster wants this node in; when it differs from the
	// certificate's role the node renews its certificate and starts or stops its manager.
	Role swarm.NodeRole
}

// RenewRequest asks for a fresh certificate for the caller's identity (with the role the
// cluster currently gives it).
type RenewRequest struct {
	CSRPEM []byte
}

// RenewResponse carries the new certificate.
type RenewResponse struct {
	CertPEM   []byte
	RootCAPEM []byte
	Role      swarm.NodeRole
}

// RaftJoinRequest asks the leader to add the calling manager as a Raft voter.
type RaftJoinRequest struct {
	NodeID string
	Addr   string
}

// ProposeRequest forwards a store proposal from a follower to the leader.
type ProposeRequest struct {
	Cmd []byte
}

// ProposeResponse tells the follower the log index the leader applied the write at.
type ProposeResponse struct {
	Index uint64
}

// ErrorResponse is the body of every non-2xx answer.
type ErrorResponse struct {
	Message string
	// LeaderAddr is set on 421 Misdirected Request: ask the leader at this address.
	LeaderAddr string `json:",omitempty"`
}

// Paths for task assignment and status.
const (
	PathAssignments = "/cluster/assignments"
	PathTaskStatus  = "/cluster/task-status"
)

// AssignmentsRequest asks for the tasks assigned to a node. When Known equals the
// current ETag the manager holds the request until something changes or Wait passes
// (a long poll), so a new assignment reaches the node at once.
type AssignmentsRequest struct {
	NodeID string
	Known  string
	Wait   time.Duration
}

// AssignmentsResponse lists every task the cluster has put on the node, and what the
// node needs to wire them to their overlay networks: the networks and every task of
// another node on them.
type AssignmentsResponse struct {
	ETag     string
	Tasks    []swarm.Task
	Networks []OverlayNetwork
	Peers    []OverlayPeer
	// DNS is what the node's resolvers answer for its tasks: the services and tasks on
	// the networks its tasks are on.
	DNS dns.Records
	// Ingress is the node's own endpoint on the ingress network, through which its
	// routing mesh reaches tasks on any node; Mesh lists the published ports it serves.
	Ingress *IngressEndpoint
	Mesh    []MeshPort
	// Nodes are the Ready nodes' node APIs: before it stops a task, a node asks each of
	// them to confirm that it no longer sends the task new work.
	Nodes []NodeEndpoint
	// HostPorts are the ports this node's tasks publish on the node itself (mode=host),
	// by task ID.
	HostPorts map[string][]swarm.PortConfig
	// ServiceNames names the services of this node's tasks, by service ID: a worker holds
	// no services, yet names its containers after them.
	ServiceNames map[string]string
}

// NodeEndpoint is where a node serves the node API.
type NodeEndpoint struct {
	ID   string
	Addr string
}

// IngressEndpoint is a node's address on the ingress network.
type IngressEndpoint struct {
	NetworkID string
	Addr      netip.Prefix
}

// MeshPort is one port published through the routing mesh and the tasks behind it.
type MeshPort struct {
	Service       string
	Protocol      string // tcp (udp and sctp are not balanced yet)
	PublishedPort uint32
	TargetPort    uint32
	// Balance is how the node's balancer reads the port's connections: MeshBalanceAuto
	// (HTTP requests one by one, anything else whole), MeshBalanceHTTP or MeshBalanceTCP.
	Balance  string
	Backends []MeshBackend
}

// MeshBalanceLabel is the service label that chooses how its published ports are balanced.
const MeshBalanceLabel = "com.shoal.mesh.balance"

// The values of MeshBalanceLabel. Auto, the default, tells HTTP/1.x connections (balanced
// per request, so keep-alive clients are never pinned to a task) from other TCP traffic
// (balanced per connection) by the first bytes the client sends; a protocol where the
// server speaks first waits the sniffing time before its first byte, which tcp avoids.
const (
	MeshBalanceAuto = "auto"
	MeshBalanceHTTP = "http"
	MeshBalanceTCP  = "tcp"
)

// MeshBackend is a running task behind a published port, at its ingress address.
type MeshBackend struct {
	TaskID string
	IP     netip.Addr
}

// OverlayNetwork is an overlay network a node's tasks are on.
type OverlayNetwork struct {
	ID      string
	VNI     uint32
	Subnet  netip.Prefix
	Gateway netip.Addr
}

// OverlayPeer is a task of another node on one of those networks.
type OverlayPeer struct {
	NetworkID string
	TaskID    string
	IP        netip.Addr
	NodeAddr  netip.Addr // the other node's underlay address (its VTEP)
}

// TaskStatusRequest reports observed task states.
type TaskStatusRequest struct {
	NodeID  string
	Updates []TaskStatusUpdate
}

// TaskStatusUpdate is one task's observed status.
type TaskStatusUpdate struct {
	TaskID string
	Status swarm.TaskStatus
}

// The node API: what managers and other nodes ask of a node. Every node serves it on its
// advertised address (a manager on its manager port). Only managers may read task output;
// any node of the swarm may ask about routes.
const (
	PathNodePrefix   = "/node/"
	PathNodeLogs     = "/node/logs"
	PathNodeRoutes   = "/node/routes"
	PathNodeNetState = "/node/netstate"
)

// NetState is what a node's data plane does right now, read back from where it lives:
// the balancers behind its published ports, each local task's resolver and VIP rules,
// and the overlay devices and forwarding entries in the kernel. Tests compare it with the
// cluster state; people read it when a name or a port misbehaves.
type NetState struct {
	NodeID  string
	Mesh    []MeshState
	Tasks   []TaskNetState
	Overlay overlay.Observed
}

// MeshState is one published port on a node and the tasks its balancer sends new
// connections to (draining ones left out).
type MeshState struct {
	Protocol      string
	PublishedPort uint32
	Backends      []string // task IDs, sorted
}

// TaskNetState is what one local task's namespace sees: the names its resolver answers
// and where its VIP rules send each VIP.
type TaskNetState struct {
	TaskID   string
	Networks []string
	Names    map[string][]netip.Addr
	VIPs     map[netip.Addr][]netip.Addr
}

// NodeRoutesRequest asks a node whether it still sends a task new work (through its
// routing mesh, its tasks' VIP rules or their DNS answers), holding the answer up to Wait
// for that to stop.
type NodeRoutesRequest struct {
	TaskID string
	Wait   time.Duration
}

// NodeRoutesResponse answers a NodeRoutesRequest.
type NodeRoutesResponse struct {
	Routed bool
}

// NodeLogsRequest asks a node for a task's captured output. The answer is a stream of
// JSON-encoded LogLine values, one per line.
type NodeLogsRequest struct {
	TaskID string
	Follow bool
	Tail   int // -1: all
	Since  time.Time
}

// LogLine is one line of a task's output.
type LogLine struct {
	Time   time.Time
	Stream string // stdout or stderr
	Line   []byte
}

// NodeAPIAddrLabel is the engine label in which a node publishes its node API address.
const NodeAPIAddrLabel = "com.shoal.node.addr"

// NodeAPIAddr is where a node serves the node API: the address it publishes, or a
// manager's manager port; "" when it says neither.
func NodeAPIAddr(n *swarm.Node) string {
	if addr := n.Description.Engine.Labels[NodeAPIAddrLabel]; addr != "" {
		return addr
	}
	if n.ManagerStatus != nil {
		return n.ManagerStatus.Addr
	}
	return ""
}
