// Package dns is the per-node resolver that tasks reach through their resolv.conf: it answers
// for services, tasks and containers from a snapshot of the cluster (a Table), scoped to the
// networks the asker shares, and forwards every other name to the node's upstream resolvers.
//
// The package has a pure core and a thin shell. Answer is a function from a Table, the asker's
// networks and one question to the answer records and a response code; it does no I/O. Server
// wraps it in UDP and TCP listeners (github.com/miekg/dns), finds the asker's networks from the
// query's source address, swaps Tables atomically as the cluster changes, and forwards names
// that are not ours upstream.
//
// What resolves, for an asker on networks N:
//
//   - service (or a network-scoped alias of it): its VIP on each network of N the service is on;
//     with endpoint mode dnsrr, the addresses on those networks of its serving tasks instead.
//     The VIP record lives as long as the service, even with no task.
//   - tasks.service: the addresses on those networks of its serving tasks. A task serves when it
//     is running, healthy (or has no health check) and not draining (traffic promise 1 and 2 in
//     DESIGN.md).
//   - a running task's container name (web.1.<taskid>), its hostname, and a container's name,
//     hostname or aliases: its addresses on networks of N.
//   - PTR for a VIP or a running task's address on a network of N: "<name>.<network name>.".
//   - Names are case-insensitive, with or without the trailing dot. As in Docker, "name.network"
//     is tried in network "network" only (so "web.webnet" and "tasks.web.webnet" work), and a name
//     under one of the node's search domains is also tried without that suffix, so a stub
//     resolver that appends the search list first still finds "web.corp.example" as "web".
//   - A known name with no record of the asked type (AAAA: we have IPv4 only; MX, TXT...) is
//     NOERROR with no answers, so stubs stop there instead of trying the search list upstream.
//   - Any other name, including a service on no network the asker shares, is NXDOMAIN to Answer,
//     and the Server forwards it upstream; with no upstream configured it answers SERVFAIL at
//     once (a sealed lab or test has none, and must not wait on a resolver that is not there).
//
// # TTLs
//
// Answers built from tasks (tasks.service, dnsrr services, task and container names and their
// PTRs) carry TTL 0 (TaskTTL). They change on every update, scale-down and drain, and the traffic
// promise says a task stops getting new work once it leaves DNS: any cache in the task (nscd,
// systemd-resolved, dnsmasq, a language runtime) that kept such an answer for n seconds would
// stretch every drain by n seconds, or send new connections to a task that was told to stop.
// TTL 0 tells every compliant cache not to keep the answer; the price is one query to a resolver
// on the same node, which is cheap.
//
// VIP answers (a service in vip mode, and its PTR) carry TTL 2s (ServiceTTL). A VIP does not
// change when tasks come and go, so updates never depend on it; it changes only when the service
// is removed and created again or leaves a network, and 2s bounds how long a cache can hold the
// old one then, instead of the 600s Docker uses, which leaves clients on a dead VIP for minutes.
//
// Negative answers (NXDOMAIN, and NOERROR with no records) carry no SOA, so by RFC 2308 they are
// not cached at all: a service is found the moment it exists.
package dns
