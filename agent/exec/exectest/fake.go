// Package exectest is an in-memory exec.Executor for control-plane tests: tasks "run" without
// processes on a clock the test drives, and end when their script says, when the test says
// (Exit, KillAll) or when they are stopped. An exec in a running task runs a few builtin
// commands (RunBuiltin) or what its script says. It keeps the contract of the real executor
// (idempotent operations, ErrTaskPrepared/ErrTaskStarted, Wait and ErrUnhealthy, grace then
// kill), so code that passes with it behaves the same over runc.
package exectest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/agent/exec"
	"github.com/shoal/shoal/internal/clock"
)

// Script says how the tasks of one image behave.
type Script struct {
	// PrepareErr and StartErr make Prepare or Start fail, as a missing image
	// ("No such image: x") or a missing binary would.
	PrepareErr error
	StartErr   error
	// RunFor makes a started task end by itself after that long on the clock, with
	// ExitCode. Zero runs until stopped.
	RunFor   time.Duration
	ExitCode int
	// IgnoreStop makes the stop signal do nothing: Shutdown kills the task once the grace
	// period is over (exit 137). Otherwise the signal ends it with 128+signal.
	IgnoreStop bool
	// Healthcheck gives started tasks a health status of "starting"; the test moves it with
	// SetHealth.
	Healthcheck bool
	// Output is what a started task prints on stdout, a line each.
	Output []string
	// Exec, if set, is what an exec in a running task does; otherwise RunBuiltin.
	Exec ExecFunc
}

// Call is one controller operation the executor received.
type Call struct {
	TaskID string
	Op     string // prepare, start, shutdown, terminate, remove
}

// Executor is the fake. Its zero value is not usable; call New.
type Executor struct {
	clock clock.Clock

	mu          sync.Mutex // guards the fields below and every container's state
	description swarm.NodeDescription
	scripts     map[string]Script // by image reference; "" for any other image
	containers  map[string]*fakeContainer
	calls       []Call
	execs       []ExecCall
}

type fakeContainer struct {
	task      *swarm.Task
	script    Script
	state     exec.ContainerState
	createdAt time.Time
	startedAt time.Time
	exit      *exec.ExitStatus
	health    container.Health
	output    []exec.LogMessage
	changed   chan struct{} // closed and replaced on every change
}

var _ exec.Executor = (*Executor)(nil)

// New makes a fake executor on clk.
func New(clk clock.Clock) *Executor {
	return &Executor{
		clock: clk,
		description: swarm.NodeDescription{
			Hostname:  "fake",
			Platform:  swarm.Platform{Architecture: "x86_64", OS: "linux"},
			Resources: swarm.Resources{NanoCPUs: 4e9, MemoryBytes: 8 << 30},
			Engine:    swarm.EngineDescription{EngineVersion: "exectest"},
		},
		scripts:    map[string]Script{},
		containers: map[string]*fakeContainer{},
	}
}

// SetScript sets how tasks of image (or, for "", of any image without a script of its own)
// behave from their next Prepare on.
func (e *Executor) SetScript(image string, s Script) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.scripts[image] = s
}

// SetDescription sets what Describe reports.
func (e *Executor) SetDescription(d swarm.NodeDescription) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.description = d
}

// Exit ends a running task now with code, as if its process exited.
func (e *Executor) Exit(taskID string, code int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.containers[taskID]
	if c == nil || c.state != exec.ContainerRunning {
		return fmt.Errorf("task %s is not running", taskID)
	}
	e.exitLocked(c, code)
	return nil
}

// KillAll ends every running task with 137, as a node losing its containers would.
func (e *Executor) KillAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.containers {
		if c.state == exec.ContainerRunning {
			e.exitLocked(c, 128+int(syscall.SIGKILL))
		}
	}
}

// SetHealth sets a running task's health status (its task must have a Healthcheck script).
func (e *Executor) SetHealth(taskID string, status container.HealthStatus) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.containers[taskID]
	if c == nil || c.state != exec.ContainerRunning || !c.script.Healthcheck {
		return fmt.Errorf("task %s is not running with a health check", taskID)
	}
	if status == container.Healthy {
		c.health.FailingStreak = 0
	} else if status == container.Unhealthy {
		c.health.FailingStreak++
	}
	c.health.Status = status
	c.notifyLocked()
	return nil
}

// Calls lists the operations received so far, in order.
func (e *Executor) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

