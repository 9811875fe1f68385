package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/agent/exec/exectest"
	"github.com/shoal/shoal/api"
	"github.com/shoal/shoal/daemon"
	"github.com/shoal/shoal/internal/clock"
	"github.com/shoal/shoal/internal/term"
)

// execNode is a daemon's API, in process, over a fake executor that runs task t1 (service
// s1, slot 1): the whole path of `shoal exec` but the container runtime.
type execNode struct {
	host string
	exec *exectest.Executor
}

func newExecNode(t *testing.T) *execNode {
	t.Helper()
	fake := exectest.New(clock.Real{})
	d, err := daemon.New(daemon.Config{
		DataRoot: filepath.Join(t.TempDir(), "data"),
		Host:     "unix:///unused.sock",
		Hostname: "node-1",
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Executor: fake,
	})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := fake.Controller(&swarm.Task{ID: "t1", ServiceID: "s1", Slot: 1, Spec: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "busybox", Env: []string{"A=1"}}}})
	if err := c.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.NewHandler(d, api.Options{}))
	t.Cleanup(srv.Close)
	return &execNode{host: "tcp://" + strings.TrimPrefix(srv.URL, "http://"), exec: fake}
}

// run runs shoal with input on stdin against the node; code is the exit status shoal
// would end with.
func (n *execNode) run(t *testing.T, input io.Reader, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	g := &Globals{Out: &out, Err: &errOut, In: input}
	root := NewRootCommand(g)
	root.SetArgs(append([]string{"-H", n.host}, args...))
	err := root.Execute()
	var st statusError
	switch {
	case errors.As(err, &st):
		code = st.code
	case err != nil:
		errOut.WriteString(err.Error())
		code = 1
	}
	return out.String(), errOut.String(), code
}

func TestExecCommand(t *testing.T) {
	n := newExecNode(t)
	tests := []struct {
		name       string
		args       []string
		input      string
		wantCode   int
		wantOut    string
		wantErrHas string
	}{
		{"exit code", []string{"exec", "t1", "sh", "-c", "exit 7"}, "", 7, "", ""},
		{"stdout", []string{"exec", "t1", "echo", "hi"}, "", 0, "hi\n", ""},
		{"by name", []string{"exec", "s1.1.t1", "echo", "hi"}, "", 0, "hi\n", ""},
		{"stderr apart", []string{"exec", "t1", "sh", "-c", "echo oops >&2"}, "", 0, "", "oops"},
		{"stdin with -i", []string{"exec", "-i", "t1", "cat"}, "hello\n", 0, "hello\n", ""},
		{"no stdin without -i", []string{"exec", "t1", "cat"}, "hello\n", 0, "", ""},
		{"env", []string{"exec", "-e", "B=2", "t1", "env"}, "", 0, "B=2\n", ""},
		{"no terminal", []string{"exec", "t1", "tty"}, "", 1, "not a tty\n", ""},
		{"terminal", []string{"exec", "-t", "t1", "tty"}, "", 0, "/dev/pts/0\n", ""},
		// As docker, the reason comes in the output stream.
		{"missing command", []string{"exec", "t1", "nosuch"}, "", 127, "executable file not found", ""},
		{"no such container", []string{"exec", "ghost", "ls"}, "", 1, "", "Error response from daemon: No such container: ghost"},
		{"-it without a terminal", []string{"exec", "-it", "t1", "sh"}, "", 1, "", "the input device is not a TTY"},
		{"too few arguments", []string{"exec", "t1"}, "", 1, "", `"shoal exec" requires at least 2 arguments`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := n.run(t, strings.NewReader(tt.input), tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || (tt.wantOut == "" && out != "" && tt.wantCode == 0) {
				t.Errorf("exit %d stdout %q; want %d and %q (stderr %q)", code, out, tt.wantCode, tt.wantOut, errOut)
			}
			if !strings.Contains(errOut, tt.wantErrHas) {
				t.Errorf("stderr %q, want it to contain %q", errOut, tt.wantErrHas)
			}
		})
	}
}

func TestExecFlagsReachTheContainer(t *testing.T) {
	n := newExecNode(t)
	if _, errOut, code := n.run(t, nil, "exec", "-u", "app:staff", "-w", "/srv", "-e", "B=2", "t1", "ls", "-la", "-e", "x"); code != 127 {
		t.Fatalf("exit %d (stderr %q)", code, errOut)
	}
	execs := n.exec.Execs()
	cfg := execs[len(execs)-1].Config
	if !slices.Equal(cfg.Cmd, []string{"ls", "-la", "-e", "x"}) || cfg.User != "app:staff" || cfg.WorkingDir != "/srv" || !slices.Equal(cfg.Env, []string{"B=2"}) || cfg.Tty {
		t.Errorf("the exec ran with %+v", cfg)
	}

	// Detached: nothing attached, the command left running.
	out, errOut, code := n.run(t, strings.NewReader("never read"), "exec", "-d", "t1", "cat")
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("detached exec: exit %d stdout %q stderr %q", code, out, errOut)
	}
}

// TestExecOnTheUsersTerminal runs `shoal exec -it` with a pseudo-terminal for the user's:
// the exec gets the terminal's size and the terminal is in raw mode while it runs, and back
// after.
func TestExecOnTheUsersTerminal(t *testing.T) {
	n := newExecNode(t)
	master, slave, err := term.OpenPTY()
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	defer master.Close()
	defer slave.Close()
	if err := term.SetSize(master, term.Size{Height: 33, Width: 101}); err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	g := &Globals{Out: slave, Err: &errOut, In: slave}
	root := NewRootCommand(g)
	root.SetArgs([]string{"-H", n.host, "exec", "-it", "t1", "stty", "size"})
	if err := root.Execute(); err != nil {
		t.Fatalf("exec: %v (stderr %q)", err, errOut.String())
	}
	master.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 64)
	k, _ := master.Read(got)
	if !strings.Contains(string(got[:k]), "33 101") {
		t.Errorf("the exec saw the terminal as %q, want 33 101", got[:k])
	}
	execs := n.exec.Execs()
	if cfg := execs[len(execs)-1].Config; !cfg.Tty || cfg.ConsoleSize == nil {
		t.Errorf("the exec ran with %+v", cfg)
	}
	// Restored: the terminal echoes again (raw mode does not).
	master.Write([]byte("e\n"))
	line := make([]byte, 2)
	slave.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(slave, line); err != nil {
		t.Fatal(err)
	}
	master.SetReadDeadline(time.Now().Add(time.Second))
	if k, _ := master.Read(got); k == 0 {
		t.Error("the user's terminal was left in raw mode (no echo)")
	}
}
