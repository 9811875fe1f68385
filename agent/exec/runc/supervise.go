package runc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	shoalexec "github.com/shoal/shoal/agent/exec"
)

// wrapperName is argv[0] of the wrapper shell; with the bundle path after it, it identifies
// a container's wrapper among the node's processes.
const wrapperName = "shoal-wrapper"

// wrapperScript runs `runc run` in the foreground and records its exit status, which is the
// container's (128+n when signal n killed it). It holds both FIFOs open read-write for its
// whole life, so the container never gets EPIPE when no daemon reads, and the daemon sees
// the end of the output exactly when the wrapper goes. Arguments: the bundle directory, then
// the runc command line.
const wrapperScript = `d=$1; shift
echo $$ >"$d/wrapper.pid"
exec 3<>"$d/stdout.fifo" 4<>"$d/stderr.fifo"
"$@" >"$d/stdout.fifo" 2>"$d/stderr.fifo" 3>&- 4>&-
echo $? >"$d/exitcode"
`

// supervisor follows one container for this executor: it copies its output into the log,
// notices its end and runs its health check. Only one executor supervises a container at a
// time (a flock on the bundle's lock file).
type supervisor struct {
	e      *Executor
	id     string
	dir    string
	meta   meta
	ctx    context.Context // ends when the supervisor stops
	cancel context.CancelFunc
	wg     sync.WaitGroup // the supervisor's goroutines
	lock   *os.File
	log    *rotatingLog
	fifos  []*os.File // the output FIFOs' read ends; the copiers close them

	ended    chan struct{} // closed once the wrapper is gone and exit is set
	exited   chan struct{} // closed after ended, once the output was read to its end too
	logsDone chan struct{} // closed once both output streams ended
	stopped  chan struct{} // closed by stop

	mu            sync.Mutex // guards the fields below
	watching      bool
	healthStarted bool
	wrapperPID    int
	exit          shoalexec.ExitStatus
	groupKilled   bool
	startedAt     time.Time
	health        container.Health
	healthChanged chan struct{} // closed and replaced on every health status change
}

// attach returns the container's supervisor, adopting the container if this executor does
// not supervise it yet: output copying starts at once and, when the container was started,
// watching its end and its health. ErrNoContainer when the container was never prepared.
func (e *Executor) attach(id string) (*supervisor, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errors.New("executor closed")
	}
	if s := e.supervised[id]; s != nil {
		return s, nil
	}
	dir := e.dir(id)
	m, err := readMeta(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("container %s: %w", id, shoalexec.ErrNoContainer)
	}
	if err != nil {
		return nil, err
	}
	s, err := e.newSupervisor(id, dir, m)
	if err != nil {
		return nil, err
	}
	e.supervised[id] = s
	if pid := readPID(filepath.Join(dir, wrapperPIDFile)); pid > 0 {
		s.watch(pid, false)
	}
	return s, nil
}

