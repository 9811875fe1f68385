package runc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	shoalexec "github.com/shoal/shoal/agent/exec"
)

// lockedBuffer is an exec's output, read by the test while the exec writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runningContainer starts a container that sleeps until the test ends.
func runningContainer(t *testing.T, e *Executor) shoalexec.Controller {
	t.Helper()
	return run(t, e, testTask("sleep 600"))
}

// execOutput runs cmd in c without a terminal and returns its exit code, stdout and stderr.
func execOutput(t *testing.T, c shoalexec.Controller, cfg shoalexec.ExecConfig, stdin string) (int, string, string, error) {
	t.Helper()
	var stdout, stderr lockedBuffer
	sio := shoalexec.ExecIO{Stdout: &stdout, Stderr: &stderr}
	if stdin != "" {
		sio.Stdin = io.NopCloser(strings.NewReader(stdin))
	}
	code, err := c.Exec(ctx(t), cfg, sio)
	return code, stdout.String(), stderr.String(), err
}

func TestExecPassesExitCodeAndSeparatesOutputs(t *testing.T) {
	e := newTestExecutor(t, "")
	c := runningContainer(t, e)
	before := scratchDirs(t)

	code, stdout, stderr, err := execOutput(t, c, shoalexec.ExecConfig{Cmd: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}}, "")
	if err != nil || code != 3 {
		t.Fatalf("exec = %d, %v; want exit 3", code, err)
	}
	if stdout != "out\n" || stderr != "err\n" {
		t.Errorf("stdout %q stderr %q; want %q and %q", stdout, stderr, "out\n", "err\n")
	}
	var started int
	code, _, _, err = execOutput(t, c, shoalexec.ExecConfig{Cmd: []string{"true"}}, "")
	if err != nil || code != 0 {
		t.Errorf("true: %d, %v", code, err)
	}
	_, err = c.Exec(ctx(t), shoalexec.ExecConfig{Cmd: []string{"true"}}, shoalexec.ExecIO{Started: func(pid int) { started = pid }})
	if err != nil || started <= 0 {
		t.Errorf("Started got pid %d (err %v); want the command's pid", started, err)
	}
	if after := scratchDirs(t); after != before {
		t.Errorf("exec scratch directories: %d before, %d after", before, after)
	}
}

