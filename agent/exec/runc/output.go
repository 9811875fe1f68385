package runc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shoal/shoal/agent/exec"
)

// maxLogLine is where a line without a newline is cut into parts (docker cuts at 16 KiB).
const maxLogLine = 16 * 1024

// logEntry is one line of a container log file, in docker's json-file format so that the
// same readers work: {"log":"hello\n","stream":"stdout","time":"2024-...Z"}.
type logEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// rotatingLog appends JSON lines to path and keeps at most maxFiles files of about maxSize
// bytes each: path, path.1 (older), path.2 (older still)...
type rotatingLog struct {
	path     string
	maxSize  int64
	maxFiles int

	mu   sync.Mutex // guards f and size
	f    *os.File
	size int64
}

func openRotatingLog(path string, maxSize int64, maxFiles int) (*rotatingLog, error) {
	l := &rotatingLog{path: path, maxSize: maxSize, maxFiles: maxFiles}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *rotatingLog) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// write appends one entry, rotating first if it would overflow the current file.
func (l *rotatingLog) write(e logEntry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return os.ErrClosed
	}
	if l.size > 0 && l.size+int64(len(line)) > l.maxSize {
		if err := l.rotate(); err != nil {
			return err
		}
	}
	n, err := l.f.Write(line)
	l.size += int64(n)
	return err
}

// rotate shifts path.N-2 to path.N-1, ..., path to path.1, and starts path anew.
// Called with mu held.
func (l *rotatingLog) rotate() error {
	l.f.Close()
	l.f = nil
	if l.maxFiles <= 1 {
		if err := os.Truncate(l.path, 0); err != nil {
			return err
		}
		return l.open()
	}
	for i := l.maxFiles - 1; i >= 1; i-- {
		from := l.path
		if i > 1 {
			from = fmt.Sprintf("%s.%d", l.path, i-1)
		}
		if err := os.Rename(from, fmt.Sprintf("%s.%d", l.path, i)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return l.open()
}

func (l *rotatingLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// files lists the log's files, oldest first.
func logFiles(path string, maxFiles int) []string {
	var files []string
	for i := maxFiles - 1; i >= 1; i-- {
		p := fmt.Sprintf("%s.%d", path, i)
		if _, err := os.Stat(p); err == nil {
			files = append(files, p)
		}
	}
	return append(files, path)
}

// openFIFO opens a container output FIFO for reading without blocking on its writer, and
// makes its buffer as large as the node allows so that a container can keep writing for a
// while when no daemon reads (the FIFO outlives us: the wrapper holds it open).
func openFIFO(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if max, err := os.ReadFile("/proc/sys/fs/pipe-max-size"); err == nil {
		var size int
		if _, err := fmt.Sscan(string(max), &size); err == nil && size > 0 {
			_, _ = unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, min(size, 1<<20))
		}
	}
	return f, nil
}

// copyOutput reads one output stream of a container from its FIFO and writes it to the log
// line by line until the stream ends (its writers are gone after the container ended) or ctx
// ends. ended reports whether the container's supervising wrapper is gone, which with an empty
// FIFO and no writer means the end even if this reader never saw a writer (a daemon that
// re-adopts a container that ended while it was away).
//
// The FIFO is read through Go's poller, so a waiting stream holds no thread.
func copyOutput(ctx context.Context, f *os.File, stream string, log *rotatingLog, now func() time.Time, ended func() bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, 32*1024)
	var pending []byte
	emit := func(line []byte) error {
		return log.write(logEntry{Log: string(line), Stream: stream, Time: now().UTC()})
	}
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		err := emit(pending)
		pending = pending[:0]
		return err
	}
	for {
		if ctx.Err() != nil {
			return flush()
		}
		// Wake up now and then to notice a wrapper that ended without us seeing a writer.
		_ = f.SetReadDeadline(time.Now().Add(time.Second))
		var n int
		var readErr error
		eof := false
		err := rc.Read(func(fd uintptr) bool {
			n, readErr = unix.Read(int(fd), buf)
			switch {
			case errors.Is(readErr, unix.EAGAIN), errors.Is(readErr, unix.EINTR):
				readErr = nil
				return false
			case readErr == nil && n == 0:
				// No writer. After one was connected, or once the wrapper is gone, this is
				// the end; before (the container is not started yet), wait for one.
				if fifoHungUp(fd) || ended() {
					eof = true
					return true
				}
				return false
			}
			return true
		})
		if n > 0 {
			pending = append(pending, buf[:n]...)
			start := 0
			for {
				rest := pending[start:]
				i := bytes.IndexByte(rest, '\n')
				var cut int
				switch {
				case i >= 0 && i < maxLogLine:
					cut = i + 1
				case len(rest) >= maxLogLine:
					cut = maxLogLine // a part of a longer line
				}
				if cut == 0 {
					break
				}
				if err := emit(rest[:cut]); err != nil {
					return err
				}
				start += cut
			}
			pending = append(pending[:0], pending[start:]...)
		}
		switch {
		case eof:
			return flush()
		case readErr != nil:
			return errors.Join(fmt.Errorf("read %s: %w", stream, readErr), flush())
		case errors.Is(err, os.ErrDeadlineExceeded):
			continue
		case err != nil:
			return errors.Join(fmt.Errorf("read %s: %w", stream, err), flush())
		}
	}
}

