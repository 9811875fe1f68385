// Package runc runs a node's tasks as OCI containers through the runc command line. It owns
// everything a container is made of on the node: its bundle directory, overlay root, network
// namespace (unless the networking layer gives one), cgroups, output files, and the process
// that supervises it; and it is, with network/..., the only part of Shoal that touches the
// kernel for tasks.
//
// # Layout
//
// Everything lives under the executor's Root, and runc is always called with
// --root Root/runc, so our containers never mix with anyone else's:
//
//	Root/runc/                     runc's own state
//	Root/containers/<id>/          one bundle per task; <id> is the task ID
//	    config.json                OCI config (runtime-spec specs-go)
//	    meta.json                  our record: task, netns, cgroup, stop signal, health check
//	    rootfs/                    overlayfs: image layers (lowerdir) + upper/ + work/
//	    hosts hostname resolv.conf the container's own, bind-mounted over the image's
//	    stdout.fifo stderr.fifo    the container's output
//	    wrapper.pid init.pid       the wrapper's and the container's processes
//	    exitcode                   the container's exit status, written when it ends
//	    container.log[.1,.2]       captured output, JSON lines, rotated
//
// Each container runs in its own mount, pid, uts and ipc namespaces, in a network namespace
// (shoal-<first 12 characters of the ID> made with `ip netns add`, loopback up, unless the
// caller passes ControllerOptions.NetnsPath), under the cgroup <CgroupParent>/<id> (default
// /shoal/<id>) with the task's CPU, memory and pids limits. Prepare mounts the overlay before
// runc ever sees the bundle; Remove unmounts it and deletes the container, the namespace (if
// ours), the cgroups and the bundle, and leaves nothing behind. RemoveAll does that for every
// container under a Root, for a node whose daemon will not come back to do it (the network
// namespace names in /run/netns and the cgroups are outside the Root, so deleting the Root
// alone would leak them).
//
// # Processes, exit codes and adoption
//
// A container must outlive the daemon (a restart re-adopts running containers: no
// duplicate, no orphan), and its exit code must still be known to the daemon that comes
// back. Without a shim binary of our own, each container gets a tiny wrapper: `/bin/sh -c`
// started in a session of its own (Setsid, so no signal for the daemon's process group
// reaches it) that runs `runc run` in the foreground and, when runc returns, writes runc's
// exit status (the container's, 128+n for signal n) to the bundle's exitcode file. runc run
// in the foreground also cleans up after the container (its cgroups and runc state).
//
// The executor watches the wrapper through a pidfd (pidfd_open works on processes that are
// not our children, so a restarted daemon watches the same way), polled by Go's runtime
// poller: a waiting container holds no thread. When the pidfd reports the wrapper gone, the
// exit code is read from the file. A process found through wrapper.pid counts as the wrapper
// only if its command line names this bundle, so a recycled pid is not mistaken for it.
// Adoption is thus: List reads the bundles (and `runc list` for strays), and the first
// controller call on a container attaches to it (FIFOs, pidfd, health check). Only one
// executor attaches at a time (a flock on the bundle), so two executors on one Root never both
// read a container's output.
//
// If someone kills the wrapper but not the container, its exit code is lost (reported as 255);
// Terminate's last resort, killing the wrapper's whole process group when runc's SIGKILL did
// not end the container, reports 137. The daemon's service manager must not kill the
// daemon's children with it (systemd: KillMode=process), or a restart is a stop.
//
// # Output
//
// The container's stdout and stderr go to two FIFOs in the bundle; the executor reads them and
// writes docker json-file lines ({"log":...,"stream":...,"time":...}) to container.log,
// rotating at LogMaxSize and keeping LogMaxFiles files, so it is bounded whatever the
// container prints. The wrapper holds both FIFOs open read-write for its whole life: the
// container never gets EPIPE while no daemon reads, and the executor sees the end of the
// output exactly when the wrapper exits. Wait returns only once the output has been read to
// its end, so a Wait is followed by complete logs.
//
// The trade-off, the same as docker's live-restore: while no daemon reads, output waits in
// the FIFO's pipe buffer (raised to 1 MiB per stream where the node allows), and a container
// that fills it blocks on its next write until a daemon is back. Output still in the buffer
// when a container ends while no daemon runs is lost with the pipe. A shim process per
// container (containerd's design) would avoid both, at the price of a resident process per
// task and a binary of its own to install and upgrade.
//
// # Exec
//
// Exec runs `runc exec --process` with the container's own OCI process as the base (its
// capabilities, limits and the rest) and the exec's command, environment, user and working
// directory over it, as docker does. runc runs in the foreground, so its exit status is the
// command's; it hands a --console-socket the terminal only when it detaches, and then the
// exit status would be lost, so a terminal exec gives runc one end of a raw pseudo-terminal
// pair of ours and copies the other end to and from the caller, and a resize sets our pair's
// size and tells runc with SIGWINCH. Each exec has a scratch directory (process.json, pid
// file, runc's log) under the system's temporary directory, removed when it ends.
//
// # Health checks
//
// The merged health check (image's, then the task's, docker's defaults) runs with
// `runc exec` inside the container's namespaces, as its user, with its environment and working
// directory, at its interval (StartInterval during the start period), killed after its timeout.
// Results follow exec.NextHealth; Wait returns exec.ErrUnhealthy when the task turns
// unhealthy, as swarmkit's controller does, and Options.OnHealth hears every status change.
package runc
