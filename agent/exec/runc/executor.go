package runc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"golang.org/x/sys/unix"

	shoalexec "github.com/shoal/shoal/agent/exec"
	"github.com/shoal/shoal/internal/clock"
)

// Options configure an Executor.
type Options struct {
	// Root is the executor's state directory: bundles under Root/containers/<id>, runc's
	// state under Root/runc. Two executors must not share a Root unless one of them is
	// closed (a restarted daemon takes over its predecessor's Root).
	Root string
	// Images gives images to Prepare.
	Images shoalexec.ImageGetter
	// Runtime is the runc binary (default: "runc" from PATH).
	Runtime string
	// IP is the iproute2 binary that makes network namespaces (default: "ip" from PATH).
	IP string
	// CgroupParent is the cgroup under which each container gets <CgroupParent>/<id> in every
	// hierarchy (default "/shoal").
	CgroupParent string
	// LogMaxSize and LogMaxFiles bound each container's captured output: at most LogMaxFiles
	// files of about LogMaxSize bytes (default 10 MiB x 3).
	LogMaxSize  int64
	LogMaxFiles int
	// ResolvConf is the content of each container's /etc/resolv.conf, unless its task sets
	// nameservers. Nil copies the node's.
	ResolvConf []byte
	// OnHealth, if set, is told each time a container's health status changes. It is called
	// from the executor's goroutines and must not block.
	OnHealth func(taskID string, h container.Health)
	Clock    clock.Clock
	Logger   *slog.Logger
}

// ControllerOptions are per-task settings that come from outside the task spec.
type ControllerOptions struct {
	// NetnsPath is a network namespace the networking layer made for the task (a bind
	// mount such as /run/netns/NAME); the container joins it and Remove leaves it alone.
	// Empty gives the container a namespace of its own (named shoal-<id prefix>, with only
	// loopback), which Remove deletes.
	NetnsPath string
}

// Executor runs tasks as OCI containers through the runc CLI. See the package doc for how.
type Executor struct {
	opts Options
	runc runcCLI

	mu         sync.Mutex // guards supervised, opLocks and closed
	supervised map[string]*supervisor
	opLocks    map[string]*opLock
	closed     bool
}

// opLock serialises Prepare, Start and Remove of one container.
type opLock struct {
	mu    sync.Mutex
	users int // guarded by Executor.mu
}

var _ shoalexec.Executor = (*Executor)(nil)

// New checks the options and the tools and makes an executor. Containers a previous
// executor left under the same Root are found by List and re-adopted by the controllers of
// their tasks.
func New(opts Options) (*Executor, error) {
	if opts.Root == "" || !filepath.IsAbs(opts.Root) {
		return nil, fmt.Errorf("executor root %q must be an absolute path", opts.Root)
	}
	if opts.Runtime == "" {
		opts.Runtime = "runc"
	}
	if opts.IP == "" {
		opts.IP = "ip"
	}
	var err error
	if opts.Runtime, err = exec.LookPath(opts.Runtime); err != nil {
		return nil, fmt.Errorf("container runtime: %w (install runc)", err)
	}
	if opts.IP, err = exec.LookPath(opts.IP); err != nil {
		return nil, fmt.Errorf("network namespaces: %w (install iproute2)", err)
	}
	if opts.CgroupParent == "" {
		opts.CgroupParent = "/shoal"
	}
	if !filepath.IsAbs(opts.CgroupParent) {
		return nil, fmt.Errorf("cgroup parent %q must be an absolute cgroup path", opts.CgroupParent)
	}
	if opts.LogMaxSize <= 0 {
		opts.LogMaxSize = 10 << 20
	}
	if opts.LogMaxFiles <= 0 {
		opts.LogMaxFiles = 3
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	for _, d := range []string{opts.Root, filepath.Join(opts.Root, "containers"), filepath.Join(opts.Root, "runc")} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, fmt.Errorf("executor state directory: %w", err)
		}
	}
	return &Executor{
		opts:       opts,
		runc:       runcCLI{bin: opts.Runtime, root: filepath.Join(opts.Root, "runc")},
		supervised: map[string]*supervisor{},
		opLocks:    map[string]*opLock{},
	}, nil
}

// Close stops watching containers: their output stays buffered in their FIFOs and their
// exit is recorded on disk until another executor on the same Root adopts them. Containers
// keep running. Controllers of a closed executor fail.
func (e *Executor) Close() error {
	e.mu.Lock()
	e.closed = true
	sups := make([]*supervisor, 0, len(e.supervised))
	for id, s := range e.supervised {
		sups = append(sups, s)
		delete(e.supervised, id)
	}
	e.mu.Unlock()
	for _, s := range sups {
		s.stop()
	}
	return nil
}