func TestExecDeliversStdinAndEnds(t *testing.T) {
	e := newTestExecutor(t, "")
	c := runningContainer(t, e)
	code, stdout, _, err := execOutput(t, c, shoalexec.ExecConfig{Cmd: []string{"cat"}}, "hi\nthere\n")
	if err != nil || code != 0 || stdout != "hi\nthere\n" {
		t.Fatalf("cat = %d, %q, %v; want 0 and the input back", code, stdout, err)
	}

	// A caller's stdin that never ends does not keep Exec: it is closed once the command ends.
	r, w := io.Pipe()
	defer w.Close()
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		_, err := c.Exec(ctx(t), shoalexec.ExecConfig{Cmd: []string{"head", "-n1"}}, shoalexec.ExecIO{Stdin: r, Stdout: &out})
		done <- err
	}()
	if _, err := w.Write([]byte("first\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil || out.String() != "first\n" {
			t.Errorf("head = %q, %v", out.String(), err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Exec did not return after the command ended while stdin stayed open")
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("the caller's stdin was not closed: write = %v", err)
	}
}

func TestExecUsesContainerDefaultsAndOverrides(t *testing.T) {
	e := newTestExecutor(t, "")
	task := testTask("sleep 600")
	task.Spec.ContainerSpec.Env = []string{"FROM_SPEC=1", "OVERRIDDEN=spec"}
	task.Spec.ContainerSpec.Dir = "/home"
	c := run(t, e, task)

	_, stdout, _, err := execOutput(t, c, shoalexec.ExecConfig{Cmd: []string{"sh", "-c", `echo "$FROM_IMAGE $FROM_SPEC $OVERRIDDEN $EXTRA $HOME $(pwd) $(id -u)"`}}, "")
	if want := "yes 1 spec  /root /home 0\n"; err != nil || stdout != want {
		t.Errorf("defaults: %q, %v; want %q", stdout, err, want)
	}
	_, stdout, _, err = execOutput(t, c, shoalexec.ExecConfig{
		Cmd:        []string{"sh", "-c", `echo "$OVERRIDDEN $EXTRA $HOME $(pwd) $(id -u):$(id -g)"`},
		Env:        []string{"EXTRA=x", "OVERRIDDEN=exec"},
		User:       "app",
		WorkingDir: "/tmp",
	}, "")
	if want := "exec x /home/app /tmp 1000:1000\n"; err != nil || stdout != want {
		t.Errorf("overrides: %q, %v; want %q", stdout, err, want)
	}
	info, _ := c.Inspect(ctx(t))
	if strings.Join(info.Args, " ") != "/bin/sh -c sleep 600" || info.WorkingDir != "/home" || !slices.Contains(info.Env, "FROM_SPEC=1") {
		t.Errorf("inspect does not say what the container runs: args %q cwd %q env %q", info.Args, info.WorkingDir, info.Env)
	}
}

func TestExecOnATerminal(t *testing.T) {
	e := newTestExecutor(t, "")
	c := runningContainer(t, e)
	stdinR, stdinW := io.Pipe()
	resize := make(chan shoalexec.TermSize)
	var out lockedBuffer
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := c.Exec(ctx(t), shoalexec.ExecConfig{
			Cmd:         []string{"sh", "-c", `test -t 0 && test -t 1 && echo on-a-tty; stty size; while read x; do [ "$x" = q ] && exit 5; stty size; done`},
			Tty:         true,
			ConsoleSize: &shoalexec.TermSize{Height: 24, Width: 80},
		}, shoalexec.ExecIO{Stdin: stdinR, Stdout: &out, Stderr: failWriter{t}, Resize: resize})
		done <- result{code, err}
	}()
	eventually(t, "the exec says it is on a terminal of 24x80", func() bool {
		return strings.Contains(out.String(), "on-a-tty") && strings.Contains(out.String(), "24 80")
	})
	resize <- shoalexec.TermSize{Height: 40, Width: 120}
	eventually(t, "stty size says 40 120 after the resize", func() bool {
		stdinW.Write([]byte("\r"))
		time.Sleep(50 * time.Millisecond)
		return strings.Contains(out.String(), "40 120")
	})
	stdinW.Write([]byte("q\r"))
	select {
	case r := <-done:
		if r.err != nil || r.code != 5 {
			t.Errorf("exec = %d, %v; want exit 5", r.code, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("exec did not end; output %q", out.String())
	}
}

func TestExecRefusals(t *testing.T) {
	e := newTestExecutor(t, "")
	c := runningContainer(t, e)

	code, _, stderr, err := execOutput(t, c, shoalexec.ExecConfig{Cmd: []string{"/no/such/binary"}}, "")
	if !errors.Is(err, shoalexec.ErrExecStart) || code != 127 || !strings.Contains(err.Error(), "/no/such/binary") {
		t.Errorf("missing binary: %d, %v; want 127 and ErrExecStart naming it", code, err)
	}
	var se *shoalexec.ExecStartError
	if errors.As(err, &se) && se.Reported && !strings.Contains(stderr, "/no/such/binary") {
		t.Errorf("start error said to be on stderr, which has %q", stderr)
	}
	code, _, _, err = execOutput(t, c, shoalexec.ExecConfig{Cmd: []string{"true"}, User: "nobody-here"}, "")
	if !errors.Is(err, shoalexec.ErrExecStart) || code != 126 || !strings.Contains(err.Error(), "nobody-here") {
		t.Errorf("unknown user: %d, %v; want 126 and ErrExecStart naming the user", code, err)
	}
	if _, _, _, err := execOutput(t, c, shoalexec.ExecConfig{Cmd: []string{"true"}, WorkingDir: "tmp"}, ""); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("relative working directory: %v", err)
	}
	if _, _, _, err := execOutput(t, c, shoalexec.ExecConfig{}, ""); err == nil {
		t.Error("exec without a command succeeded")
	}

	stopped := run(t, e, testTask("true"))
	wait(t, stopped)
	task, _ := stopped.Inspect(ctx(t))
	_, _, _, err = execOutput(t, stopped, shoalexec.ExecConfig{Cmd: []string{"true"}}, "")
	if !errors.Is(err, shoalexec.ErrNotRunning) || err.Error() != "container "+task.ID+" is not running" {
		t.Errorf("exec in a stopped container: %v; want %q", err, "container "+task.ID+" is not running")
	}
	ghost, _ := e.Controller(testTask("true"))
	if _, _, _, err := execOutput(t, ghost, shoalexec.ExecConfig{Cmd: []string{"true"}}, ""); !errors.Is(err, shoalexec.ErrNoContainer) {
		t.Errorf("exec in a container never made: %v", err)
	}
}

func TestExecCancelKillsTheCommand(t *testing.T) {
	e := newTestExecutor(t, "")
	c := runningContainer(t, e)
	goroutines := runtime.NumGoroutine()
	cctx, cancel := context.WithCancel(ctx(t))
	var pid int
	var mu sync.Mutex
	done := make(chan error, 1)
	go func() {
		_, err := c.Exec(cctx, shoalexec.ExecConfig{Cmd: []string{"sleep", "600"}}, shoalexec.ExecIO{
			Stdout: io.Discard,
			Started: func(p int) {
				mu.Lock()
				pid = p
				mu.Unlock()
			},
		})
		done <- err
	}()
	eventually(t, "the command started", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return pid > 0
	})
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled exec = %v; want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("cancelling did not end the exec")
	}
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
		if b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")); !strings.Contains(string(b), ") Z ") {
			t.Errorf("the command (pid %d) still runs", pid)
		}
	}
	eventually(t, "the exec's goroutines ended", func() bool { return runtime.NumGoroutine() <= goroutines })
}

// failWriter fails the test if written: a terminal carries everything on stdout.
type failWriter struct{ t *testing.T }

func (w failWriter) Write(p []byte) (int, error) {
	w.t.Errorf("write to stderr of a terminal exec: %q", p)
	return len(p), nil
}

// scratchDirs counts exec scratch directories, which every exec must remove.
func scratchDirs(t *testing.T) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(os.TempDir(), "shoal-exec-*"))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}
