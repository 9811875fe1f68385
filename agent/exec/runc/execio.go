package runc

import (
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	shoalexec "github.com/shoal/shoal/agent/exec"
	"github.com/shoal/shoal/internal/clock"
	"github.com/shoal/shoal/internal/term"
)

// execOutputDrainWait bounds how long an exec's output is still read once runc has
// returned: the output ends with runc, unless a process that escaped the exec holds it.
const execOutputDrainWait = 2 * time.Second

// execWiring connects runc exec's stdio to the caller's streams. newXWiring sets the
// command's stdio; run starts copying once runc runs; finish, after runc has returned, reads
// the output to its end (bounded), closes stdin and waits for every goroutine it started.
type execWiring interface {
	run(runc *os.Process, resize <-chan shoalexec.TermSize)
	finish(stdin io.Closer, clk clock.Clock)
	abort() // runc did not start: release what the wiring made
	// runcErrors is what runc complained about where the wiring can tell it apart from the
	// command's output; reportsRuncErrors says whether those complaints reached the caller's
	// Stderr instead.
	runcErrors() string
	reportsRuncErrors() bool
}

// pipeWiring gives runc pipes (or /dev/null for streams not attached): runc copies them to
// and from the command's own pipes.
type pipeWiring struct {
	stdin     io.Reader // the caller's, nil when not attached
	stdinW    *os.File  // our end of runc's stdin
	outputs   []*outputCopy
	toRunc    []*os.File // runc's ends, closed in the parent once it started
	hasStderr bool
	wg        sync.WaitGroup
}

func newPipeWiring(cmd *exec.Cmd, stdin io.Reader, sio shoalexec.ExecIO) (_ *pipeWiring, err error) {
	w := &pipeWiring{hasStderr: sio.Stderr != nil}
	defer func() {
		if err != nil {
			w.abort()
		}
	}()
	if sio.Stdin != nil {
		r, wr, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		w.stdin, w.stdinW, cmd.Stdin = stdin, wr, r
		w.toRunc = append(w.toRunc, r)
	}
	for _, out := range []struct {
		dst  io.Writer
		into *io.Writer
	}{{sio.Stdout, &cmd.Stdout}, {sio.Stderr, &cmd.Stderr}} {
		if out.dst == nil {
			continue // os/exec gives runc /dev/null
		}
		r, wr, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		*out.into = wr
		w.toRunc = append(w.toRunc, wr)
		w.outputs = append(w.outputs, newOutputCopy(r, out.dst))
	}
	return w, nil
}

func (w *pipeWiring) run(*os.Process, <-chan shoalexec.TermSize) {
	for _, f := range w.toRunc {
		f.Close()
	}
	w.toRunc = nil
	for _, o := range w.outputs {
		w.wg.Go(o.copy)
	}
	if w.stdinW != nil {
		w.wg.Go(func() {
			_, _ = io.Copy(w.stdinW, w.stdin)
			w.stdinW.Close() // end of input: runc closes the command's stdin
		})
	}
}

func (w *pipeWiring) finish(stdin io.Closer, clk clock.Clock) {
	drainOutputs(w.outputs, clk)
	_ = stdin.Close() // ends a read of the caller's stdin, and so the stdin copier
	w.wg.Wait()
	for _, o := range w.outputs {
		o.src.Close()
	}
}

func (w *pipeWiring) abort() {
	for _, f := range w.toRunc {
		f.Close()
	}
	for _, o := range w.outputs {
		o.src.Close()
	}
	if w.stdinW != nil {
		w.stdinW.Close()
	}
}

func (w *pipeWiring) runcErrors() string      { return "" }
func (w *pipeWiring) reportsRuncErrors() bool { return w.hasStderr }

// ttyWiring gives runc the slave of a pseudo-terminal pair of ours as stdin and stdout, and
// a buffer as stderr, where runc's own complaints go; the caller talks to the master.
type ttyWiring struct {
	master, slave *os.File
	stdin         io.Reader // the caller's, nil when not attached
	output        *outputCopy
	runcStderr    *cappedBuffer // written by os/exec's copier, read after Wait
	stopResize    chan struct{}
	wg            sync.WaitGroup
}

