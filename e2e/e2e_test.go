// Package e2e holds the end-to-end tests: real shoal binaries in labs of network
// namespaces. They need root and the binary named by SHOAL_BIN (make test sets it).
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/shoal/shoal/lab"
)

// shoalBin is the binary under test.
func shoalBin(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("SHOAL_BIN")
	if bin == "" {
		t.Skip("SHOAL_BIN is not set: end-to-end tests need a built shoal binary (run `make test`)")
	}
	return bin
}

// needLab skips unless end-to-end tests can run here.
func needLab(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("end-to-end tests need root (network namespaces)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("end-to-end tests need iproute2's ip")
	}
	return shoalBin(t)
}

// startLab builds a lab and removes it when the test ends, even when the test fails.
func startLab(t testing.TB, opts lab.Options) *lab.Lab {
	t.Helper()
	opts.Bin = needLab(t)
	if opts.DispatcherHeartbeat == 0 {
		opts.DispatcherHeartbeat = time.Second
	}
	_ = lab.Down(opts.Name) // a previous run that was killed may have left it
	var progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l, err := lab.Up(ctx, opts, &progress)
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(t, opts.Name)
		}
		if err := lab.Down(opts.Name); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	if err != nil {
		t.Fatalf("lab up: %v\n%s", err, progress.String())
	}
	return l
}

func dumpLogs(t testing.TB, name string) {
	l, err := lab.Load(name)
	if err != nil {
		return
	}
	for _, n := range l.Nodes() {
		data, err := os.ReadFile(n.Log)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		t.Logf("--- last lines of %s's log:\n%s", n.Name, strings.Join(lines, "\n"))
	}
}

// node returns a lab node or fails the test.
func node(t testing.TB, l *lab.Lab, name string) lab.Node {
	t.Helper()
	n, err := l.Node(name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// run runs the shoal CLI against a node and returns stdout, stderr and the error.
func run(t *testing.T, l *lab.Lab, nodeName string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, shoalBin(t), args...)
	cmd.Env = append(os.Environ(), "SHOAL_HOST="+node(t, l, nodeName).Host())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// mustRun is run that fails the test on error.
func mustRun(t *testing.T, l *lab.Lab, nodeName string, args ...string) string {
	t.Helper()
	out, errOut, err := run(t, l, nodeName, args...)
	if err != nil {
		t.Fatalf("shoal %s on %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), nodeName, err, out, errOut)
	}
	return out
}

// apiClient is a moby client for a lab node.
func apiClient(t testing.TB, l *lab.Lab, nodeName string) *client.Client {
	t.Helper()
	c, err := client.New(client.WithHost(node(t, l, nodeName).Host()), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// eventually polls cond until it returns nil or timeout passes, then fails with the last error.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for time.Since(start) < timeout {
		if err = cond(); err == nil {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not true after %s: %v", what, timeout, err)
	return 0
}

// decodeJSON decodes or fails.
func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decoding %q: %v", s, err)
	}
}

// mountPoint is one line of /proc/self/mountinfo: where something is mounted, and its type.
type mountPoint struct{ dir, fstype string }

// mountPoints lists the machine's mounts (the test's mount namespace, which lab daemons share).
func mountPoints() []mountPoint {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []mountPoint
	for _, line := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		fields, typ := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(typ) == 0 {
			continue
		}
		// mountinfo escapes spaces and the like as octal (\040).
		dir := fields[4]
		if strings.Contains(dir, `\`) {
			if u, err := strconv.Unquote(`"` + strings.ReplaceAll(dir, `"`, `\"`) + `"`); err == nil {
				dir = u
			}
		}
		out = append(out, mountPoint{dir: dir, fstype: typ[0]})
	}
	return out
}

// step is one ordered subtest of a walk that shares a lab.
type step struct {
	name string
	run  func(*testing.T)
}

// runSteps runs the steps in order and stops at the first failure: each later step needs
// the state the ones before it leave.
func runSteps(t *testing.T, steps []step) {
	t.Helper()
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.Fatalf("%s failed; the later steps need the state it leaves, so they do not run", s.name)
		}
	}
}

// checkDrainsConfirmed fails the test if any node stopped a task without every other
// node confirming it no longer routed to it (the drain waited out its bound instead).
func checkDrainsConfirmed(t *testing.T, l *lab.Lab) {
	t.Helper()
	for _, n := range l.Nodes() {
		data, err := os.ReadFile(n.Log)
		if err != nil {
			t.Errorf("reading %s's log: %v", n.Name, err)
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, "did not confirm they stopped routing") {
				t.Errorf("%s: %s", n.Name, line)
			}
		}
	}
}
