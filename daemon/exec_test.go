package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/shoal/shoal/agent/exec"
	"github.com/shoal/shoal/agent/exec/exectest"
	"github.com/shoal/shoal/api"
	"github.com/shoal/shoal/internal/apierr"
	"github.com/shoal/shoal/internal/clock"
)

// syncBuffer is an exec's output, read by the test while the exec writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// attached returns an attach function handing over the given streams.
func attached(stdin io.ReadCloser, stdout, stderr io.Writer) func() (api.ExecStreams, error) {
	return func() (api.ExecStreams, error) {
		return api.ExecStreams{Stdin: stdin, Stdout: stdout, Stderr: stderr}, nil
	}
}

func createExec(t *testing.T, d *Daemon, req container.ExecCreateRequest) string {
	t.Helper()
	id, err := d.ExecCreate(context.Background(), "t1", req)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestExecRunsAndRecordsItsExitCode(t *testing.T) {
	d, fake := newContainerDaemon(t)
	ctx := context.Background()
	id := createExec(t, d, container.ExecCreateRequest{Cmd: []string{"sh", "-c", "exit 7"}, AttachStdout: true, Env: []string{"B=2"}, User: "app"})
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) {
		t.Errorf("exec ID %q is not 64 hex digits", id)
	}
	before, _ := d.ExecInspect(ctx, id)
	if before.Running || before.ExitCode != nil || before.ContainerID != "t1" || before.ProcessConfig.Entrypoint != "sh" || !before.OpenStdout {
		t.Errorf("inspect before start = %+v", before)
	}
	var out syncBuffer
	if err := d.ExecStart(ctx, id, api.ExecStartOptions{}, attached(nil, &out, nil)); err != nil {
		t.Fatal(err)
	}
	after, _ := d.ExecInspect(ctx, id)
	if after.Running || after.ExitCode == nil || *after.ExitCode != 7 || after.Pid == 0 {
		t.Errorf("inspect after = %+v; want exit code 7 and the pid it ran as", after)
	}
	if calls := fake.Execs(); len(calls) != 1 || calls[0].TaskID != "t1" || calls[0].Config.User != "app" || calls[0].Config.Env[0] != "B=2" {
		t.Errorf("executor got %+v", calls)
	}
	err := d.ExecStart(ctx, id, api.ExecStartOptions{}, attached(nil, &out, nil))
	if apierr.KindOf(err) != apierr.KindConflict || !strings.Contains(err.Error(), "has already run") {
		t.Errorf("second start = %v; want 409 has already run", err)
	}
	if _, err := d.ExecInspect(ctx, "nope"); apierr.KindOf(err) != apierr.KindNotFound || err.Error() != "No such exec instance: nope" {
		t.Errorf("inspect unknown = %v", err)
	}
}

func TestExecStreamsFollowWhatWasAttached(t *testing.T) {
	d, _ := newContainerDaemon(t)
	ctx := context.Background()
	tests := []struct {
		name            string
		req             container.ExecCreateRequest
		stdin           string
		wantOut, wantEr string
	}{
		{"stdout and stderr apart", container.ExecCreateRequest{Cmd: []string{"sh", "-c", "echo oops >&2"}, AttachStdout: true, AttachStderr: true}, "", "", "oops\n"},
		{"stderr not attached", container.ExecCreateRequest{Cmd: []string{"sh", "-c", "echo oops >&2"}, AttachStdout: true}, "", "", ""},
		{"stdin", container.ExecCreateRequest{Cmd: []string{"cat"}, AttachStdin: true, AttachStdout: true}, "hi\n", "hi\n", ""},
		{"stdin not attached", container.ExecCreateRequest{Cmd: []string{"cat"}, AttachStdout: true}, "hi\n", "", ""},
		{"terminal", container.ExecCreateRequest{Cmd: []string{"stty", "size"}, AttachStdout: true, Tty: true, ConsoleSize: &[2]uint{30, 100}}, "", "30 100\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := createExec(t, d, tt.req)
			var out, errOut syncBuffer
			if err := d.ExecStart(ctx, id, api.ExecStartOptions{Tty: tt.req.Tty}, attached(io.NopCloser(strings.NewReader(tt.stdin)), &out, &errOut)); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.wantOut || errOut.String() != tt.wantEr {
				t.Errorf("stdout %q stderr %q; want %q and %q", out.String(), errOut.String(), tt.wantOut, tt.wantEr)
			}
		})
	}
}

