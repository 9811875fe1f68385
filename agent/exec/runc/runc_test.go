package runc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"

	shoalexec "github.com/shoal/shoal/agent/exec"
)

func TestEchoHello(t *testing.T) {
	e := newTestExecutor(t, "")
	c := run(t, e, testTask("echo hello; echo oops >&2"))
	st := wait(t, c)
	if st.Code != 0 || st.Err() != nil {
		t.Fatalf("exit %+v", st)
	}
	var stdout, stderr string
	c.Logs(ctx(t), shoalexec.LogsOptions{}, func(m shoalexec.LogMessage) error {
		if m.Time.IsZero() {
			t.Errorf("line without time: %q", m.Line)
		}
		if m.Stream == "stdout" {
			stdout += string(m.Line)
		} else {
			stderr += string(m.Line)
		}
		return nil
	})
	if stdout != "hello\n" || stderr != "oops\n" {
		t.Errorf("stdout %q stderr %q", stdout, stderr)
	}
	info, _ := c.Inspect(ctx(t))
	if info.State != shoalexec.ContainerExited || info.Exit == nil || info.Exit.Code != 0 {
		t.Errorf("inspect after exit: %+v", info)
	}
	if err := c.Start(ctx(t)); !errors.Is(err, shoalexec.ErrTaskStarted) {
		t.Errorf("second start: %v", err)
	}
	if err := c.Prepare(ctx(t)); !errors.Is(err, shoalexec.ErrTaskPrepared) {
		t.Errorf("second prepare: %v", err)
	}
}

func TestExitCode(t *testing.T) {
	e := newTestExecutor(t, "")
	c := run(t, e, testTask("exit 3"))
	st := wait(t, c)
	if st.Code != 3 {
		t.Fatalf("exit code %d, want 3", st.Code)
	}
	if err := st.Err(); err == nil || err.Error() != "task: non-zero exit (3)" {
		t.Errorf("exit error %v", err)
	}
}

