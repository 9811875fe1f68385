// Package overlay owns one node's data plane for overlay networks: the namespaces, bridges,
// VXLAN devices, task veths and the forwarding and neighbour entries that carry task
// traffic between nodes. It is declarative. The caller says what the cluster wants on this
// node (Desired: the networks, the local task endpoints, the remote task endpoints with the
// underlay address of the node that runs each); Observe reads what the kernel has; Plan,
// a pure function, diffs the two into Ops; Apply runs them through a Kernel. Reconcile is
// those four steps in a row, and it is how entries are removed too: anything of ours that is
// present but not desired (a stale entry, a removed task's veth, a network no local task
// uses any more) is deleted, so nothing learned or left over can go stale.
//
// # Layout on a node, per overlay network with VXLAN network identifier VNI
//
//	node namespace (underlay, e.g. eth0 192.168.1.10)     UDP 4789 socket of svx<VNI>
//	  │
//	  └ sandbox namespace <prefix><VNI> (default shoal-ov-<VNI>)
//	      sbr<VNI>   bridge, alias "shoal network=<ID>", the gateway address, MTU m
//	      svx<VNI>   VXLAN: id VNI, local = underlay IP, dstport 4789, learning off,
//	                 proxy (answers ARP from its neighbour table), port of sbr<VNI> with
//	                 bridge learning off, MTU m
//	      sve<hex IP> one veth per local task, port of sbr<VNI>, alias "shoal task=<ID> if=<name>"
//	            └──── peer <IfName> (eth0, eth1, ...) in the task's namespace: the task's IP
//	                  in the subnet, MAC 02:42:<IP>, MTU m, and so only the subnet's route
//
// m is the network's MTU if given, otherwise the underlay link's MTU less the 50 bytes of
// VXLAN encapsulation. For every remote task endpoint (IP, MAC, VTEP) the sandbox holds
// exactly three entries, all static and all reconciled:
//
//	svx<VNI> fdb (self)    MAC → dst VTEP    where to tunnel frames for the task
//	sbr<VNI> fdb (master)  MAC → svx<VNI>    so the bridge sends them to the tunnel, not everywhere
//	svx<VNI> neighbour     IP → MAC          permanent, so proxy ARP answers locally
//
// No frame is flooded to other nodes (there is no all-zero FDB entry) and no ARP crosses
// the underlay. Because a task's MAC is derived from its IP, a neighbour cache inside a task
// is never wrong, even when the IP moves to another node or another task.
//
// Why a namespace per network and not the bridges in the node's own namespace: the node's
// routing table, firewall and sysctls never see overlay subnets (a user's --subnet may
// overlap the host's LAN; a host firewall with a FORWARD DROP policy and br_netfilter does
// not filter bridged overlay traffic), and every network's devices and entries can be
// listed and removed as one. The VXLAN device is created from the node's namespace directly
// into the sandbox, so its UDP socket stays on the underlay. This is Docker's layout too.
// The sandbox names come from a prefix; nodes that share a machine (a lab) must use
// different prefixes because /run/netns is shared.
//
// Names fit IFNAMSIZ: sbr16777215 and svx16777215 are 11 bytes, sve0a000002 is 11.
package overlay
