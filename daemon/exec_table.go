package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/shoal/shoal/agent/exec"
	"github.com/shoal/shoal/internal/apierr"
	"github.com/shoal/shoal/internal/clock"
)

// Bounds of the exec table: instances are kept in memory only, as Docker keeps them.
const (
	maxExecs = 1024
	// execRetention is how long an exec that ended, or was never started, stays to be
	// inspected (Docker drops unused ones every five minutes).
	execRetention = 5 * time.Minute
)

// execInstance is one exec on this node, from create until the table drops it.
type execInstance struct {
	id          string
	containerID string
	cfg         exec.ExecConfig
	req         container.ExecCreateRequest // as the client asked, for inspection
	createdAt   time.Time
	resize      chan exec.TermSize // read by the running exec while it has a terminal
	started     chan struct{}      // closed once the command runs, or has ended without
	done        chan struct{}      // closed once it has ended

	mu        sync.Mutex // guards the fields below
	claimed   bool       // a start has been asked for
	running   bool
	pid       int
	exitCode  *int
	endedAt   time.Time
	startOnce sync.Once
}

// claim marks the exec as starting; it refuses a second start as Docker does.
func (x *execInstance) claim() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case x.exitCode != nil:
		return apierr.Conflictf("exec command %s has already run", x.id)
	case x.claimed:
		return apierr.Conflictf("exec command %s is already running", x.id)
	}
	x.claimed = true
	return nil
}

// markRunning records that the command runs with pid.
func (x *execInstance) markRunning(pid int) {
	x.mu.Lock()
	x.running, x.pid = true, pid
	x.mu.Unlock()
	x.startOnce.Do(func() { close(x.started) })
}

// end records the command's exit code (126 or 127 for one that could not start, as Docker).
func (x *execInstance) end(code int, at time.Time) {
	x.mu.Lock()
	if x.exitCode != nil {
		x.mu.Unlock()
		return
	}
	x.running, x.exitCode, x.endedAt = false, &code, at
	x.mu.Unlock()
	x.startOnce.Do(func() { close(x.started) })
	close(x.done)
}

// inspect is the exec as `GET /exec/{id}/json` shows it; ExitCode is null until it ends.
func (x *execInstance) inspect() container.ExecInspectResponse {
	x.mu.Lock()
	defer x.mu.Unlock()
	privileged := false
	resp := container.ExecInspectResponse{
		ID:      x.id,
		Running: x.running,
		ProcessConfig: &container.ExecProcessConfig{
			Tty:        x.cfg.Tty,
			Entrypoint: x.cfg.Cmd[0],
			Arguments:  slices.Clone(x.cfg.Cmd[1:]),
			Privileged: &privileged,
			User:       x.cfg.User,
		},
		OpenStdin:   x.req.AttachStdin,
		OpenStdout:  x.req.AttachStdout,
		OpenStderr:  x.req.AttachStderr,
		ContainerID: x.containerID,
		DetachKeys:  []byte{},
		Pid:         x.pid,
	}
	if x.exitCode != nil {
		code := *x.exitCode
		resp.ExitCode = &code
	}
	return resp
}

// droppable says whether the table may forget the exec at now: ended, or never started,
// for longer than execRetention.
func (x *execInstance) droppable(now time.Time) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case x.exitCode != nil:
		return now.Sub(x.endedAt) >= execRetention
	case !x.claimed:
		return now.Sub(x.createdAt) >= execRetention
	}
	return false
}

// execTable holds this node's exec instances, at most maxExecs of them.
type execTable struct {
	clock clock.Clock
	limit int

	mu       sync.Mutex // guards byID, detached, nextRun and stopping
	byID     map[string]*execInstance
	detached map[int]context.CancelFunc // the detached execs running, by run number
	nextRun  int
	stopping bool           // set by stop: no exec starts any more
	runWG    sync.WaitGroup // execs still running, attached or detached
}

func newExecTable(clk clock.Clock) *execTable {
	return &execTable{clock: clk, limit: maxExecs, byID: map[string]*execInstance{}, detached: map[int]context.CancelFunc{}}
}

// errStopping refuses an exec while the daemon stops.
var errStopping = apierr.Unavailablef("the daemon is stopping: no exec can start")

// begin counts an attached exec in, so stop waits for it (its context ends with the
// daemon's); errStopping once stop has begun. The caller calls end when it is over.
func (t *execTable) begin() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopping {
		return errStopping
	}
	t.runWG.Add(1)
	return nil
}

func (t *execTable) end() { t.runWG.Done() }

// runDetached runs a detached exec in the background, under a context that ends with
// parent or with stop; errStopping once stop has begun.
func (t *execTable) runDetached(parent context.Context, run func(ctx context.Context)) error {
	ctx, cancel := context.WithCancel(parent)
	t.mu.Lock()
	if t.stopping {
		t.mu.Unlock()
		cancel()
		return errStopping
	}
	n := t.nextRun
	t.nextRun++
	t.detached[n] = cancel
	t.runWG.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.runWG.Done()
		defer func() {
			t.mu.Lock()
			delete(t.detached, n)
			t.mu.Unlock()
			cancel()
		}()
		run(ctx)
	}()
	return nil
}

// stop refuses new execs, kills the detached ones still running and waits for every exec,
// attached ones included (their contexts end with the daemon's), to end.
func (t *execTable) stop() {
	t.mu.Lock()
	t.stopping = true
	for _, cancel := range t.detached {
		cancel()
	}
	t.mu.Unlock()
	t.runWG.Wait()
}

// add makes a new exec instance with a fresh ID (64 hex digits, as Docker's), first
// dropping old ones; a table full of execs still in use refuses it.
func (t *execTable) add(containerID string, cfg exec.ExecConfig, req container.ExecCreateRequest) (*execInstance, error) {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, x := range t.byID {
		if x.droppable(now) {
			delete(t.byID, id)
		}
	}
	if len(t.byID) >= t.limit {
		return nil, apierr.Unavailablef("too many exec instances on this node (%d): wait for some to end, or start the ones created", t.limit)
	}
	x := &execInstance{
		id: newExecID(), containerID: containerID, cfg: cfg, req: req, createdAt: now,
		resize: make(chan exec.TermSize), started: make(chan struct{}), done: make(chan struct{}),
	}
	t.byID[x.id] = x
	return x, nil
}

// get finds an exec instance by its full ID.
func (t *execTable) get(id string) (*execInstance, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if x := t.byID[id]; x != nil {
		return x, nil
	}
	return nil, apierr.NotFoundf("No such exec instance: %s", id)
}

func newExecID() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}