// Running lists the IDs of the tasks running now, sorted.
func (e *Executor) Running() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ids []string
	for id, c := range e.containers {
		if e.settleLocked(c); c.state == exec.ContainerRunning {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (e *Executor) Describe(ctx context.Context) (swarm.NodeDescription, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.description, nil
}

func (e *Executor) Controller(t *swarm.Task) (exec.Controller, error) {
	if t == nil || t.ID == "" {
		return nil, errors.New("task without an ID")
	}
	return &controller{e: e, task: t}, nil
}

func (e *Executor) List(ctx context.Context) ([]exec.ContainerInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []exec.ContainerInfo
	for _, c := range e.containers {
		out = append(out, e.infoLocked(c))
	}
	slices.SortFunc(out, func(a, b exec.ContainerInfo) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// settleLocked ends a task whose script run time is over by the clock.
func (e *Executor) settleLocked(c *fakeContainer) {
	if c.state == exec.ContainerRunning && c.script.RunFor > 0 && !e.clock.Now().Before(c.startedAt.Add(c.script.RunFor)) {
		e.exitLocked(c, c.script.ExitCode)
	}
}

func (e *Executor) exitLocked(c *fakeContainer, code int) {
	st := exec.ExitStatusFromCode(code, e.clock.Now())
	c.state, c.exit = exec.ContainerExited, &st
	c.notifyLocked()
}

func (c *fakeContainer) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (e *Executor) infoLocked(c *fakeContainer) exec.ContainerInfo {
	e.settleLocked(c)
	info := exec.ContainerInfo{
		ID: c.task.ID, TaskID: c.task.ID, ServiceID: c.task.ServiceID, Slot: c.task.Slot,
		State: c.state, Exit: c.exit, StartedAt: c.startedAt, CreatedAt: c.createdAt,
	}
	if cs := c.task.Spec.ContainerSpec; cs != nil {
		info.Image = cs.Image
		info.Args = append(slices.Clone(cs.Command), cs.Args...)
		info.Env = slices.Clone(cs.Env)
		info.WorkingDir, info.User = cs.Dir, cs.User
		info.Labels = cs.Labels
	}
	if c.state == exec.ContainerRunning {
		info.PID = 1000 + len(c.task.ID)
	}
	return info
}

func (e *Executor) record(taskID, op string) {
	e.calls = append(e.calls, Call{TaskID: taskID, Op: op})
}

// controller is a handle on the executor's state for one task: any number of controllers of a
// task agree, as after an agent restart.
type controller struct {
	e    *Executor
	task *swarm.Task
}

func (c *controller) Prepare(ctx context.Context) error {
	spec, err := exec.ContainerSpec(c.task)
	if err != nil {
		return err
	}
	e := c.e
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record(c.task.ID, "prepare")
	if e.containers[c.task.ID] != nil {
		return exec.ErrTaskPrepared
	}
	script, ok := e.scripts[spec.Image]
	if !ok {
		script = e.scripts[""]
	}
	if script.PrepareErr != nil {
		return script.PrepareErr
	}
	e.containers[c.task.ID] = &fakeContainer{
		task: c.task, script: script, state: exec.ContainerPrepared, createdAt: e.clock.Now(),
		health: container.Health{Status: container.NoHealthcheck}, changed: make(chan struct{}),
	}
	return nil
}

func (c *controller) Start(ctx context.Context) error {
	e := c.e
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record(c.task.ID, "start")
	fc := e.containers[c.task.ID]
	switch {
	case fc == nil:
		return exec.ErrTaskNotPrepared
	case fc.state != exec.ContainerPrepared:
		return exec.ErrTaskStarted
	}
	fc.startedAt = e.clock.Now()
	if fc.script.StartErr != nil {
		e.exitLocked(fc, 1)
		return fmt.Errorf("starting container failed: %w", fc.script.StartErr)
	}
	fc.state = exec.ContainerRunning
	if fc.script.Healthcheck {
		fc.health = container.Health{Status: container.Starting}
	}
	for _, line := range fc.script.Output {
		fc.output = append(fc.output, exec.LogMessage{Time: fc.startedAt, Stream: "stdout", Line: []byte(line + "\n")})
	}
	fc.notifyLocked()
	return nil
}

func (c *controller) Wait(ctx context.Context) (exec.ExitStatus, error) {
	e := c.e
	for {
		e.mu.Lock()
		fc := e.containers[c.task.ID]
		if fc == nil {
			e.mu.Unlock()
			return exec.ExitStatus{}, fmt.Errorf("container %s: %w", c.task.ID, exec.ErrNoContainer)
		}
		e.settleLocked(fc)
		if fc.exit != nil {
			st := *fc.exit
			e.mu.Unlock()
			return st, nil
		}
		if fc.health.Status == container.Unhealthy {
			e.mu.Unlock()
			return exec.ExitStatus{}, exec.ErrUnhealthy
		}
		changed := fc.changed
		var due <-chan time.Time
		if fc.state == exec.ContainerRunning && fc.script.RunFor > 0 {
			due = e.clock.After(fc.startedAt.Add(fc.script.RunFor).Sub(e.clock.Now()))
		}
		e.mu.Unlock()
		select {
		case <-changed:
		case <-due:
		case <-ctx.Done():
			return exec.ExitStatus{}, ctx.Err()
		}
	}
}

func (c *controller) Shutdown(ctx context.Context, sig syscall.Signal, grace time.Duration) error {
	e := c.e
	e.mu.Lock()
	e.record(c.task.ID, "shutdown")
	fc := e.containers[c.task.ID]
	if fc == nil {
		e.mu.Unlock()
		return nil
	}
	if e.settleLocked(fc); fc.state != exec.ContainerRunning {
		e.mu.Unlock()
		return nil
	}
	if sig == 0 {
		sig = syscall.SIGTERM
		if cs := fc.task.Spec.ContainerSpec; cs != nil && cs.StopSignal != "" {
			if s, err := exec.ParseSignal(cs.StopSignal); err == nil {
				sig = s
			}
		}
	}
	if !fc.script.IgnoreStop {
		e.exitLocked(fc, 128+int(sig))
		e.mu.Unlock()
		return nil
	}
	changed := fc.changed
	e.mu.Unlock()
	select {
	case <-changed: // ended otherwise meanwhile
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-e.clock.After(grace):
	}
	return c.kill()
}

func (c *controller) Terminate(ctx context.Context) error {
	c.e.mu.Lock()
	c.e.record(c.task.ID, "terminate")
	c.e.mu.Unlock()
	return c.kill()
}

func (c *controller) kill() error {
	e := c.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if fc := e.containers[c.task.ID]; fc != nil && fc.state == exec.ContainerRunning {
		e.exitLocked(fc, 128+int(syscall.SIGKILL))
	}
	return nil
}

func (c *controller) Remove(ctx context.Context) error {
	e := c.e
	e.mu.Lock()
	defer e.mu.Unlock()
	e.record(c.task.ID, "remove")
	if fc := e.containers[c.task.ID]; fc != nil {
		if fc.state == exec.ContainerRunning {
			e.exitLocked(fc, 128+int(syscall.SIGKILL))
		}
		delete(e.containers, c.task.ID)
		fc.notifyLocked()
	}
	return nil
}

func (c *controller) Inspect(ctx context.Context) (exec.ContainerInfo, error) {
	e := c.e
	e.mu.Lock()
	defer e.mu.Unlock()
	fc := e.containers[c.task.ID]
	if fc == nil {
		return exec.ContainerInfo{ID: c.task.ID, State: exec.ContainerMissing}, nil
	}
	return e.infoLocked(fc), nil
}

func (c *controller) Health() container.Health {
	e := c.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if fc := e.containers[c.task.ID]; fc != nil {
		return fc.health
	}
	return container.Health{Status: container.NoHealthcheck}
}

func (c *controller) Logs(ctx context.Context, opts exec.LogsOptions, fn func(exec.LogMessage) error) error {
	e := c.e
	e.mu.Lock()
	fc := e.containers[c.task.ID]
	if fc == nil {
		e.mu.Unlock()
		return fmt.Errorf("container %s: %w", c.task.ID, exec.ErrNoContainer)
	}
	var lines []exec.LogMessage
	for _, m := range fc.output {
		if opts.Since.IsZero() || !m.Time.Before(opts.Since) {
			lines = append(lines, m)
		}
	}
	if opts.Tail > 0 && len(lines) > opts.Tail {
		lines = lines[len(lines)-opts.Tail:]
	}
	e.mu.Unlock()
	for _, m := range lines {
		if err := fn(m); err != nil {
			return err
		}
	}
	if opts.Follow {
		// The scripted output is all written at start: following ends with the task.
		if _, err := c.Wait(ctx); err != nil && !errors.Is(err, exec.ErrUnhealthy) {
			return err
		}
	}
	return nil
}

func (c *controller) Close() error { return nil }