func TestExecRefusals(t *testing.T) {
	d, fake := newContainerDaemon(t)
	ctx := context.Background()
	if _, err := d.ExecCreate(ctx, "ghost", container.ExecCreateRequest{Cmd: []string{"ls"}}); apierr.KindOf(err) != apierr.KindNotFound || err.Error() != "No such container: ghost" {
		t.Errorf("create in ghost = %v", err)
	}
	if _, err := d.ExecCreate(ctx, "t2", container.ExecCreateRequest{Cmd: []string{"ls"}}); apierr.KindOf(err) != apierr.KindConflict || err.Error() != "container t2 is not running" {
		t.Errorf("create in a stopped container = %v", err)
	}
	if err := d.ExecStart(ctx, "ghost", api.ExecStartOptions{}, attached(nil, nil, nil)); apierr.KindOf(err) != apierr.KindNotFound {
		t.Errorf("start unknown = %v", err)
	}

	// The container stops between create and start: refused before attaching.
	id := createExec(t, d, container.ExecCreateRequest{Cmd: []string{"true"}})
	fake.Exit("t1", 0)
	attachedCalled := false
	err := d.ExecStart(ctx, id, api.ExecStartOptions{}, func() (api.ExecStreams, error) { attachedCalled = true; return api.ExecStreams{}, nil })
	if apierr.KindOf(err) != apierr.KindConflict || err.Error() != "container t1 is not running" || attachedCalled {
		t.Errorf("start in a stopped container = %v (attached %v); want 409 before attaching", err, attachedCalled)
	}
}

func TestExecThatCannotStart(t *testing.T) {
	d, _ := newContainerDaemon(t)
	ctx := context.Background()
	id := createExec(t, d, container.ExecCreateRequest{Cmd: []string{"nosuch"}, AttachStdout: true})
	err := d.ExecStart(ctx, id, api.ExecStartOptions{}, attached(nil, io.Discard, nil))
	if err == nil || !strings.Contains(err.Error(), `"nosuch": executable file not found`) {
		t.Errorf("start of a missing command = %v", err)
	}
	insp, _ := d.ExecInspect(ctx, id)
	if insp.ExitCode == nil || *insp.ExitCode != 127 {
		t.Errorf("exit code = %v, want 127", insp.ExitCode)
	}

	// Detached, the refusal is the answer itself.
	id = createExec(t, d, container.ExecCreateRequest{Cmd: []string{"nosuch"}})
	err = d.ExecStart(ctx, id, api.ExecStartOptions{Detach: true}, attached(nil, nil, nil))
	if err == nil || !strings.Contains(err.Error(), "executable file not found") {
		t.Errorf("detached start of a missing command = %v", err)
	}
}