// Describe reports the node's platform and capacity and the runtime's version.
func (e *Executor) Describe(ctx context.Context) (swarm.NodeDescription, error) {
	host, err := os.Hostname()
	if err != nil {
		return swarm.NodeDescription{}, err
	}
	var uts unix.Utsname
	arch := runtime.GOARCH
	if unix.Uname(&uts) == nil {
		arch = unix.ByteSliceToString(uts.Machine[:])
	}
	return swarm.NodeDescription{
		Hostname: host,
		Platform: swarm.Platform{Architecture: arch, OS: runtime.GOOS},
		Resources: swarm.Resources{
			NanoCPUs:    int64(runtime.NumCPU()) * 1e9,
			MemoryBytes: memTotal(),
		},
		Engine: swarm.EngineDescription{EngineVersion: e.runc.version(ctx)},
	}, nil
}

// memTotal reads the node's memory from /proc/meminfo.
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb * 1024
		}
	}
	return 0
}

// validID is what a container ID may look like: it names directories, a runc container and
// a cgroup.
var validID = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)

// Controller returns the controller of task t; its container's ID is the task's ID.
func (e *Executor) Controller(t *swarm.Task) (shoalexec.Controller, error) {
	return e.ControllerFor(t, ControllerOptions{})
}

// ControllerFor is Controller with settings from outside the task spec.
func (e *Executor) ControllerFor(t *swarm.Task, opts ControllerOptions) (shoalexec.Controller, error) {
	if t == nil || !validID.MatchString(t.ID) {
		return nil, fmt.Errorf("invalid task ID for a container: %q", taskID(t))
	}
	if opts.NetnsPath != "" && !filepath.IsAbs(opts.NetnsPath) {
		return nil, fmt.Errorf("network namespace path %q must be absolute", opts.NetnsPath)
	}
	return &controller{e: e, task: t, id: t.ID, opts: opts}, nil
}

func taskID(t *swarm.Task) string {
	if t == nil {
		return ""
	}
	return t.ID
}

