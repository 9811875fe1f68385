// Package lab owns `shoal lab`: a real multi-node Shoal cluster on one Linux machine. Each
// node is a network namespace with one veth into a bridge that lives in a "switch"
// namespace of its own; one more veth joins the machine's root namespace to that bridge with
// the segment's first address, so the machine reaches every node directly. The lab is
// sealed: nodes get no default route and nothing turns on forwarding in the root namespace.
// Each node runs a real daemon, detached from the command that started it, and the first
// manager forms the cluster through the Docker Engine API.
//
// State lives in StateRoot/<name>/lab.json; Down removes every trace of a lab by name even
// when that file is missing.
package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultName                = "lab"
	DefaultDispatcherHeartbeat = 5 * time.Second
	DefaultStartTimeout        = 60 * time.Second
)

// Options describe a lab to build.
type Options struct {
	Name     string // DefaultName if empty
	Managers int    // 1 if 0
	Workers  int
	// Subnet is the lab segment as a prefix ("172.20.0.0/24"); empty or "auto" picks a free
	// /24 in 172.16.0.0/12, then 192.168.0.0/16.
	Subnet              string
	DispatcherHeartbeat time.Duration // DefaultDispatcherHeartbeat if 0
	CertExpiry          time.Duration // node certificate lifetime; 0 leaves the daemon's default
	// Bin is the shoal binary the nodes run; os.Executable() if empty. Tests driving a lab
	// from Go must set it (the Makefile passes it as SHOAL_BIN).
	Bin string
	// DaemonArgs are appended to every node's daemon command.
	DaemonArgs []string
	// DaemonCommand, if set, replaces the daemon command: it returns the argv to run inside
	// the node's namespace (the Node's paths and address are already filled in).
	DaemonCommand func(Node) []string
	// SkipSwarm builds the network and starts the daemons without forming a cluster.
	SkipSwarm bool
	// SkipPing does not wait for the daemons' API (for stand-in daemons that serve none);
	// it implies SkipSwarm.
	SkipPing bool
	// StartTimeout bounds the wait for each daemon's API; DefaultStartTimeout if 0.
	StartTimeout time.Duration
}

// Node is one node of a lab.
type Node struct {
	Name     string
	Role     Role
	Addr     netip.Addr
	Netns    string // network namespace, for `ip netns exec`
	Link     string // the switch-side end of the node's veth; down means the node is cut off
	Dir      string // the node's directory in the lab's state directory
	DataRoot string
	Socket   string // the daemon's API socket
	Log      string // the daemon's stdout and stderr
	Command  []string
	PID      int    `json:",omitempty"` // the daemon, 0 when stopped
	PIDStart uint64 `json:",omitempty"` // the daemon's start time, telling it apart from a reused pid
}

// Host is the node's API address as -H, SHOAL_HOST and DOCKER_HOST take it.
func (n Node) Host() string { return "unix://" + n.Socket }

// Lab is a lab that exists on this machine. Its methods are safe for concurrent use.
type Lab struct {
	mu sync.Mutex
	st state
}

// Name returns the lab's name.
func (l *Lab) Name() string { return l.state().Name }

// Subnet returns the lab segment.
func (l *Lab) Subnet() netip.Prefix { return l.state().Subnet }

// HostAddr returns the machine's own address on the lab segment.
func (l *Lab) HostAddr() netip.Addr { return l.state().HostAddr }

// Dir returns the lab's state directory.
func (l *Lab) Dir() string { return labDir(l.state().Name) }

// DispatcherHeartbeat returns the heartbeat period the cluster was formed with.
func (l *Lab) DispatcherHeartbeat() time.Duration {
	return time.Duration(l.state().DispatcherHeartbeat)
}

// Nodes returns the nodes, managers first.
func (l *Lab) Nodes() []Node {
	st := l.state()
	return slices.Clone(st.Nodes)
}

// Node returns one node by name.
func (l *Lab) Node(name string) (Node, error) {
	st := l.state()
	return st.node(name)
}

func (st state) node(name string) (Node, error) {
	for _, n := range st.Nodes {
		if n.Name == name {
			return n, nil
		}
	}
	names := make([]string, len(st.Nodes))
	for i, n := range st.Nodes {
		names[i] = n.Name
	}
	return Node{}, fmt.Errorf("lab %q has no node %q (nodes: %v)", st.Name, name, names)
}

// Env returns the environment that points shoal and docker at a node:
// SHOAL_HOST, DOCKER_HOST and SHOAL_NODE_ADDR, as NAME=value.
func (l *Lab) Env(node string) ([]string, error) {
	n, err := l.Node(node)
	if err != nil {
		return nil, err
	}
	return []string{
		"SHOAL_HOST=" + n.Host(),
		"DOCKER_HOST=" + n.Host(),
		"SHOAL_NODE_ADDR=" + n.Addr.String(),
	}, nil
}

// Exec prepares argv to run inside a node's network namespace (through `ip netns exec`).
// For an unknown node the command fails when started.
func (l *Lab) Exec(ctx context.Context, node string, argv ...string) *exec.Cmd {
	n, err := l.Node(node)
	if err != nil || len(argv) == 0 {
		cmd := exec.CommandContext(ctx, "ip")
		cmd.Err = err
		if cmd.Err == nil {
			cmd.Err = errors.New("lab exec: no command")
		}
		return cmd
	}
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Netns}, argv...)...)
}