// fifoHungUp reports whether a FIFO with no writer has had one since this reader opened it:
// the kernel reports POLLHUP only then.
func fifoHungUp(fd uintptr) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&unix.POLLHUP != 0
}

// readLogs calls fn for the entries of the log files that opts selects, oldest first. With
// Follow, it then keeps reading the current file (following rotations) until done reports the
// output finished and everything was read, or ctx ends; wait paces the polling.
func readLogs(ctx context.Context, path string, maxFiles int, opts exec.LogsOptions, done func() bool, wait func(time.Duration) <-chan time.Time, fn func(exec.LogMessage) error) error {
	var tail []exec.LogMessage
	selected := func(m exec.LogMessage) bool { return opts.Since.IsZero() || !m.Time.Before(opts.Since) }
	deliver := func(m exec.LogMessage) error {
		if !selected(m) {
			return nil
		}
		if opts.Tail > 0 {
			tail = append(tail, m)
			if len(tail) > opts.Tail {
				tail = tail[1:]
			}
			return nil
		}
		return fn(m)
	}
	files := logFiles(path, maxFiles)
	var current *entryReader
	for i, p := range files {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		er := newEntryReader(f)
		if err := er.read(deliver); err != nil {
			f.Close()
			return err
		}
		if i == len(files)-1 {
			current = er
		} else {
			f.Close()
		}
	}
	for _, m := range tail {
		if err := fn(m); err != nil {
			return err
		}
	}
	if current == nil {
		return nil
	}
	defer func() { current.f.Close() }()
	if !opts.Follow {
		return nil
	}
	deliver = func(m exec.LogMessage) error {
		if !selected(m) {
			return nil
		}
		return fn(m)
	}
	for {
		finished := done()
		if err := current.read(deliver); err != nil {
			return err
		}
		// A rotation moved our file aside: finish it, then go on with the new one.
		if rotated(current.f, path) {
			if f, err := os.Open(path); err == nil {
				if err := current.read(deliver); err != nil {
					f.Close()
					return err
				}
				current.f.Close()
				current = newEntryReader(f)
				continue
			}
		}
		if finished {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wait(200 * time.Millisecond):
		}
	}
}

// rotated reports whether path is no longer the file f has open.
func rotated(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && !os.SameFile(a, b)
}

// entryReader reads a log file's JSON lines as they are appended; a line not yet complete
// waits for the next read.
type entryReader struct {
	f       *os.File
	r       *bufio.Reader
	partial []byte
}

func newEntryReader(f *os.File) *entryReader {
	return &entryReader{f: f, r: bufio.NewReaderSize(f, 64*1024)}
}

func (er *entryReader) read(fn func(exec.LogMessage) error) error {
	for {
		line, err := er.r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			er.partial = append(er.partial, line...)
			if len(er.partial) > 4<<20 {
				er.partial = nil // not a line we wrote
			}
			return nil
		}
		if err != nil {
			return err
		}
		if len(er.partial) > 0 {
			line = append(er.partial, line...)
			er.partial = nil
		}
		var e logEntry
		if json.Unmarshal(line, &e) != nil {
			continue
		}
		msg := exec.LogMessage{Time: e.Time, Stream: e.Stream, Line: []byte(e.Log)}
		msg.Partial = len(msg.Line) == 0 || msg.Line[len(msg.Line)-1] != '\n'
		if err := fn(msg); err != nil {
			return err
		}
	}
}