func (e *Executor) newSupervisor(id, dir string, m meta) (_ *supervisor, err error) {
	var closers []func() error
	defer func() {
		if err != nil {
			for _, c := range closers {
				_ = c()
			}
		}
	}()
	lock, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	closers = append(closers, lock.Close)
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return nil, fmt.Errorf("container %s is supervised by another executor: %w", id, err)
	}
	log, err := openRotatingLog(filepath.Join(dir, logFile), e.opts.LogMaxSize, e.opts.LogMaxFiles)
	if err != nil {
		return nil, fmt.Errorf("container log: %w", err)
	}
	closers = append(closers, log.close)
	stdout, err := openFIFO(filepath.Join(dir, stdoutFIFO))
	if err != nil {
		return nil, fmt.Errorf("container output: %w", err)
	}
	closers = append(closers, stdout.Close)
	stderr, err := openFIFO(filepath.Join(dir, stderrFIFO))
	if err != nil {
		return nil, fmt.Errorf("container output: %w", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	s := &supervisor{
		e: e, id: id, dir: dir, meta: m, ctx: ctx, cancel: cancel, lock: lock, log: log,
		fifos:         []*os.File{stdout, stderr},
		ended:         make(chan struct{}),
		exited:        make(chan struct{}),
		logsDone:      make(chan struct{}),
		stopped:       make(chan struct{}),
		health:        shoalexec.NewHealth(m.Healthcheck),
		healthChanged: make(chan struct{}),
	}
	var streams sync.WaitGroup
	for _, st := range []struct {
		f    *os.File
		name string
	}{{stdout, "stdout"}, {stderr, "stderr"}} {
		streams.Go(func() {
			defer st.f.Close()
			err := copyOutput(ctx, st.f, st.name, log, e.opts.Clock.Now, s.wrapperGone)
			if err != nil && ctx.Err() == nil {
				e.opts.Logger.Warn("container output", "container", id, "stream", st.name, "err", err)
			}
		})
	}
	s.wg.Go(func() {
		streams.Wait()
		close(s.logsDone)
	})
	return s, nil
}

// watch starts following the wrapper with pid to its end, and the health check if the
// container's process already runs. trusted says pid is known to be the wrapper (we just
// started it); otherwise the process is checked to be the container's wrapper, since pids get
// reused.
func (s *supervisor) watch(pid int, trusted bool) {
	s.mu.Lock()
	if s.watching {
		s.mu.Unlock()
		return
	}
	s.watching, s.wrapperPID = true, pid
	s.mu.Unlock()

	pidfd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err == nil && !trusted && !wrapperAlive(pid, s.dir) {
		unix.Close(pidfd)
		err = unix.ESRCH
	}
	if err != nil {
		s.wg.Go(s.finish)
		return
	}
	s.wg.Go(func() { s.waitWrapper(pidfd) })
	if fi, err := os.Stat(filepath.Join(s.dir, initPIDFile)); err == nil {
		s.startHealth(fi.ModTime())
	}
}

// startHealth starts the health check, once, for a container whose process started at
// startedAt (which the start period counts from). Probing before then would only find no
// container to exec in.
func (s *supervisor) startHealth(startedAt time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.healthStarted || s.meta.Healthcheck == nil {
		return
	}
	s.healthStarted, s.startedAt = true, startedAt
	s.wg.Go(s.monitorHealth)
}

// waitWrapper waits, through Go's poller, for the wrapper's pidfd to report its exit; reaps
// it if it is our child; and records the container's exit.
func (s *supervisor) waitWrapper(pidfd int) {
	f := os.NewFile(uintptr(pidfd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		s.e.opts.Logger.Error("watch container", "container", s.id, "err", err)
		return
	}
	stop := context.AfterFunc(s.ctx, func() { _ = f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	err = rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 0)
		return err == nil && n > 0
	})
	if err != nil {
		// Stopped: the container goes on without us.
		return
	}
	_ = rc.Control(func(fd uintptr) {
		// Reap the wrapper if it is our child; another process's child gets ECHILD.
		_ = unix.Waitid(unix.P_PIDFD, int(fd), nil, unix.WEXITED|unix.WNOHANG, nil)
	})
	s.finish()
}

// outputDrainWait bounds how long a container's end waits for its output to be read: the
// output ends with the wrapper, unless a process that escaped the container still holds it.
const outputDrainWait = 2 * time.Second

// finish records the container's exit, then lets waiters know once its output was read to
// the end, so that a Wait that returns is followed by complete logs.
func (s *supervisor) finish() {
	code, at, err := readExitCode(s.dir)
	s.mu.Lock()
	if err != nil {
		// The wrapper itself was killed: we did (Terminate's last resort) or someone did.
		code, at = 128+int(unix.SIGKILL), s.e.opts.Clock.Now()
		if !s.groupKilled {
			code = 255
			s.e.opts.Logger.Warn("container exit status lost: its wrapper was killed", "container", s.id)
		}
	}
	s.exit = shoalexec.ExitStatusFromCode(code, at)
	close(s.ended)
	s.mu.Unlock()
	// Wake copiers waiting for a writer that will never come (the wrapper ended before we
	// opened the FIFOs): they check ended again and stop.
	for _, f := range s.fifos {
		_ = f.SetReadDeadline(time.Now())
	}
	select {
	case <-s.logsDone:
	case <-s.ctx.Done():
	case <-s.e.opts.Clock.After(outputDrainWait):
	}
	close(s.exited)
}

// wrapperGone reports whether the container's wrapper has ended.
func (s *supervisor) wrapperGone() bool {
	select {
	case <-s.ended:
		return true
	default:
		return false
	}
}

func (s *supervisor) hasExited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

func (s *supervisor) isStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.watching
}

func (s *supervisor) exitStatus() shoalexec.ExitStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exit
}

// stop ends the supervisor's goroutines and releases its files and lock; the container is
// left as it is.
func (s *supervisor) stop() {
	s.cancel()
	s.wg.Wait()
	_ = s.log.close()
	_ = s.lock.Close()
	close(s.stopped)
}

// detach stops supervising a container.
func (e *Executor) detach(id string) {
	e.mu.Lock()
	s := e.supervised[id]
	delete(e.supervised, id)
	e.mu.Unlock()
	if s != nil {
		s.stop()
	}
}

// startWrapper starts the container's wrapper in a session of its own, so that it and the
// container outlive the daemon and no signal meant for the daemon's process group reaches
// them.
func (e *Executor) startWrapper(dir, id string) (int, error) {
	args := []string{"-c", wrapperScript, wrapperName, dir,
		e.opts.Runtime, "--root", e.runc.root,
		"--log", filepath.Join(dir, runcLogFile), "--log-format", "json",
		"run", "--bundle", dir, "--pid-file", filepath.Join(dir, initPIDFile), id}
	cmd := exec.Command("/bin/sh", args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start container wrapper: %w", err)
	}
	pid := cmd.Process.Pid
	// The supervisor reaps it through its own pidfd; a later daemon cannot, and need not.
	_ = cmd.Process.Release()
	return pid, nil
}