func (l *Lab) state() state {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

// update changes lab.json under the lab's lock, starting from what is on disk so that
// several processes driving one lab do not undo each other.
func (l *Lab) update(change func(*state) error) error {
	name := l.Name()
	unlock, err := flock(filepath.Join(labDir(name), lockFile))
	if err != nil {
		return err
	}
	defer unlock()
	st, err := readState(name)
	if err != nil {
		return err
	}
	if err := change(&st); err != nil {
		return err
	}
	if err := writeState(st); err != nil {
		return err
	}
	l.mu.Lock()
	l.st = st
	l.mu.Unlock()
	return nil
}

// setPID records a node's daemon.
func (l *Lab) setPID(node string, pid int, start uint64) error {
	return l.update(func(st *state) error {
		for i := range st.Nodes {
			if st.Nodes[i].Name == node {
				st.Nodes[i].PID, st.Nodes[i].PIDStart = pid, start
				return nil
			}
		}
		return fmt.Errorf("lab %q has no node %q", st.Name, node)
	})
}

// Load opens an existing lab by name.
func Load(name string) (*Lab, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	st, err := readState(name)
	if err != nil {
		return nil, err
	}
	return &Lab{st: st}, nil
}

// checkHost verifies the lab can run here at all.
func checkHost() error {
	if os.Geteuid() != 0 {
		return errors.New("shoal lab needs root: it creates network namespaces and links")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("shoal lab needs the ip command (iproute2)")
	}
	return nil
}

// Up builds a lab: network, daemons and, unless opts.SkipSwarm, the cluster. It reports each
// step on progress (which may be nil). On any failure it removes everything it made.
func Up(ctx context.Context, opts Options, progress io.Writer) (*Lab, error) {
	if progress == nil {
		progress = io.Discard
	}
	opts, err := opts.complete()
	if err != nil {
		return nil, err
	}
	if err := checkHost(); err != nil {
		return nil, err
	}
	st, err := reserve(opts)
	if err != nil {
		return nil, err
	}
	l := &Lab{st: st}
	if err := l.build(ctx, opts, progress); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("lab up interrupted: %w", err)
		}
		fmt.Fprintf(progress, "removing lab %s after the failure\n", st.Name)
		if derr := Down(st.Name); derr != nil {
			err = errors.Join(err, fmt.Errorf("clean up after the failure: %w", derr))
		}
		return nil, err
	}
	return l, nil
}

func (l *Lab) build(ctx context.Context, opts Options, progress io.Writer) error {
	st := l.state()
	fmt.Fprintf(progress, "creating network %s for lab %s\n", st.Subnet, st.Name)
	if err := buildNetwork(st); err != nil {
		return fmt.Errorf("create network: %w", err)
	}
	// Start every daemon at once, then wait for each in turn.
	for _, n := range st.Nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		pid, start, err := startDaemon(n)
		if err != nil {
			return err
		}
		if err := l.setPID(n.Name, pid, start); err != nil {
			return err
		}
	}
	for _, n := range l.Nodes() {
		fmt.Fprintf(progress, "starting %s ... ", n.Name)
		if !opts.SkipPing {
			if err := waitPing(ctx, n, opts.StartTimeout); err != nil {
				fmt.Fprintln(progress, "failed")
				return err
			}
		}
		fmt.Fprintln(progress, "ok")
	}
	if !opts.SkipSwarm {
		if err := formSwarm(ctx, l.state(), progress); err != nil {
			return err
		}
	}
	return l.update(func(st *state) error {
		st.Phase = phaseReady
		st.Builder = process{}
		st.Swarm = !opts.SkipSwarm
		return nil
	})
}

// complete fills in defaults and validates what the kernel need not be asked about.
func (o Options) complete() (Options, error) {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if err := ValidateName(o.Name); err != nil {
		return o, err
	}
	if o.Managers == 0 {
		o.Managers = 1
	}
	if o.Managers < 0 || o.Workers < 0 {
		return o, fmt.Errorf("invalid node counts: %d managers, %d workers: must not be negative", o.Managers, o.Workers)
	}
	if o.DispatcherHeartbeat == 0 {
		o.DispatcherHeartbeat = DefaultDispatcherHeartbeat
	}
	if o.DispatcherHeartbeat < 0 {
		return o, fmt.Errorf("invalid dispatcher heartbeat %s: must be positive", o.DispatcherHeartbeat)
	}
	if o.CertExpiry < 0 {
		return o, fmt.Errorf("invalid certificate expiry %s: must be positive", o.CertExpiry)
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.SkipPing {
		o.SkipSwarm = true
	}
	if o.Subnet != "" && o.Subnet != "auto" {
		if _, err := parseSubnet(o.Subnet); err != nil {
			return o, err
		}
	}
	if o.DaemonCommand == nil {
		bin, err := resolveBin(o.Bin)
		if err != nil {
			return o, err
		}
		o.Bin = bin
	}
	return o, nil
}

// resolveBin finds the shoal binary as an absolute path (the daemon starts in its node's
// directory).
func resolveBin(bin string) (string, error) {
	if bin == "" {
		self, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("find the shoal binary: %w; pass it with --bin", err)
		}
		bin = self
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("invalid shoal binary %q: %w", bin, err)
	}
	return filepath.Abs(path)
}

// daemonCommand is the argv a node runs inside its namespace.
func (o Options) daemonCommand(n Node) []string {
	var argv []string
	if o.DaemonCommand != nil {
		argv = o.DaemonCommand(n)
	} else {
		argv = []string{o.Bin, "daemon", "--data-root", n.DataRoot, "-H", n.Host(), "--hostname", n.Name,
			"--netns-prefix", nodeNetnsPrefix(n.Netns)}
	}
	return append(slices.Clone(argv), o.DaemonArgs...)
}

// nodeNetnsPrefix starts the names of the namespaces a node's daemon makes (its tasks',
// its overlay networks'): the node's own namespace name and a dot, which no lab namespace
// name contains, so lab down finds them by name.
func nodeNetnsPrefix(nodeNetns string) string { return nodeNetns + "." }
