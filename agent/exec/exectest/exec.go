package exectest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/shoal/shoal/agent/exec"
)

// ExecFunc is what an exec does in the fake: it reads and writes streams and returns the
// command's exit code. A read of stdin blocked when ctx ends fails then (Exec closes it).
type ExecFunc func(ctx context.Context, cfg exec.ExecConfig, streams ExecStreams) (int, error)

// ExecStreams are an exec's streams in the fake, with the terminal it sees when cfg.Tty.
type ExecStreams struct {
	Stdin          io.Reader // empty when the caller attached none
	Stdout, Stderr io.Writer // Stderr is Stdout with a terminal; both discard when detached
	// Size is the terminal's size now (the last ConsoleSize or resize), zero without Tty.
	Size func() exec.TermSize
}

// Execs lists the exec configurations received so far, in order, with the ID of the task
// each ran in.
func (e *Executor) Execs() []ExecCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]ExecCall(nil), e.execs...)
}

// ExecCall is one exec the fake ran.
type ExecCall struct {
	TaskID string
	Config exec.ExecConfig
}

func (c *controller) Exec(ctx context.Context, cfg exec.ExecConfig, sio exec.ExecIO) (int, error) {
	if sio.Stdin != nil {
		defer sio.Stdin.Close()
		// A command blocked reading stdin ends when ctx does, as a killed process would.
		stop := context.AfterFunc(ctx, func() { sio.Stdin.Close() })
		defer stop()
	}
	if len(cfg.Cmd) == 0 {
		return 0, errors.New("no command to exec")
	}
	e := c.e
	e.mu.Lock()
	fc := e.containers[c.task.ID]
	if fc != nil {
		e.settleLocked(fc)
	}
	if fc == nil {
		e.mu.Unlock()
		return 0, fmt.Errorf("container %s: %w", c.task.ID, exec.ErrNoContainer)
	}
	if fc.state != exec.ContainerRunning {
		e.mu.Unlock()
		return 0, &exec.NotRunningError{ID: c.task.ID}
	}
	e.record(c.task.ID, "exec")
	e.execs = append(e.execs, ExecCall{TaskID: c.task.ID, Config: cfg})
	run := fc.script.Exec
	e.mu.Unlock()
	if run == nil {
		// A builtin that does not exist never starts: no Started for it.
		found, err := builtin(cfg)
		if err != nil {
			return exec.ExecStartExitCode(err.Error()), err
		}
		run = func(_ context.Context, _ exec.ExecConfig, s ExecStreams) (int, error) { return found(s) }
	}

	term := &fakeTerminal{}
	if cfg.ConsoleSize != nil {
		term.set(*cfg.ConsoleSize)
	}
	stopResizes := term.follow(sio.Resize, cfg.Tty)
	defer stopResizes()
	if sio.Started != nil {
		sio.Started(4000 + len(e.Execs()))
	}
	code, err := run(ctx, cfg, fakeStreams(cfg, sio, term))
	if ctx.Err() != nil {
		return 128 + int(syscall.SIGKILL), ctx.Err()
	}
	return code, err
}

// fakeStreams are the streams a fake exec sees: what the caller attached, with nothing to
// read and output discarded for the rest, and both outputs on Stdout with a terminal.
func fakeStreams(cfg exec.ExecConfig, sio exec.ExecIO, term *fakeTerminal) ExecStreams {
	s := ExecStreams{Stdin: bytes.NewReader(nil), Stdout: io.Discard, Stderr: io.Discard, Size: term.get}
	if sio.Stdin != nil {
		s.Stdin = sio.Stdin
	}
	if sio.Stdout != nil {
		s.Stdout = sio.Stdout
	}
	if sio.Stderr != nil {
		s.Stderr = sio.Stderr
	}
	if cfg.Tty {
		s.Stderr = s.Stdout
	}
	return s
}

// fakeTerminal is the size of an exec's terminal in the fake.
type fakeTerminal struct {
	mu   sync.Mutex
	size exec.TermSize
}

func (t *fakeTerminal) set(s exec.TermSize) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.size = s
}

func (t *fakeTerminal) get() exec.TermSize {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.size
}

// follow takes each size from resize (with a terminal) until stop.
func (t *fakeTerminal) follow(resize <-chan exec.TermSize, tty bool) (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case s, ok := <-resize:
				if !ok {
					return
				}
				if tty {
					t.set(s)
				}
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// RunBuiltin is the fake's default exec: a few commands behave as in a busybox container,
// enough to test what surrounds an exec.
//
//	echo ARGS...           prints ARGS
//	cat                    copies stdin to stdout until it ends (or ctx does)
//	sh -c 'exit N'         exits N; "exit N" alone too
//	sh -c 'echo X >&2'     prints X on stderr
//	tty                    prints "/dev/pts/0" with a terminal, else "not a tty" and exits 1
//	stty size              prints the terminal's "HEIGHT WIDTH"
//	env                    prints the environment given (the container's is the caller's)
//
// Anything else cannot start: ErrExecStart with exit code 127, as a missing executable.
func RunBuiltin(ctx context.Context, cfg exec.ExecConfig, s ExecStreams) (int, error) {
	run, err := builtin(cfg)
	if err != nil {
		return exec.ExecStartExitCode(err.Error()), err
	}
	return run(s)
}

// builtin finds the builtin command cfg names, or says it cannot start.
func builtin(cfg exec.ExecConfig) (func(ExecStreams) (int, error), error) {
	args := cfg.Cmd
	if len(args) == 3 && (args[0] == "sh" || args[0] == "/bin/sh") && args[1] == "-c" {
		args = strings.Fields(args[2])
	}
	if len(args) == 0 {
		return func(ExecStreams) (int, error) { return 0, nil }, nil
	}
	switch {
	case args[0] == "echo" && len(args) >= 2 && args[len(args)-1] == ">&2":
		return func(s ExecStreams) (int, error) {
			fmt.Fprintln(s.Stderr, strings.Join(args[1:len(args)-1], " "))
			return 0, nil
		}, nil
	case args[0] == "echo":
		return func(s ExecStreams) (int, error) {
			fmt.Fprintln(s.Stdout, strings.Join(args[1:], " "))
			return 0, nil
		}, nil
	case args[0] == "cat" && len(args) == 1:
		return func(s ExecStreams) (int, error) {
			_, err := io.Copy(s.Stdout, s.Stdin) // Exec closes stdin when ctx ends
			return 0, err
		}, nil
	case args[0] == "exit" && len(args) == 2:
		return func(ExecStreams) (int, error) {
			code, err := strconv.Atoi(args[1])
			if err != nil {
				return 2, nil
			}
			return code, nil
		}, nil
	case args[0] == "tty":
		return func(s ExecStreams) (int, error) {
			if !cfg.Tty {
				fmt.Fprintln(s.Stdout, "not a tty")
				return 1, nil
			}
			fmt.Fprintln(s.Stdout, "/dev/pts/0")
			return 0, nil
		}, nil
	case args[0] == "stty" && len(args) == 2 && args[1] == "size":
		return func(s ExecStreams) (int, error) {
			size := s.Size()
			fmt.Fprintf(s.Stdout, "%d %d\n", size.Height, size.Width)
			return 0, nil
		}, nil
	case args[0] == "env":
		return func(s ExecStreams) (int, error) {
			for _, kv := range cfg.Env {
				fmt.Fprintln(s.Stdout, kv)
			}
			return 0, nil
		}, nil
	}
	return nil, &exec.ExecStartError{Reason: fmt.Sprintf("exec: %q: executable file not found in $PATH", args[0])}
}
