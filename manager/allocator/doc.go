// Package allocator owns the leader's address and port bookkeeping: which subnet each
// overlay network has, which IP each task and which VIP each service holds on each network,
// and which ingress ports are published cluster-wide. It is a pure, synchronous core: no
// goroutines, clocks or I/O, and not safe for concurrent use. Its one owner is the leader's
// allocation loop, which turns store events into calls, writes the answers back through
// Raft, and drops the Allocator when leadership is lost.
//
// # Pieces
//
//   - Subnets. A [Pool] hands each new network the lowest free subnet of the default address
//     pool (10.0.0.0/8 cut into /24s unless `swarm init --default-addr-pool` and
//     `--default-addr-pool-mask-length` said otherwise), or checks a user's --subnet and
//     --gateway, which may lie inside or outside the pool but never overlap another
//     network's subnet. Creating the ingress network first gives it 10.0.0.0/24, as in swarm.
//   - Addresses. Every network has one address space shared by its gateway (the first usable
//     address unless --gateway says otherwise), its tasks' IPs and its services' VIPs. The
//     network, gateway and broadcast addresses are never handed out. [Allocator.Allocate]
//     is idempotent per owner and walks a round-robin cursor, so a released address is
//     handed out again only when the cursor comes round to it: the free addresses are used
//     in turn, and a peer that still caches the old owner's MAC or a DNS answer has most
//     of a cycle through the subnet to notice.
//   - Ports. Ingress-mode published ports are unique per protocol across the whole cluster,
//     because the routing mesh listens on every node. Auto-assigned ones come from
//     30000–32767, with a round-robin cursor as well. Host-mode published ports are not
//     allocated here at all: they bind only on the nodes running a task, so the scheduler
//     handles them as a per-node resource.
//
// # Owners
//
// Addresses are owned by opaque strings: the leader passes the task ID for a task's IP and
// the service ID for a service's VIP (swarm IDs never collide across kinds), and any other
// distinct string for anything else that needs an address on a network. Published ports are
// owned by the service's name, which swarm keeps unique among live services and refuses to
// change, so that a conflict reads as the user knows it: `port 8080/tcp is already
// published by service web`.
//
// # After a leader change
//
// The reference handed out duplicate IPs after failovers. Here a new leader calls [Allocator.Rebuild] with a [State] read from its
// store before it allocates anything. Rebuild is deterministic (it sorts its input), never
// records one address, subnet or port for two holders, and reports every such duplicate,
// and every record it cannot place, as a [Problem] naming the object that lost, so the
// leader can give that object a fresh allocation rather than silently carry the corruption.
//
// The leader maps the moby swarm types into State like this (only the first IPv4 IPAM
// config counts; addresses are kept in CIDR form as swarm stores them, only the address is
// used):
//
//	swarm.Network n  → NetworkState{ID: n.ID, Name: n.Spec.Name,
//	                     Subnet: n.IPAMOptions.Configs[i].Subnet, Gateway: ….Gateway}
//	                   (a network without IPAMOptions is not allocated yet: leave it out and
//	                    call AddNetwork for it after Rebuild)
//	swarm.Service s  → ServiceState{ID: s.ID, Name: s.Spec.Name,
//	                     VIPs:  one Attachment{Network: v.NetworkID, Addr: v.Addr}
//	                            per s.Endpoint.VirtualIPs entry,
//	                     Ports: one PublishedPort{Protocol: string(p.Protocol),
//	                            Port: p.PublishedPort, Mode: string(p.PublishMode)}
//	                            per s.Endpoint.Ports entry (host-mode ones are skipped)}
//	swarm.Task t     → TaskState{ID: t.ID, Addresses: one Attachment{Network: a.Network.ID,
//	                     Addr: addr} per address of each t.NetworksAttachments entry}
//	                   (only tasks that still hold their addresses; see below)
//
// Which tasks hold addresses must be a function of the stored state, so that the old and
// the new leader agree on it: the leader releases a task's addresses when the task's
// observed state becomes terminal (complete, shutdown, failed, rejected, orphaned), and
// Rebuild must be given exactly the tasks whose observed state is not terminal. Task
// history keeps its NetworksAttachments for display; passing it in would report its old
// addresses as duplicates of the tasks that reuse them. A task whose desired state is
// shutdown but that still runs keeps its address: the container still uses it.
//
// Where the allocator's round-robin cursors stood is not part of the swarm objects; a
// rebuilt allocator continues right after the highest address (and auto port) in use, unless
// the leader kept the cursors ([Allocator.Cursor], [Allocator.NextAutoPort]) somewhere and
// hands them back in the State, in which case it continues exactly where the old one was.
package allocator
