package exec

import (
	"errors"
	"io"
	"strings"
)

// ExecConfig says what to run in a running container and how, as `docker exec` does. What
// it leaves empty comes from the container's own process: its user, working directory and
// environment.
type ExecConfig struct {
	Cmd []string // the command and its arguments; required
	// Env is added to the container's environment, replacing variables of the same name.
	Env []string
	// User is "user[:group]" (names or numbers) as the container's /etc/passwd and
	// /etc/group know them; empty runs as the container's user.
	User       string
	WorkingDir string // empty is the container's working directory
	// Tty runs the command on a new pseudo-terminal: its stdin, stdout and stderr are the
	// terminal, so everything it writes comes out on ExecIO.Stdout.
	Tty bool
	// ConsoleSize is the terminal's size from the start, with Tty; nil leaves the kernel's
	// default until the first resize.
	ConsoleSize *TermSize
}

// TermSize is a terminal's size in characters.
type TermSize struct {
	Height, Width uint16
}

// ExecIO connects an exec's process to its caller. A nil stream is not attached: the
// process reads nothing (end of file) and its output there is discarded.
type ExecIO struct {
	// Stdin is what the process reads. Its end of file closes the process's input (without
	// Tty). Exec closes Stdin once the process has ended, which also ends a Read it is
	// blocked in, so nothing is left reading it.
	Stdin  io.ReadCloser
	Stdout io.Writer
	Stderr io.Writer // unused with Tty: the terminal carries both outputs on Stdout
	// Resize sets the terminal's size (with Tty) each time a size arrives; it may be nil.
	// Exec stops receiving once the process has ended.
	Resize <-chan TermSize
	// Started, if set, is called once the process runs, with its pid as the node sees it.
	Started func(pid int)
}

// Errors of Exec; test with errors.Is.
var (
	// ErrNotRunning: the container does not run, so nothing can be executed in it.
	ErrNotRunning = errors.New("container is not running")
	// ErrExecStart: the command could not be started (no such executable, no permission,
	// no such user). The exit code Exec returns with it says which, as docker's does.
	ErrExecStart = errors.New("exec failed")
)

// NotRunningError is ErrNotRunning for one container, worded as docker words it.
type NotRunningError struct{ ID string }

func (e *NotRunningError) Error() string        { return "container " + e.ID + " is not running" }
func (e *NotRunningError) Is(target error) bool { return target == ErrNotRunning }

// ExecStartError is a command that could not be started; it matches ErrExecStart.
type ExecStartError struct {
	Reason string
	// Reported says the runtime has already written Reason to the exec's Stderr, so the
	// caller need not repeat it there.
	Reported bool
}

func (e *ExecStartError) Error() string        { return e.Reason }
func (e *ExecStartError) Is(target error) bool { return target == ErrExecStart }

// Exit codes of a command that could not be started, as a shell (and docker) reports them.
const (
	ExitCannotInvoke = 126 // found but not executable (permission, a directory, a bad user)
	ExitNotFound     = 127 // no such executable
)

// ExecStartExitCode is the exit code docker gives a command that failed to start for
// reason: 127 when the executable is missing, 126 otherwise.
func ExecStartExitCode(reason string) int {
	r := strings.ToLower(reason)
	for _, notFound := range []string{"executable file not found", "no such file or directory", "not found in $path"} {
		if strings.Contains(r, notFound) {
			return ExitNotFound
		}
	}
	return ExitCannotInvoke
}

// ExecEnv is an exec's environment: the container's with extra set over it, as docker's
// exec does (a variable of extra replaces the container's in place, a bare KEY removes it).
func ExecEnv(container, extra []string) []string { return overlayEnv(container, extra) }
