package exec

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
)

// Executor runs a node's tasks.
type Executor interface {
	// Describe reports what the node offers to run tasks: platform, CPUs and memory, engine.
	Describe(ctx context.Context) (swarm.NodeDescription, error)
	// Controller returns the controller for one task. It only binds the task; nothing is
	// created before Prepare. For a task whose container already exists (a restarted agent
	// re-adopting its containers) the controller drives that container. A task with only
	// an ID is enough to Wait, Shutdown, Terminate, Inspect or Remove an existing container.
	Controller(t *swarm.Task) (Controller, error)
	// List reports every container the executor has, running or not, including any it
	// cannot tie to a task any more (so the agent can remove it): nothing is left behind
	// unseen after a restart.
	List(ctx context.Context) ([]ContainerInfo, error)
}

// Controller drives one task's container. Its methods may be called from several goroutines
// (Wait in one, Shutdown in another).
type Controller interface {
	// Prepare resolves the image and makes the container short of starting it (root
	// filesystem, namespaces, limits). ErrTaskPrepared when that was already done.
	Prepare(ctx context.Context) error
	// Start starts the prepared container and returns once its process runs, or with the
	// reason it could not start. ErrTaskStarted when it was started before.
	Start(ctx context.Context) error
	// Wait blocks until the container exits and reports how. It returns ErrUnhealthy (with a
	// zero status) when the task's health check declares it unhealthy first, and ctx's error
	// when ctx ends first.
	Wait(ctx context.Context) (ExitStatus, error)
	// Shutdown sends the stop signal (sig, or the task's StopSignal when sig is 0), waits up
	// to grace for the container to exit, then kills it, and returns once it has exited.
	// Shutting down a container that is not running succeeds.
	Shutdown(ctx context.Context, sig syscall.Signal, grace time.Duration) error
	// Terminate kills the container at once (SIGKILL) and returns once it has exited.
	Terminate(ctx context.Context) error
	// Remove kills the container if it still runs and removes everything it used: mounts,
	// namespaces, cgroups, files. Removing what does not exist succeeds.
	Remove(ctx context.Context) error
	// Inspect reports the container's current state.
	Inspect(ctx context.Context) (ContainerInfo, error)
	// Health reports the health check's state (Status NoHealthcheck when there is none).
	Health() container.Health
	// Logs calls fn for each line of the container's captured output, oldest first. With
	// Follow it keeps calling fn for new lines until the output ends (the container exited
	// and all it wrote was read) or ctx ends. An error from fn stops Logs with that error.
	Logs(ctx context.Context, opts LogsOptions, fn func(LogMessage) error) error
	// Exec runs a command in the running container, as `docker exec` does, connected to io,
	// and returns its exit code once it has ended and its output has been copied out. A
	// container that does not run gives a *NotRunningError (ErrNotRunning); a command that
	// cannot start gives an *ExecStartError (ErrExecStart) with the exit code docker reports
	// for it (126 or 127). Ending ctx kills the command; Exec then returns ctx's error.
	Exec(ctx context.Context, cfg ExecConfig, io ExecIO) (exitCode int, err error)
	// Close releases the controller; the container is left as it is.
	Close() error
}

// Errors the controllers return; test with errors.Is.
var (
	ErrTaskPrepared    = errors.New("task already prepared")
	ErrTaskStarted     = errors.New("task already started")
	ErrTaskNotPrepared = errors.New("task not prepared")
	ErrUnhealthy       = errors.New("task unhealthy")
	ErrNoContainer     = errors.New("no such container")
)

// ContainerState is what a container is doing.
type ContainerState string

const (
	// ContainerPrepared: Prepare made it, Start has not run it.
	ContainerPrepared ContainerState = "prepared"
	// ContainerRunning: its process runs.
	ContainerRunning ContainerState = "running"
	// ContainerExited: its process ended; Exit says how.
	ContainerExited ContainerState = "exited"
	// ContainerBroken: only remains of it exist (an interrupted Prepare or Remove, or a
	// container whose supervising process was lost); Remove clears it.
	ContainerBroken ContainerState = "broken"
	// ContainerMissing: there is no such container.
	ContainerMissing ContainerState = "missing"
)

// ContainerInfo describes one container of an executor.
type ContainerInfo struct {
	ID        string // the container's ID; the task's ID for containers made by an Executor
	TaskID    string // empty when the container can no longer be tied to a task
	ServiceID string
	Slot      int
	Image     string
	State     ContainerState
	PID       int         // the container's init process as the host sees it, while running
	Exit      *ExitStatus // set once exited
	NetnsPath string      // the network namespace the container runs in
	StartedAt time.Time
	Error     string // why the container is broken

	// How the container was made, where the executor knows it: its process's command line,
	// environment, working directory and user ("user[:group]" as the spec or image gave
	// it), and the labels of its spec.
	CreatedAt  time.Time
	Args       []string
	Env        []string
	WorkingDir string
	User       string
	Labels     map[string]string
}

// ContainerStatus is the swarm view of the container for a task's status.
func (c ContainerInfo) ContainerStatus() *swarm.ContainerStatus {
	st := &swarm.ContainerStatus{ContainerID: c.ID, PID: c.PID}
	if c.Exit != nil {
		st.ExitCode = c.Exit.Code
	}
	return st
}

// ExitStatus says how a container's process ended.
type ExitStatus struct {
	// Code is the exit code; 128+n when signal n killed the process (as a shell reports it).
	Code int
	// Signal is the signal that killed the process, if one did.
	Signal syscall.Signal
	At     time.Time
}

// Err is nil for a zero exit and otherwise the error a task reports, worded as swarm does.
func (s ExitStatus) Err() error {
	if s.Code == 0 {
		return nil
	}
	return &ExitError{Status: s}
}

// ExitError is a task's non-zero exit.
type ExitError struct{ Status ExitStatus }

func (e *ExitError) Error() string { return fmt.Sprintf("task: non-zero exit (%d)", e.Status.Code) }

// ExitStatusFromCode reads a shell-style exit code (128+n for signal n).
func ExitStatusFromCode(code int, at time.Time) ExitStatus {
	s := ExitStatus{Code: code, At: at}
	if code > 128 && code < 128+65 {
		s.Signal = syscall.Signal(code - 128)
	}
	return s
}

// LogsOptions selects captured output.
type LogsOptions struct {
	Follow bool
	Tail   int       // only the last Tail lines; 0 or less means all
	Since  time.Time // only lines written at or after Since
}

// LogMessage is one captured line (or part of a long line: Partial is true for every part but
// the last).
type LogMessage struct {
	Time    time.Time
	Stream  string // "stdout" or "stderr"
	Line    []byte // with its trailing newline, if it had one
	Partial bool
}

// NetnsExecutor is an Executor that can run a task in a network namespace the caller made
// (the networking layer wires that namespace to the task's overlay networks first).
type NetnsExecutor interface {
	ControllerInNetns(t *swarm.Task, netnsPath string) (Controller, error)
}
