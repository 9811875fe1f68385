package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/client"
)

// This file starts node daemons inside their namespaces, waits for their API, and finds and
// kills every process that belongs to a lab.

// children are the daemons this process started and has not reaped yet. Daemons run in a
// session of their own and outlive the process that started them; while it lives, it reaps
// the ones it kills so they do not linger as zombies.
var children struct {
	mu   sync.Mutex
	proc map[int]*os.Process
}

// startDaemon starts n.Command inside the node's namespace, detached: a new session, stdin
// from /dev/null, stdout and stderr appended to the node's log. It returns the pid and its
// start time, which together identify the process even after the pid is reused.
func startDaemon(n Node) (pid int, start uint64, err error) {
	if len(n.Command) == 0 {
		return 0, 0, fmt.Errorf("no daemon command for node %s", n.Name)
	}
	logf, err := os.OpenFile(n.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, 0, fmt.Errorf("open daemon log: %w", err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "--- shoal lab: starting %s at %s: %s\n", n.Name, time.Now().Format(time.RFC3339), strings.Join(n.Command, " "))
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, 0, err
	}
	defer devnull.Close()
	// nsenter enters only the network namespace and execs the command in place, so the pid
	// we get is the daemon's. (`ip netns exec` would also remount /sys for the namespace,
	// hiding /sys/fs/cgroup from the daemon's container runtime.)
	cmd := exec.Command("nsenter", append([]string{"--net=" + filepath.Join("/run/netns", n.Netns), "--"}, n.Command...)...)
	cmd.Dir = n.Dir
	cmd.Env = daemonEnv(os.Environ())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, 0, fmt.Errorf("start daemon of %s: %w", n.Name, err)
	}
	pid = cmd.Process.Pid
	children.mu.Lock()
	if children.proc == nil {
		children.proc = map[int]*os.Process{}
	}
	children.proc[pid] = cmd.Process
	children.mu.Unlock()
	start, _ = procStart(pid)
	return pid, start, nil
}

// daemonEnv is the caller's environment without the variables that point clients at a
// daemon: a user who ran `eval "$(shoal lab env manager-1)"` must not hand manager-1's
// address to every daemon started afterwards.
func daemonEnv(environ []string) []string {
	return slices.DeleteFunc(slices.Clone(environ), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "SHOAL_HOST", "DOCKER_HOST", "DOCKER_CONTEXT", "SHOAL_NODE_ADDR":
			return true
		}
		return false
	})
}

// reap collects the exit of a child this process started, if pid is one. It blocks until the
// child exits, so call it after SIGKILL.
func reap(pid int) {
	children.mu.Lock()
	p := children.proc[pid]
	delete(children.proc, pid)
	children.mu.Unlock()
	if p != nil {
		_, _ = p.Wait()
	}
}

// procStat returns a process's state letter and start time (fields 3 and 22 of
// /proc/PID/stat).
func procStat(pid int) (state byte, start uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: fields resume after the
	// last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return f[0][0], start, err
}

func procStart(pid int) (uint64, error) {
	_, start, err := procStat(pid)
	return start, err
}

// alive reports whether pid is a live (not zombie) process started at start.
func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	state, st, err := procStat(pid)
	return err == nil && state != 'Z' && state != 'X' && st == start
}

// nsID identifies a network namespace by its nsfs device and inode.
type nsID struct{ dev, ino uint64 }

func statNS(path string) (nsID, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nsID{}, false
	}
	return nsID{uint64(st.Dev), st.Ino}, true
}

// procNetns reports the network namespace of pid.
func procNetns(pid int) (nsID, bool) { return statNS(fmt.Sprintf("/proc/%d/ns/net", pid)) }

// inNetns reports whether pid lives in the named namespace.
func inNetns(pid int, netnsName string) bool {
	want, ok := statNS(filepath.Join(netnsDir, netnsName))
	if !ok {
		return false
	}
	got, ok := procNetns(pid)
	return ok && got == want
}

