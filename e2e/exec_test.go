package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/shoal/shoal/lab"
)

// TestExec: `shoal exec` and the real `docker exec` into a task's container on the node
// that runs it (1 manager + 1 worker, busybox tasks): the command's exit code comes back,
// stdout and stderr stay apart, stdin reaches the command, a terminal is a terminal, a
// container is found by its ID, its task's ID or (on a manager) its name, and on any other
// node it is "No such container".
func TestExec(t *testing.T) {
	started := time.Now()
	l := startLab(t, lab.Options{Name: "e2eexec", Managers: 1, Workers: 1})
	busybox := busyboxImage(t)
	for _, n := range []string{"manager-1", "worker-1"} {
		mustRun(t, l, n, "image", "load", "-q", "-i", busybox)
	}
	mustRun(t, l, "manager-1", "service", "create", "-d", "--name", "sh",
		"--constraint", "node.role==worker", "busybox", "sleep", "3600")
	mustRun(t, l, "manager-1", "service", "create", "-d", "--name", "mgrsh",
		"--constraint", "node.role==manager", "busybox", "sleep", "3600")
	mc := apiClient(t, l, "manager-1")
	task := waitRunningTask(t, mc, "sh")
	mgrTask := waitRunningTask(t, mc, "mgrsh")
	onWorker := nodeNameOf(t, mc, task)
	if onWorker != "worker-1" || nodeNameOf(t, mc, mgrTask) != "manager-1" {
		t.Fatalf("tasks placed on %s and %s, want worker-1 and manager-1", onWorker, nodeNameOf(t, mc, mgrTask))
	}
	ctr := task.Status.ContainerStatus.ContainerID
	t.Logf("lab up, services running in %s; task %s, container %s on %s", time.Since(started).Round(time.Millisecond), task.ID, ctr, onWorker)

	t.Run("shoal exit code", func(t *testing.T) {
		_, errOut, code := runExitCode(t, l, onWorker, "", "exec", task.ID, "sh", "-c", "exit 7")
		if code != 7 {
			t.Errorf("shoal exec ... exit 7: exit status %d (stderr %q), want 7", code, errOut)
		}
	})
	t.Run("shoal output", func(t *testing.T) {
		out := mustRun(t, l, onWorker, "exec", task.ID, "cat", "/etc/hostname")
		if want := task.ID[:12] + "\n"; out != want {
			t.Errorf("cat /etc/hostname printed %q, want the container's hostname %q", out, want)
		}
	})
	t.Run("shoal stdin", func(t *testing.T) {
		out, errOut, code := runExitCode(t, l, onWorker, "hi\n", "exec", "-i", task.ID[:10], "cat")
		if code != 0 || out != "hi\n" {
			t.Errorf("echo hi | shoal exec -i TASK-PREFIX cat: exit %d, stdout %q, stderr %q; want hi", code, out, errOut)
		}
	})
	t.Run("shoal on another node", func(t *testing.T) {
		_, errOut, code := runExitCode(t, l, "manager-1", "", "exec", task.ID, "true")
		if code != 1 || !strings.Contains(errOut, "No such container: "+task.ID) {
			t.Errorf("exec on the wrong node: exit %d, stderr %q; want 1 and No such container", code, errOut)
		}
	})

	docker := newDockerRunner(t, l)
	t.Run("docker exec streams and exit code", func(t *testing.T) {
		out, errOut, code := docker.run(t, onWorker, "exec", ctr, "sh", "-c", "echo out; echo err >&2; exit 4")
		if out != "out\n" || errOut != "err\n" || code != 4 {
			t.Errorf("docker exec: stdout %q stderr %q exit %d; want out, err, 4", out, errOut, code)
		}
	})
	t.Run("docker exec -it on a terminal", func(t *testing.T) {
		// script(1) gives docker a pseudo-terminal of 30x100, as a person's shell would.
		line := fmt.Sprintf("stty rows 30 cols 100; %s exec -it %s sh -c 'test -t 0 && test -t 1 && echo on-a-tty; stty size; exit 3'", docker.bin, ctr)
		out, errOut, code := docker.runCommand(t, onWorker, "script", "-qec", line, "/dev/null")
		// Line ends come as the terminals' output settings make them: \r\n, or \r\r\n
		// when the client's terminal turns raw only after the first line.
		if !strings.Contains(strings.ReplaceAll(out, "\r", ""), "on-a-tty\n30 100\n") || code != 3 {
			t.Errorf("docker exec -it: stdout %q stderr %q exit %d; want on-a-tty, the terminal's size 30 100, exit 3", out, errOut, code)
		}
	})
	t.Run("shoal exec -it on a terminal", func(t *testing.T) {
		line := fmt.Sprintf("stty rows 40 cols 120; %s -H %s exec -it %s sh -c 'test -t 0 && echo on-a-tty; stty size'", shoalBin(t), node(t, l, onWorker).Host(), task.ID)
		out, errOut, code := docker.runCommand(t, onWorker, "script", "-qec", line, "/dev/null")
		if !strings.Contains(strings.ReplaceAll(out, "\r", ""), "on-a-tty\n40 120\n") || code != 0 {
			t.Errorf("shoal exec -it: stdout %q stderr %q exit %d; want on-a-tty and 40 120", out, errOut, code)
		}
	})
	t.Run("docker ps and inspect", func(t *testing.T) {
		out, errOut, code := docker.run(t, onWorker, "ps", "--no-trunc", "--format", "{{.ID}} {{.Image}} {{.Status}}")
		// The image as the task has it, pinned by digest, as docker shows a task's.
		fields := strings.Fields(out)
		if code != 0 || len(fields) < 3 || fields[0] != ctr || !strings.HasPrefix(fields[1], "busybox:latest@sha256:") || fields[2] != "Up" {
			t.Errorf("docker ps on %s: %q (stderr %q); want %s busybox:latest@sha256:... Up ...", onWorker, out, errOut, ctr)
		}
		out, errOut, code = docker.run(t, onWorker, "inspect", "--format", "{{.State.Running}} {{index .Config.Labels \"com.docker.swarm.task.id\"}}", ctr)
		if code != 0 || out != "true "+task.ID+"\n" {
			t.Errorf("docker inspect: %q (stderr %q)", out, errOut)
		}
	})
	t.Run("docker exec by name on a worker", func(t *testing.T) {
		name := "sh.1." + task.ID
		out, errOut, code := docker.run(t, onWorker, "exec", name, "echo", "named")
		if out != "named\n" || code != 0 {
			t.Errorf("docker exec %s: stdout %q stderr %q exit %d", name, out, errOut, code)
		}
		out, _, _ = docker.run(t, onWorker, "ps", "--format", "{{.Names}} {{.Label \"com.docker.swarm.service.name\"}}")
		if strings.TrimSpace(out) != name+" sh" {
			t.Errorf("docker ps names on %s: %q, want %s sh", onWorker, out, name)
		}
	})
	t.Run("docker exec by name on a manager", func(t *testing.T) {
		name := "mgrsh.1." + mgrTask.ID
		out, errOut, code := docker.run(t, "manager-1", "exec", name, "echo", "named")
		if out != "named\n" || code != 0 {
			t.Errorf("docker exec %s: stdout %q stderr %q exit %d", name, out, errOut, code)
		}
		out, _, _ = docker.run(t, "manager-1", "ps", "--format", "{{.Names}}")
		if strings.TrimSpace(out) != name {
			t.Errorf("docker ps names on manager-1: %q, want %s", out, name)
		}
	})
	t.Run("docker exec on another node", func(t *testing.T) {
		_, errOut, code := docker.run(t, "manager-1", "exec", ctr, "true")
		if code == 0 || !strings.Contains(errOut, "No such container: "+ctr) {
			t.Errorf("docker exec on the wrong node: exit %d stderr %q; want No such container", code, errOut)
		}
	})
}