// List reports every container under the executor's Root, and any container runc knows
// under our runc root that has no bundle left, so nothing escapes the agent's reconciliation.
func (e *Executor) List(ctx context.Context) ([]shoalexec.ContainerInfo, error) {
	entries, err := os.ReadDir(filepath.Join(e.opts.Root, "containers"))
	if err != nil {
		return nil, err
	}
	var out []shoalexec.ContainerInfo
	seen := map[string]bool{}
	for _, ent := range entries {
		if !ent.IsDir() || !validID.MatchString(ent.Name()) {
			continue
		}
		seen[ent.Name()] = true
		out = append(out, e.inspect(ent.Name()))
	}
	states, err := e.runc.list(ctx)
	if err != nil {
		return out, fmt.Errorf("list runc containers: %w", err)
	}
	for _, st := range states {
		if !seen[st.ID] {
			out = append(out, shoalexec.ContainerInfo{
				ID: st.ID, State: shoalexec.ContainerBroken, PID: st.PID,
				Error: "runc container without a bundle",
			})
		}
	}
	slices.SortFunc(out, func(a, b shoalexec.ContainerInfo) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// lockOp takes the operation lock of one container.
func (e *Executor) lockOp(id string) (unlock func()) {
	e.mu.Lock()
	l := e.opLocks[id]
	if l == nil {
		l = &opLock{}
		e.opLocks[id] = l
	}
	l.users++
	e.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		e.mu.Lock()
		if l.users--; l.users == 0 {
			delete(e.opLocks, id)
		}
		e.mu.Unlock()
	}
}

// Files of a container's bundle directory.
const (
	metaFile       = "meta.json"   // written last by Prepare: the container is prepared
	configFile     = "config.json" // the OCI runtime config
	rootfsDir      = "rootfs"      // the overlay mount
	upperDir       = "upper"
	workDir        = "work"
	stdoutFIFO     = "stdout.fifo"
	stderrFIFO     = "stderr.fifo"
	wrapperPIDFile = "wrapper.pid" // written by the wrapper: it has started
	initPIDFile    = "init.pid"    // written by runc: the container's process runs
	exitCodeFile   = "exitcode"    // written by the wrapper when runc returned
	runcLogFile    = "runc.log"
	logFile        = "container.log"
	lockFile       = "supervisor.lock" // flock held by the executor that reads the output
	healthPIDFile  = "health.pid"
	hostsFile      = "hosts"
	hostnameFile   = "hostname"
	resolvConfFile = "resolv.conf"
)

func (e *Executor) dir(id string) string { return filepath.Join(e.opts.Root, "containers", id) }

// meta is what the executor records about a container in its bundle, for itself after a
// restart.
type meta struct {
	ID          string
	TaskID      string
	ServiceID   string
	Slot        int
	Image       string
	ImageID     string
	Hostname    string
	NetnsPath   string
	NetnsName   string // set when the namespace is ours to delete
	CgroupsPath string
	StopSignal  int
	Healthcheck *container.HealthConfig
	CreatedAt   time.Time
	// What the container runs, for inspection and for execs in it.
	Args   []string
	Env    []string
	Cwd    string
	User   string   // as the spec or image gave it: "user[:group]"
	Groups []string // the spec's extra groups, which execs as another user join too
	Labels map[string]string
}

func readMeta(dir string) (meta, error) {
	var m meta
	b, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("read %s: %w", filepath.Join(dir, metaFile), err)
	}
	return m, nil
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// readPID reads a pid file; 0 when it is missing or bad.
func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// readExitCode reads the exit code the wrapper recorded and when.
func readExitCode(dir string) (int, time.Time, error) {
	p := filepath.Join(dir, exitCodeFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, time.Time{}, err
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("bad exit code in %s: %q", p, b)
	}
	var at time.Time
	if fi, err := os.Stat(p); err == nil {
		at = fi.ModTime()
	}
	return code, at, nil
}

// inspect reports a container's state from its bundle and processes, without adopting it.
func (e *Executor) inspect(id string) shoalexec.ContainerInfo {
	dir := e.dir(id)
	info := shoalexec.ContainerInfo{ID: id}
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		info.State = shoalexec.ContainerMissing
		return info
	}
	m, err := readMeta(dir)
	if err != nil {
		info.State = shoalexec.ContainerBroken
		info.Error = "incomplete container (interrupted prepare or remove)"
		return info
	}
	info.TaskID, info.ServiceID, info.Slot, info.Image, info.NetnsPath = m.TaskID, m.ServiceID, m.Slot, m.Image, m.NetnsPath
	info.CreatedAt, info.Args, info.Env, info.WorkingDir, info.User, info.Labels = m.CreatedAt, m.Args, m.Env, m.Cwd, m.User, m.Labels
	wpid := readPID(filepath.Join(dir, wrapperPIDFile))
	if wpid == 0 {
		info.State = shoalexec.ContainerPrepared
		return info
	}
	if fi, err := os.Stat(filepath.Join(dir, initPIDFile)); err == nil {
		info.StartedAt = fi.ModTime()
	}
	e.mu.Lock()
	s := e.supervised[id]
	e.mu.Unlock()
	running := wrapperAlive(wpid, dir)
	if s != nil {
		running = !s.hasExited()
	}
	if running {
		info.State = shoalexec.ContainerRunning
		info.PID = readPID(filepath.Join(dir, initPIDFile))
		return info
	}
	info.State = shoalexec.ContainerExited
	if s != nil {
		st := s.exitStatus()
		info.Exit = &st
		return info
	}
	code, at, err := readExitCode(dir)
	if err != nil {
		info.State = shoalexec.ContainerBroken
		info.Error = "the container's wrapper ended without recording an exit code"
		return info
	}
	st := shoalexec.ExitStatusFromCode(code, at)
	info.Exit = &st
	return info
}

// wrapperAlive reports whether pid is still the wrapper of the container in dir (and not a
// zombie, nor a process that took over a recycled pid).
func wrapperAlive(pid int, dir string) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	return strings.Contains(string(cmdline), "\x00"+wrapperName+"\x00"+dir+"\x00")
}

// RemoveAll removes every container under the executor's Root, running or not, with all
// they use (as Remove does for one). It is for a node that leaves the cluster, or tooling
// that clears a node whose daemon is gone for good; a running daemon's agent removes its
// containers one by one instead.
func (e *Executor) RemoveAll(ctx context.Context) error {
	list, err := e.List(ctx)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, ci := range list {
		c, err := e.Controller(&swarm.Task{ID: ci.ID})
		if err == nil {
			err = c.Remove(ctx)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove container %s: %w", ci.ID, err))
		}
	}
	return errors.Join(errs...)
}

// ControllerInNetns is ControllerFor with a network namespace the caller made.
func (e *Executor) ControllerInNetns(t *swarm.Task, netnsPath string) (shoalexec.Controller, error) {
	return e.ControllerFor(t, ControllerOptions{NetnsPath: netnsPath})
}
