package exectest

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/agent/exec"
	"github.com/shoal/shoal/internal/clock"
)

func runningTask(t *testing.T, e *Executor, id string) exec.Controller {
	t.Helper()
	task := &swarm.Task{ID: id, Spec: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "img", Env: []string{"A=1"}}}}
	c, _ := e.Controller(task)
	if err := c.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFakeExecBuiltins(t *testing.T) {
	e := New(clock.NewFake(time.Unix(0, 0)))
	c := runningTask(t, e, "t1")
	ctx := context.Background()
	tests := []struct {
		name           string
		cfg            exec.ExecConfig
		stdin          string
		wantCode       int
		wantOut        string
		wantErr        string
		wantStartError bool
	}{
		{name: "exit code", cfg: exec.ExecConfig{Cmd: []string{"sh", "-c", "exit 7"}}, wantCode: 7},
		{name: "stdout", cfg: exec.ExecConfig{Cmd: []string{"echo", "hi", "there"}}, wantOut: "hi there\n"},
		{name: "stderr", cfg: exec.ExecConfig{Cmd: []string{"sh", "-c", "echo oops >&2"}}, wantErr: "oops\n"},
		{name: "stdin", cfg: exec.ExecConfig{Cmd: []string{"cat"}}, stdin: "in\n", wantOut: "in\n"},
		{name: "no tty", cfg: exec.ExecConfig{Cmd: []string{"tty"}}, wantCode: 1, wantOut: "not a tty\n"},
		{name: "tty", cfg: exec.ExecConfig{Cmd: []string{"tty"}, Tty: true}, wantOut: "/dev/pts/0\n"},
		{name: "tty stderr on stdout", cfg: exec.ExecConfig{Cmd: []string{"sh", "-c", "echo oops >&2"}, Tty: true}, wantOut: "oops\n"},
		{name: "console size", cfg: exec.ExecConfig{Cmd: []string{"stty", "size"}, Tty: true, ConsoleSize: &exec.TermSize{Height: 24, Width: 80}}, wantOut: "24 80\n"},
		{name: "missing", cfg: exec.ExecConfig{Cmd: []string{"nope"}}, wantCode: 127, wantStartError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut strings.Builder
			sio := exec.ExecIO{Stdout: &out, Stderr: &errOut}
			if tt.stdin != "" {
				sio.Stdin = io.NopCloser(strings.NewReader(tt.stdin))
			}
			code, err := c.Exec(ctx, tt.cfg, sio)
			if tt.wantStartError != errors.Is(err, exec.ErrExecStart) || (!tt.wantStartError && err != nil) {
				t.Fatalf("err = %v, want start error %v", err, tt.wantStartError)
			}
			if code != tt.wantCode || out.String() != tt.wantOut || errOut.String() != tt.wantErr {
				t.Errorf("= %d, stdout %q, stderr %q; want %d, %q, %q", code, out.String(), errOut.String(), tt.wantCode, tt.wantOut, tt.wantErr)
			}
		})
	}
	if n := len(e.Execs()); n != len(tests) {
		t.Errorf("Execs recorded %d, want %d", n, len(tests))
	}
}

func TestFakeExecResizeAndCancel(t *testing.T) {
	e := New(clock.NewFake(time.Unix(0, 0)))
	resized := make(chan struct{})
	e.SetScript("img", Script{Exec: func(ctx context.Context, cfg exec.ExecConfig, s ExecStreams) (int, error) {
		for s.Size() != (exec.TermSize{Height: 50, Width: 132}) {
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
		close(resized)
		<-ctx.Done()
		return 0, ctx.Err()
	}})
	c := runningTask(t, e, "t1")
	ctx, cancel := context.WithCancel(context.Background())
	resize := make(chan exec.TermSize, 1)
	done := make(chan error, 1)
	var pid int
	go func() {
		_, err := c.Exec(ctx, exec.ExecConfig{Cmd: []string{"sh"}, Tty: true}, exec.ExecIO{Resize: resize, Started: func(p int) { pid = p }})
		done <- err
	}()
	resize <- exec.TermSize{Height: 50, Width: 132}
	select {
	case <-resized:
	case <-time.After(10 * time.Second):
		t.Fatal("the resize did not reach the exec")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled exec = %v", err)
	}
	if pid == 0 {
		t.Error("Started was not called")
	}
}

func TestFakeExecNeedsARunningTask(t *testing.T) {
	e := New(clock.NewFake(time.Unix(0, 0)))
	c := runningTask(t, e, "t1")
	if err := e.Exit("t1", 0); err != nil {
		t.Fatal(err)
	}
	_, err := c.Exec(context.Background(), exec.ExecConfig{Cmd: []string{"true"}}, exec.ExecIO{})
	if !errors.Is(err, exec.ErrNotRunning) || err.Error() != "container t1 is not running" {
		t.Errorf("exec in an exited task = %v", err)
	}
	ghost, _ := e.Controller(&swarm.Task{ID: "ghost"})
	if _, err := ghost.Exec(context.Background(), exec.ExecConfig{Cmd: []string{"true"}}, exec.ExecIO{}); !errors.Is(err, exec.ErrNoContainer) {
		t.Errorf("exec in a missing task = %v", err)
	}
}