// busyboxImage is the busybox image archive, packed first (make busybox-image) if missing.
func busyboxImage(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(root, "build", "images", "busybox.docker.tar")
	if _, err := os.Stat(archive); err != nil {
		cmd := exec.Command("make", "busybox-image")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make busybox-image: %v\n%s", err, out)
		}
	}
	return archive
}

// waitRunningTask waits for the service's task to run and returns it.
func waitRunningTask(t *testing.T, mc *client.Client, service string) swarm.Task {
	t.Helper()
	var found swarm.Task
	eventually(t, 60*time.Second, service+"'s task running", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := mc.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", service)})
		if err != nil {
			return err
		}
		for _, tk := range res.Items {
			if tk.Status.State == swarm.TaskStateRunning && tk.Status.ContainerStatus != nil && tk.Status.ContainerStatus.ContainerID != "" {
				found = tk
				return nil
			}
		}
		return fmt.Errorf("tasks: %d, none running with a container", len(res.Items))
	})
	return found
}

// nodeNameOf is the lab name (hostname) of the node running the task.
func nodeNameOf(t *testing.T, mc *client.Client, tk swarm.Task) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := mc.NodeInspect(ctx, tk.NodeID, client.NodeInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Node.Description.Hostname
}

// runExitCode runs the shoal CLI against a node with stdin and returns its output and exit
// status.
func runExitCode(t *testing.T, l *lab.Lab, nodeName, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, shoalBin(t), args...)
	cmd.Env = append(os.Environ(), "SHOAL_HOST="+node(t, l, nodeName).Host())
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := exitStatus(t, ctx, cmd.Run())
	return out.String(), errb.String(), code
}

// dockerRunner runs the docker CLI (or a command that runs it) against lab nodes.
type dockerRunner struct {
	l      *lab.Lab
	bin    string
	config string
}

func newDockerRunner(t *testing.T, l *lab.Lab) *dockerRunner {
	bin, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("the docker CLI is not on PATH (install Debian's docker.io): cannot exec with it")
	}
	return &dockerRunner{l: l, bin: bin, config: t.TempDir()}
}

func (d *dockerRunner) run(t *testing.T, nodeName string, args ...string) (string, string, int) {
	t.Helper()
	return d.runCommand(t, nodeName, d.bin, args...)
}

func (d *dockerRunner) runCommand(t *testing.T, nodeName, name string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = dockerEnv(node(t, d.l, nodeName).Host(), d.config)
	cmd.WaitDelay = 5 * time.Second
	// A stdin that stays open without input: script(1) turns the end of its input into a
	// byte typed on the terminal, which would show in the output.
	stdin, keepOpen, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	defer keepOpen.Close()
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := exitStatus(t, ctx, cmd.Run())
	return out.String(), errb.String(), code
}

// exitStatus is a finished command's exit status; a command that could not run or was
// killed for taking too long fails the test.
func exitStatus(t *testing.T, ctx context.Context, err error) int {
	t.Helper()
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("command did not finish in time: %v", err)
	case err == nil:
		return 0
	case errors.As(err, &exitErr):
		return exitErr.ExitCode()
	default:
		t.Fatalf("command did not run: %v", err)
	}
	return -1
}