// procTable snapshots pid → parent pid of every process.
func procTable() map[int]int {
	entries, _ := os.ReadDir("/proc")
	parents := make(map[int]int, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			parents[pid] = ppid
		}
	}
	return parents
}

// processesIn lists the live processes inside any of the named namespaces, and every
// descendant of theirs wherever it lives (containers a daemon started in namespaces of their
// own). The caller's own process is never listed.
func processesIn(netnsNames []string) []int {
	want := map[nsID]bool{}
	for _, name := range netnsNames {
		if id, ok := statNS(filepath.Join(netnsDir, name)); ok {
			want[id] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	parents := procTable()
	member := map[int]bool{}
	for pid := range parents {
		if id, ok := procNetns(pid); ok && want[id] {
			member[pid] = true
		}
	}
	// Walk each process's ancestors: it belongs to the lab if one of them does.
	self := os.Getpid()
	var pids []int
	for pid := range parents {
		for p, hops := pid, 0; p > 1 && hops < 64; p, hops = parents[p], hops+1 {
			if member[p] {
				if pid != self {
					pids = append(pids, pid)
				}
				break
			}
		}
	}
	return pids
}

// killNetnsProcesses SIGKILLs everything processesIn finds, again until nothing is left
// (a process may fork while we look), and waits for them to be gone.
func killNetnsProcesses(netnsNames []string) error {
	for range 20 {
		pids := processesIn(netnsNames)
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		for _, pid := range pids {
			waitGone(pid)
		}
	}
	if left := processesIn(netnsNames); len(left) > 0 {
		return fmt.Errorf("processes %v in %s survive SIGKILL", left, strings.Join(netnsNames, ", "))
	}
	return nil
}

// killDaemon SIGKILLs a recorded daemon if it is still the process that was started.
func killDaemon(pid int, start uint64) {
	if !alive(pid, start) {
		reapIfChild(pid)
		return
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	waitGone(pid)
}

func reapIfChild(pid int) {
	children.mu.Lock()
	_, ok := children.proc[pid]
	children.mu.Unlock()
	if ok {
		reap(pid)
	}
}

// waitGone reaps pid if it is our child, or else waits (bounded) until it is a zombie or
// gone. Only SIGKILLed processes are waited for, so the bound is never reached in practice.
func waitGone(pid int) {
	children.mu.Lock()
	_, ours := children.proc[pid]
	children.mu.Unlock()
	if ours {
		reap(pid)
		return
	}
	for range 500 {
		state, _, err := procStat(pid)
		if err != nil || state == 'Z' || state == 'X' {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitPing waits until the daemon's API answers GET /_ping, the daemon dies, or the timeout
// passes. Failures carry the tail of the node's log.
func waitPing(ctx context.Context, n Node, timeout time.Duration) error {
	c, err := client.New(client.WithHost(n.Host()))
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		_, last = c.Ping(pctx, client.PingOptions{})
		pcancel()
		if last == nil {
			return nil
		}
		if !alive(n.PID, n.PIDStart) {
			reapIfChild(n.PID)
			return fmt.Errorf("daemon of %s exited before its API answered; end of %s:\n%s", n.Name, n.Log, logTail(n.Log, 20))
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("daemon of %s did not answer on %s within %s (last error: %v); end of %s:\n%s",
					n.Name, n.Socket, timeout, last, n.Log, logTail(n.Log, 20))
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// logTail returns the last lines of a log file, indented for an error message.
func logTail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "    (no log: " + err.Error() + ")"
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return "    " + strings.Join(all, "\n    ")
}

// killLabDaemons SIGKILLs every process whose command line names the lab's directory: the
// daemons of a lab whose lab.json and namespaces are already gone (a run interrupted
// half-way, or two runs of one lab name) would otherwise outlive it.
func killLabDaemons(dir string) {
	needle := []byte(dir + "/")
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, needle) {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
		waitGone(pid)
	}
}
