package runc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// errRuncNotExist and errRuncNotRunning are runc's "no such container" and "not running".
var (
	errRuncNotExist   = errors.New("container does not exist")
	errRuncNotRunning = errors.New("container not running")
)

// runcCLI runs the runc binary against our own state directory, so our containers never mix
// with another runc user's.
type runcCLI struct {
	bin  string
	root string
}

func (r runcCLI) args(args ...string) []string {
	return append([]string{"--root", r.root}, args...)
}

// run runs one runc command and turns its complaint into an error.
func (r runcCLI) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, r.bin, r.args(args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		switch {
		case strings.Contains(msg, "does not exist"):
			return nil, fmt.Errorf("runc %s: %w", args[0], errRuncNotExist)
		case strings.Contains(msg, "not running"), strings.Contains(msg, "process already finished"):
			return nil, fmt.Errorf("runc %s: %w", args[0], errRuncNotRunning)
		}
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("runc %s: %s", strings.Join(args, " "), msg)
	}
	return stdout.Bytes(), nil
}

// kill signals the container's init process.
func (r runcCLI) kill(ctx context.Context, id string, sig syscall.Signal) error {
	_, err := r.run(ctx, "kill", id, strconv.Itoa(int(sig)))
	return err
}

// delete removes runc's record of the container, killing it first if need be.
func (r runcCLI) delete(ctx context.Context, id string) error {
	_, err := r.run(ctx, "delete", "--force", id)
	if errors.Is(err, errRuncNotExist) {
		return nil
	}
	return err
}

// runcState is one entry of `runc list` / `runc state`.
type runcState struct {
	ID     string `json:"id"`
	PID    int    `json:"pid"`
	Status string `json:"status"`
	Bundle string `json:"bundle"`
}

// list reports the containers under our runc root.
func (r runcCLI) list(ctx context.Context) ([]runcState, error) {
	out, err := r.run(ctx, "list", "--format", "json")
	if err != nil {
		return nil, err
	}
	var states []runcState
	if len(bytes.TrimSpace(out)) == 0 || bytes.Equal(bytes.TrimSpace(out), []byte("null")) {
		return nil, nil
	}
	if err := json.Unmarshal(out, &states); err != nil {
		return nil, fmt.Errorf("runc list: %w", err)
	}
	return states, nil
}

// version is runc's first line of `runc --version`, e.g. "runc version 1.1.5+ds1".
func (r runcCLI) version(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, r.bin, "--version").Output()
	if err != nil {
		return "runc"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}

// lastRuncError digs the last error runc logged (its --log file, JSON lines) for a reason a
// person can act on.
func lastRuncError(logPath string) string {
	f, err := os.Open(logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	var last string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var entry struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &entry) == nil && (entry.Level == "error" || entry.Level == "fatal") {
			last = entry.Msg
		}
	}
	return last
}