func TestStartFailures(t *testing.T) {
	e := newTestExecutor(t, "")
	task := testTask("")
	task.Spec.ContainerSpec.Command = []string{"/no/such/binary"}
	c := prepare(t, e, task)
	err := c.Start(ctx(t))
	if err == nil || !strings.Contains(err.Error(), "starting container failed") || !strings.Contains(err.Error(), "/no/such/binary") {
		t.Errorf("start of a missing binary: %v", err)
	}

	missing := testTask("true")
	missing.Spec.ContainerSpec.Image = "nope:1"
	mc, _ := e.Controller(missing)
	if err := mc.Prepare(ctx(t)); err == nil || err.Error() != "No such image: nope:1" {
		t.Errorf("prepare with a missing image: %v", err)
	}
	if _, err := os.Stat(e.dir(missing.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed prepare left %s", e.dir(missing.ID))
	}
	badUser := testTask("true")
	badUser.Spec.ContainerSpec.User = "nobody"
	bc, _ := e.Controller(badUser)
	if err := bc.Prepare(ctx(t)); err == nil || !strings.Contains(err.Error(), "unable to find user nobody") {
		t.Errorf("prepare with a missing user: %v", err)
	}
	assertGone(t, e, badUser.ID)
}

func TestProcessSettings(t *testing.T) {
	e := newTestExecutor(t, "")
	task := testTask("")
	cs := task.Spec.ContainerSpec
	cs.Command = nil
	cs.Args = []string{"/bin/sh", "-c", "env; echo pwd=$(pwd); echo hostname=$(hostname); id; cat /etc/hostname /etc/resolv.conf"}
	cs.Env = []string{"OVERRIDDEN=spec", "FROM_SPEC=1"}
	cs.Dir = "/work/dir"
	cs.Hostname = "web-1"
	cs.User = "app"
	c := run(t, e, task)
	if st := wait(t, c); st.Code != 0 {
		t.Fatalf("exit %d: %s", st.Code, output(t, c))
	}
	out := output(t, c)
	lines := strings.Split(out, "\n")
	for _, want := range []string{
		"FROM_IMAGE=yes", "OVERRIDDEN=spec", "FROM_SPEC=1", "HOSTNAME=web-1", "HOME=/home/app",
		"pwd=/work/dir", "hostname=web-1", "web-1", "# test",
		// Supplementary groups are the user's memberships in /etc/group, as with docker.
		"uid=1000(app) gid=1000(app) groups=2000(extra)",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// A numeric user and group that the image does not know.
	task2 := testTask("id")
	task2.Spec.ContainerSpec.User = "1234:5678"
	c2 := run(t, e, task2)
	wait(t, c2)
	if out := output(t, c2); !strings.Contains(out, "uid=1234 gid=5678") {
		t.Errorf("numeric user: %q", out)
	}
}

// cgroupValue reads a cgroup file of a container from whichever hierarchy has it.
func cgroupValue(t *testing.T, cgroupsPath string, names ...string) string {
	t.Helper()
	for _, d := range cgroupDirs(cgroupsPath) {
		for _, n := range names {
			if b, err := os.ReadFile(filepath.Join(d, n)); err == nil {
				return strings.TrimSpace(string(b))
			}
		}
	}
	t.Fatalf("no cgroup file %v for %s", names, cgroupsPath)
	return ""
}

func TestCgroupLimits(t *testing.T) {
	e := newTestExecutor(t, "")
	task := testTask("sleep 100")
	task.Spec.Resources = &swarm.ResourceRequirements{Limits: &swarm.Limit{MemoryBytes: 64 << 20, Pids: 42, NanoCPUs: 500_000_000}}
	c := run(t, e, task)
	cg := filepath.Join(testCgroupParent, task.ID)
	if v := cgroupValue(t, cg, "memory.max", "memory.limit_in_bytes"); v != strconv.Itoa(64<<20) {
		t.Errorf("memory limit %s", v)
	}
	if v := cgroupValue(t, cg, "pids.max"); v != "42" {
		t.Errorf("pids limit %s", v)
	}
	if v := cgroupValue(t, cg, "cpu.max", "cpu.cfs_quota_us"); v != "50000" && v != "50000 100000" {
		t.Errorf("cpu quota %s", v)
	}
	// The container's process is in that cgroup.
	info, _ := c.Inspect(ctx(t))
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", info.PID))
	if !strings.Contains(string(b), cg) {
		t.Errorf("container process %d is not in %s:\n%s", info.PID, cg, b)
	}
	if err := c.Terminate(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx(t)); err != nil {
		t.Fatal(err)
	}
	assertGone(t, e, task.ID, info.PID)
}

func TestShutdown(t *testing.T) {
	e := newTestExecutor(t, "")

	// A process that ignores the stop signal is killed once the grace period is over.
	stubborn := run(t, e, testTask("trap '' TERM; echo ready; while true; do sleep 1; done"))
	eventually(t, "the stubborn task traps TERM", func() bool { return strings.Contains(output(t, stubborn), "ready") })
	if err := stubborn.Shutdown(ctx(t), 0, 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	st := wait(t, stubborn)
	if st.Code != 137 || st.Signal != syscall.SIGKILL {
		t.Errorf("stubborn task: exit %+v, want killed (137)", st)
	}

	// One that handles it ends by itself, with its own status, before the grace is over.
	polite := testTask("trap 'echo bye; exit 7' QUIT; echo ready; while true; do sleep 0.1; done")
	polite.Spec.ContainerSpec.StopSignal = "SIGQUIT"
	pc := run(t, e, polite)
	eventually(t, "the polite task traps QUIT", func() bool { return strings.Contains(output(t, pc), "ready") })
	if err := pc.Shutdown(ctx(t), 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, pc); st.Code != 7 {
		t.Errorf("polite task: exit %+v, want 7", st)
	}
	if out := output(t, pc); !strings.Contains(out, "bye") {
		t.Errorf("polite task output %q", out)
	}
	// Shutting down what has ended is fine.
	if err := pc.Shutdown(ctx(t), 0, time.Second); err != nil {
		t.Errorf("second shutdown: %v", err)
	}
}

// listensOn reports whether the network namespace of pid has a TCP listener on port.
func listensOn(pid, port int) bool {
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 3 && strings.HasSuffix(f[1], fmt.Sprintf(":%04X", port)) && f[3] == "0A" {
				return true
			}
		}
	}
	return false
}

func TestSamePortInSeparateNamespaces(t *testing.T) {
	e := newTestExecutor(t, "")
	var pids []int
	var nets []string
	for range 2 {
		c := run(t, e, testTask("exec httpd -f -p 8080"))
		info, _ := c.Inspect(ctx(t))
		eventually(t, "httpd listens", func() bool { return listensOn(info.PID, 8080) })
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", info.PID))
		if err != nil {
			t.Fatal(err)
		}
		pids, nets = append(pids, info.PID), append(nets, ns)
		if !strings.HasPrefix(info.NetnsPath, netnsDir+"/shoal-") {
			t.Errorf("netns path %q", info.NetnsPath)
		}
	}
	if nets[0] == nets[1] {
		t.Fatalf("both containers in %s", nets[0])
	}
	self, _ := os.Readlink("/proc/self/ns/net")
	if slices.Contains(nets, self) {
		t.Fatalf("a container shares the node's network namespace")
	}
	for _, pid := range pids {
		if !listensOn(pid, 8080) {
			t.Errorf("container %d no longer listens", pid)
		}
	}
}

// A network namespace given by the caller is joined and left in place.
func TestGivenNetns(t *testing.T) {
	e := newTestExecutor(t, "")
	name := "shoal-test-given"
	path, err := createNetns(ctx(t), e.opts.IP, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteNetns(context.Background(), e.opts.IP, name) })
	task := testTask("sleep 100")
	c, err := e.ControllerFor(task, ControllerOptions{NetnsPath: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Prepare(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	info, _ := c.Inspect(ctx(t))
	got, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", info.PID))
	var want syscall.Stat_t
	syscall.Stat(path, &want)
	if got != fmt.Sprintf("net:[%d]", want.Ino) {
		t.Errorf("container in %s, want the given namespace (inode %d)", got, want.Ino)
	}
	if err := c.Remove(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the given namespace was removed: %v", err)
	}
	assertGone(t, e, task.ID, info.PID)
}

func TestAdoptionAfterRestart(t *testing.T) {
	root := t.TempDir()
	e1 := newTestExecutor(t, root)
	task := testTask("trap 'echo bye; exit 7' TERM; echo started; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done")
	run(t, e1, task)
	stray := testTask("sleep 100") // prepared, never started: must be listed too
	prepare(t, e1, stray)
	c1, _ := e1.Controller(task)
	eventually(t, "the task prints", func() bool { return strings.Contains(output(t, c1), "tick 2") })
	info1, _ := c1.Inspect(ctx(t))

	// The daemon goes away; the container does not. Output meanwhile waits in the FIFO.
	e1.Close()
	time.Sleep(300 * time.Millisecond)

	e2 := newTestExecutor(t, root)
	list, err := e2.List(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]shoalexec.ContainerInfo{}
	for _, ci := range list {
		byID[ci.ID] = ci
	}
	if got := byID[task.ID]; got.State != shoalexec.ContainerRunning || got.TaskID != task.ID || got.PID != info1.PID || got.ServiceID != "svc" {
		t.Errorf("listed %+v, want running with pid %d", got, info1.PID)
	}
	if got := byID[stray.ID]; got.State != shoalexec.ContainerPrepared {
		t.Errorf("stray listed as %+v", got)
	}
	if len(list) != 2 {
		t.Errorf("listed %d containers, want 2: %+v", len(list), list)
	}

	c2, _ := e2.Controller(task)
	// No duplicate: the adopted task is neither prepared nor started again.
	if err := c2.Prepare(ctx(t)); !errors.Is(err, shoalexec.ErrTaskPrepared) {
		t.Errorf("prepare after restart: %v", err)
	}
	if err := c2.Start(ctx(t)); !errors.Is(err, shoalexec.ErrTaskStarted) {
		t.Errorf("start after restart: %v", err)
	}
	short, cancel := context.WithTimeout(ctx(t), 200*time.Millisecond)
	defer cancel()
	if _, err := c2.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait on a running adopted task: %v", err)
	}
	if err := c2.Shutdown(ctx(t), syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if st := wait(t, c2); st.Code != 7 {
		t.Errorf("adopted task exit %+v, want 7", st)
	}
	out := output(t, c2)
	if !strings.Contains(out, "started\n") || !strings.Contains(out, "bye\n") {
		t.Errorf("output across the restart lacks lines:\n%s", out)
	}
	// Every tick is there once, in order: nothing lost or doubled across the restart.
	last := 0
	for _, line := range strings.Split(out, "\n") {
		if n, ok := strings.CutPrefix(line, "tick "); ok {
			i, _ := strconv.Atoi(n)
			if i != last+1 {
				t.Errorf("tick %d after tick %d", i, last)
			}
			last = i
		}
	}

	for _, tk := range []*swarm.Task{task, stray} {
		c, _ := e2.Controller(tk)
		if err := c.Remove(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	assertGone(t, e2, task.ID, info1.PID)
	assertGone(t, e2, stray.ID)
	if list, _ := e2.List(ctx(t)); len(list) != 0 {
		t.Errorf("still listed after remove: %+v", list)
	}
}

// A container that ends while no daemon watches is found exited, with its code, after the
// restart.
func TestAdoptionOfExitedContainer(t *testing.T) {
	root := t.TempDir()
	e1 := newTestExecutor(t, root)
	task := testTask("echo early; sleep 0.5; exit 5")
	c1 := run(t, e1, task)
	// Output still in the FIFO when a container ends with no daemon reading is lost (see the
	// package doc): let this executor read it first.
	eventually(t, "the output is read", func() bool { return strings.Contains(output(t, c1), "early") })
	e1.Close()
	time.Sleep(time.Second)
	e2 := newTestExecutor(t, root)
	c, _ := e2.Controller(task)
	if st := wait(t, c); st.Code != 5 {
		t.Errorf("exit %+v, want 5", st)
	}
	if out := output(t, c); !strings.Contains(out, "early") {
		t.Errorf("output written before the restart is missing: %q", out)
	}
}

func TestRemoveRunning(t *testing.T) {
	e := newTestExecutor(t, "")
	task := testTask("sleep 1000")
	c := run(t, e, task)
	info, _ := c.Inspect(ctx(t))
	if info.State != shoalexec.ContainerRunning || info.PID == 0 {
		t.Fatalf("inspect %+v", info)
	}
	wrapper := readPID(filepath.Join(e.dir(task.ID), wrapperPIDFile))
	if err := c.Remove(ctx(t)); err != nil {
		t.Fatal(err)
	}
	assertGone(t, e, task.ID, info.PID, wrapper)
	if err := c.Remove(ctx(t)); err != nil {
		t.Errorf("second remove: %v", err)
	}
	if info, _ := c.Inspect(ctx(t)); info.State != shoalexec.ContainerMissing {
		t.Errorf("after remove: %+v", info)
	}
}

func TestHealthCheck(t *testing.T) {
	var rec healthRecorder
	e := newTestExecutor(t, "", func(o *Options) { o.OnHealth = rec.record })
	task := testTask("touch /tmp/healthy; sleep 1000")
	task.Spec.ContainerSpec.Healthcheck = &container.HealthConfig{
		Test:     []string{"CMD-SHELL", "test -f /tmp/healthy && echo fine"},
		Interval: 100 * time.Millisecond,
		Timeout:  5 * time.Second,
		Retries:  2,
	}
	c := run(t, e, task)
	eventually(t, "healthy", func() bool { return c.Health().Status == container.Healthy })
	h := c.Health()
	if last := h.Log[len(h.Log)-1]; last.ExitCode != 0 || last.Output != "fine\n" {
		t.Errorf("last probe %+v", last)
	}
	// The probe runs in the container: remove its file from the container's root.
	if err := os.Remove(filepath.Join(e.dir(task.ID), rootfsDir, "tmp/healthy")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Wait(ctx(t)); !errors.Is(err, shoalexec.ErrUnhealthy) {
		t.Fatalf("wait: %v, want unhealthy", err)
	}
	if h := c.Health(); h.Status != container.Unhealthy || h.FailingStreak < 2 {
		t.Errorf("health %+v", h)
	}
	if got := rec.seen(); !slices.Equal(got, []container.HealthStatus{container.Healthy, container.Unhealthy}) {
		t.Errorf("status changes told to OnHealth %v, want healthy then unhealthy", got)
	}
}

func TestHealthCheckTimeout(t *testing.T) {
	e := newTestExecutor(t, "")
	task := testTask("sleep 1000")
	task.Spec.ContainerSpec.Healthcheck = &container.HealthConfig{
		Test:     []string{"CMD", "sleep", "100"},
		Interval: 100 * time.Millisecond,
		Timeout:  300 * time.Millisecond,
		Retries:  1,
	}
	c := run(t, e, task)
	if _, err := c.Wait(ctx(t)); !errors.Is(err, shoalexec.ErrUnhealthy) {
		t.Fatalf("wait: %v, want unhealthy", err)
	}
	h := c.Health()
	if last := h.Log[len(h.Log)-1]; last.ExitCode != -1 || !strings.Contains(last.Output, "exceeded timeout") {
		t.Errorf("last probe %+v", last)
	}
	// The timed-out probe was killed: only the container's own sleep is left in it.
	info, _ := c.Inspect(ctx(t))
	eventually(t, "the probe is killed", func() bool {
		procs, _ := os.ReadFile(filepath.Join(cgroupDirs(filepath.Join(testCgroupParent, task.ID))[0], "cgroup.procs"))
		return len(strings.Fields(string(procs))) == 1
	})
	_ = info
}

func TestLogsFollow(t *testing.T) {
	e := newTestExecutor(t, "")
	c := run(t, e, testTask("for i in 1 2 3; do echo line $i; sleep 0.2; done"))
	var lines []string
	err := c.Logs(ctx(t), shoalexec.LogsOptions{Follow: true}, func(m shoalexec.LogMessage) error {
		lines = append(lines, strings.TrimSpace(string(m.Line)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(lines, []string{"line 1", "line 2", "line 3"}) {
		t.Errorf("followed %q", lines)
	}
}

func TestDescribe(t *testing.T) {
	e := newTestExecutor(t, "")
	d, err := e.Describe(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if d.Hostname == "" || d.Platform.OS != "linux" || d.Resources.NanoCPUs < 1e9 || d.Resources.MemoryBytes <= 0 || !strings.HasPrefix(d.Engine.EngineVersion, "runc") {
		t.Errorf("describe %+v", d)
	}
}

func TestRemoveAll(t *testing.T) {
	e := newTestExecutor(t, "")
	running := testTask("sleep 1000")
	exited := testTask("true")
	prepared := testTask("true")
	var pids []int
	for _, tk := range []*swarm.Task{running, exited} {
		c := run(t, e, tk)
		info, _ := c.Inspect(ctx(t))
		pids = append(pids, info.PID)
	}
	prepare(t, e, prepared)
	if err := e.RemoveAll(ctx(t)); err != nil {
		t.Fatal(err)
	}
	for _, tk := range []*swarm.Task{running, exited, prepared} {
		assertGone(t, e, tk.ID, pids...)
	}
	if list, _ := e.List(ctx(t)); len(list) != 0 {
		t.Errorf("listed after RemoveAll: %+v", list)
	}
}