func newTTYWiring(cmd *exec.Cmd, size *shoalexec.TermSize, stdin io.Reader, sio shoalexec.ExecIO) (*ttyWiring, error) {
	master, slave, err := term.OpenPTY()
	if err != nil {
		return nil, err
	}
	w := &ttyWiring{master: master, slave: slave, runcStderr: &cappedBuffer{limit: maxHealthOutput}, stopResize: make(chan struct{})}
	// Raw before runc sees it: runc would make it raw only once the command runs, and input
	// sent before would be echoed and line-edited by our side.
	if _, err := term.MakeRaw(slave.Fd()); err != nil {
		w.abort()
		return nil, err
	}
	if size != nil {
		// runc sets the exec's terminal to the size of its own when the command starts.
		if err := term.SetSize(master, term.Size{Height: size.Height, Width: size.Width}); err != nil {
			w.abort()
			return nil, err
		}
	}
	if sio.Stdin != nil {
		w.stdin = stdin
	}
	dst := sio.Stdout
	if dst == nil {
		dst = io.Discard
	}
	w.output = newOutputCopy(master, dst)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, w.runcStderr
	return w, nil
}

func (w *ttyWiring) run(runc *os.Process, resize <-chan shoalexec.TermSize) {
	w.slave.Close() // runc holds it now; the master reads EIO once runc is gone
	w.wg.Go(w.output.copy)
	if w.stdin != nil {
		w.wg.Go(func() { _, _ = io.Copy(w.master, w.stdin) })
	}
	if resize != nil {
		w.wg.Go(func() {
			for {
				select {
				case <-w.stopResize:
					return
				case s, ok := <-resize:
					if !ok {
						return
					}
					if term.SetSize(w.master, term.Size{Height: s.Height, Width: s.Width}) == nil {
						_ = runc.Signal(syscall.SIGWINCH)
					}
				}
			}
		})
	}
}

func (w *ttyWiring) finish(stdin io.Closer, clk clock.Clock) {
	close(w.stopResize)
	drainOutputs([]*outputCopy{w.output}, clk)
	_ = stdin.Close()
	// A write to the master after runc left may block once its buffer is full: cut it off.
	_ = w.master.SetWriteDeadline(time.Now())
	w.wg.Wait()
	w.master.Close()
}

func (w *ttyWiring) abort() {
	w.master.Close()
	w.slave.Close()
}

func (w *ttyWiring) runcErrors() string      { return w.runcStderr.String() }
func (w *ttyWiring) reportsRuncErrors() bool { return false }

// outputCopy copies one of runc's outputs to the caller. A caller that stops taking output
// does not stop the copy: the rest is read and dropped, so the command never blocks on a
// full pipe.
type outputCopy struct {
	src  *os.File
	dst  io.Writer
	done chan struct{} // closed when copy returns
}

func newOutputCopy(src *os.File, dst io.Writer) *outputCopy {
	return &outputCopy{src: src, dst: dst, done: make(chan struct{})}
}

func (o *outputCopy) copy() {
	defer close(o.done)
	dst := o.dst
	buf := make([]byte, 32*1024)
	for {
		n, err := o.src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				dst = io.Discard
			}
		}
		if err != nil {
			// EOF for a pipe, EIO for a terminal master whose slaves are all closed, a
			// deadline when drainOutputs gave up.
			return
		}
	}
}

// drainOutputs waits for the outputs to end, up to execOutputDrainWait on the clock, then
// cuts them off.
func drainOutputs(outputs []*outputCopy, clk clock.Clock) {
	deadline := clk.After(execOutputDrainWait)
	for _, o := range outputs {
		select {
		case <-o.done:
		case <-deadline:
			for _, o := range outputs {
				_ = o.src.SetReadDeadline(time.Now())
			}
			return
		}
	}
}

// onceCloser closes the caller's stdin once, however many times it is asked to.
type onceCloser struct {
	io.Reader
	c    io.Closer
	once sync.Once
}

func newOnceCloser(rc io.ReadCloser) *onceCloser {
	if rc == nil {
		return &onceCloser{}
	}
	return &onceCloser{Reader: rc, c: rc}
}

func (o *onceCloser) Close() error {
	var err error
	o.once.Do(func() {
		if o.c != nil {
			err = o.c.Close()
		}
	})
	return err
}
