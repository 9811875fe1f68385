package runc

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"

	shoalexec "github.com/shoal/shoal/agent/exec"
)

// TestHelperDaemon is not a test: TestAdoptionAfterDaemonKilled runs it in a child process
// as a stand-in daemon that starts a container and is then killed.
func TestHelperDaemon(t *testing.T) {
	root, id := os.Getenv("SHOAL_HELPER_ROOT"), os.Getenv("SHOAL_HELPER_TASK")
	if root == "" {
		t.Skip("helper process for TestAdoptionAfterDaemonKilled")
	}
	e := newTestExecutor(t, root)
	task := testTask("trap 'echo bye; exit 9' TERM; echo before; while true; do sleep 0.1; done")
	task.ID = id
	c, err := e.Controller(task)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Prepare(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "output", func() bool { return strings.Contains(output(t, c), "before") })
	fmt.Println("started")
	time.Sleep(time.Hour) // until killed
}

func TestAdoptionAfterDaemonKilled(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	task := testTask("")
	daemon := exec.Command(os.Args[0], "-test.run=^TestHelperDaemon$", "-test.v")
	daemon.Env = append(os.Environ(), "SHOAL_HELPER_ROOT="+root, "SHOAL_HELPER_TASK="+task.ID, "SHOAL_HELPER_LAYER="+busyboxLayer(t), "SHOAL_HELPER_CGROUP="+testCgroupParent)
	stdout, _ := daemon.StdoutPipe()
	daemon.Stderr = os.Stderr
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { daemon.Process.Kill(); daemon.Wait() })
	started := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "started" {
				started <- true
				return
			}
		}
		started <- false
	}()
	select {
	case ok := <-started:
		if !ok {
			t.Fatal("helper daemon ended without starting its container")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("helper daemon did not start its container")
	}
	daemon.Process.Signal(syscall.SIGKILL)
	daemon.Wait()

	// The restarted daemon.
	e := newTestExecutor(t, root)
	c := prepare0(t, e, task)
	list, err := e.List(ctx(t))
	if err != nil || len(list) != 1 || list[0].State != shoalexec.ContainerRunning || list[0].TaskID != task.ID {
		t.Fatalf("after the crash, listed %+v (%v)", list, err)
	}
	pid := list[0].PID
	if err := c.Shutdown(ctx(t), 0, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, c); st.Code != 9 {
		t.Errorf("exit %+v, want 9 (from the trap)", st)
	}
	if out := output(t, c); !strings.Contains(out, "before\n") || !strings.Contains(out, "bye\n") {
		t.Errorf("output across the crash: %q", out)
	}
	if err := c.Remove(ctx(t)); err != nil {
		t.Fatal(err)
	}
	assertGone(t, e, task.ID, pid)
}

// prepare0 is a controller for a task whose container exists already, removed at the end.
func prepare0(t *testing.T, e *Executor, task *swarm.Task) shoalexec.Controller {
	t.Helper()
	c, err := e.Controller(task)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Prepare(ctx(t)); !errors.Is(err, shoalexec.ErrTaskPrepared) {
		t.Fatalf("prepare of an adopted container: %v", err)
	}
	t.Cleanup(func() { c.Remove(ctx(t)) })
	return c
}