// blockingExec is an exec that runs until ctx ends or, on a terminal, until it has seen the
// size 40x120, which it then prints.
func blockingExec(ctx context.Context, cfg exec.ExecConfig, s exectest.ExecStreams) (int, error) {
	for {
		if size := s.Size(); size == (exec.TermSize{Height: 40, Width: 120}) {
			fmt.Fprintln(s.Stdout, "40 120")
			return 0, nil
		}
		select {
		case <-ctx.Done():
			return 137, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func TestExecResize(t *testing.T) {
	d, fake := newContainerDaemon(t)
	fake.SetScript("", exectest.Script{Exec: blockingExec})
	ctx := context.Background()
	// t1 was prepared before the script was set: make a container that has it.
	id := createExecIn(t, d, fake, "t3", container.ExecCreateRequest{Cmd: []string{"sh"}, Tty: true, AttachStdout: true})
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- d.ExecStart(ctx, id, api.ExecStartOptions{Tty: true}, attached(nil, &out, nil)) }()
	if err := d.ExecResize(ctx, id, 40, 120); err != nil {
		t.Fatalf("resize: %v", err)
	}
	select {
	case err := <-done:
		if err != nil || out.String() != "40 120\n" {
			t.Errorf("exec = %q, %v", out.String(), err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the resize did not reach the exec")
	}
	if err := d.ExecResize(ctx, id, 10, 10); apierr.KindOf(err) != apierr.KindConflict {
		t.Errorf("resize after the end = %v; want 409", err)
	}
	plain := createExecIn(t, d, fake, "t3", container.ExecCreateRequest{Cmd: []string{"sh"}})
	if err := d.ExecResize(ctx, plain, 40, 120); apierr.KindOf(err) != apierr.KindInvalid {
		t.Errorf("resize without a terminal = %v; want 400", err)
	}
}

func TestExecDetachedAndClientGone(t *testing.T) {
	d, fake := newContainerDaemon(t)
	ctx := context.Background()

	// An attached exec whose client can no longer take output is killed.
	id := createExecIn(t, d, fake, "t4", container.ExecCreateRequest{Cmd: []string{"cat"}, AttachStdin: true, AttachStdout: true})
	stdinR, stdinW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- d.ExecStart(ctx, id, api.ExecStartOptions{}, attached(stdinR, failingWriter{}, nil)) }()
	stdinW.Write([]byte("x"))
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the exec went on after its client was gone")
	}
	if insp, _ := d.ExecInspect(ctx, id); insp.ExitCode == nil || *insp.ExitCode != 137 {
		t.Errorf("exit code %v; want 137 (killed)", insp.ExitCode)
	}

	// A detached exec runs on until the daemon stops, which kills it.
	fake.SetScript("", exectest.Script{Exec: blockingExec})
	id = createExecIn(t, d, fake, "t3", container.ExecCreateRequest{Cmd: []string{"sh"}})
	if err := d.ExecStart(ctx, id, api.ExecStartOptions{Detach: true}, attached(nil, nil, nil)); err != nil {
		t.Fatal(err)
	}
	if insp, _ := d.ExecInspect(ctx, id); !insp.Running || insp.Pid == 0 {
		t.Errorf("detached exec after start: %+v; want running", insp)
	}
	d.execs.stop()
	if insp, _ := d.ExecInspect(ctx, id); insp.Running || insp.ExitCode == nil || *insp.ExitCode != 137 {
		t.Errorf("detached exec after the daemon stopped: %+v; want killed (137)", insp)
	}
}

func TestExecTableBounds(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	tab := newExecTable(clk)
	tab.limit = 2
	cfg := exec.ExecConfig{Cmd: []string{"true"}}
	a, _ := tab.add("c", cfg, container.ExecCreateRequest{})
	b, _ := tab.add("c", cfg, container.ExecCreateRequest{})
	if _, err := tab.add("c", cfg, container.ExecCreateRequest{}); apierr.KindOf(err) != apierr.KindUnavailable {
		t.Fatalf("third exec in a table of 2 = %v; want refused", err)
	}
	a.claim()
	a.end(0, clk.Now())
	b.claim()
	clk.Advance(execRetention)
	if _, err := tab.add("c", cfg, container.ExecCreateRequest{}); err != nil {
		t.Fatalf("add after the ended exec's retention = %v", err)
	}
	if _, err := tab.get(a.id); err == nil {
		t.Error("an exec ended longer than the retention ago is still kept")
	}
	if _, err := tab.get(b.id); err != nil {
		t.Errorf("a running exec was dropped: %v", err)
	}
	unstarted, _ := tab.get(b.id)
	if unstarted.droppable(clk.Now().Add(time.Hour)) {
		t.Error("a running exec is droppable")
	}
}

// createExecIn starts a container for task id in the fake (with the executor's current
// script) and creates an exec in it.
func createExecIn(t *testing.T, d *Daemon, fake *exectest.Executor, taskID string, req container.ExecCreateRequest) string {
	t.Helper()
	if info, _ := fake.List(context.Background()); !hasContainer(info, taskID) {
		startFakeTask(t, fake, taskID)
	}
	id, err := d.ExecCreate(context.Background(), taskID, req)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("client gone") }

// stop waits for attached execs too, and refuses new ones once it has begun.
func TestExecTableStopWaitsForEveryExec(t *testing.T) {
	tbl := newExecTable(clock.Real{})
	if err := tbl.begin(); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { tbl.stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("stop returned while an attached exec still ran")
	case <-time.After(50 * time.Millisecond):
	}
	if err := tbl.begin(); !errors.Is(err, errStopping) {
		t.Errorf("begin while stopping = %v, want errStopping", err)
	}
	if err := tbl.runDetached(context.Background(), func(context.Context) { t.Error("a detached exec ran while stopping") }); !errors.Is(err, errStopping) {
		t.Errorf("runDetached while stopping = %v, want errStopping", err)
	}
	tbl.end()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("stop did not return once the exec ended")
	}
}
