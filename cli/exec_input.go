package cli

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"
)

// inputPollInterval is how often forwarding from a file (a terminal, a pipe) checks whether
// it should stop while no input comes.
const inputPollInterval = 100 * time.Millisecond

// forwardInput copies the user's input to the exec until it ends, then half-closes the
// connection, which closes the command's stdin. stop ends the forwarding and waits for it;
// input from a file is read only once poll says it is ready, so a read never blocks past a
// stop and no input is taken from the user's terminal after the exec. Input of any other
// kind cannot be interrupted: its copy ends with its reader.
func forwardInput(in io.Reader, resp client.HijackedResponse) (stop func()) {
	done := make(chan struct{})
	f, isFile := in.(*os.File)
	if !isFile {
		go func() {
			_, _ = io.Copy(resp.Conn, in)
			_ = resp.CloseWrite()
		}()
		return func() {}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 32*1024)
		for {
			ready, err := waitReadable(f, done)
			if err != nil || !ready {
				return
			}
			n, err := f.Read(buf)
			if n > 0 {
				if _, werr := resp.Conn.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				_ = resp.CloseWrite()
				return
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// waitReadable waits until f has input (or its end) to read, or done closes.
func waitReadable(f *os.File, done <-chan struct{}) (bool, error) {
	fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLIN}}
	for {
		select {
		case <-done:
			return false, nil
		default:
		}
		n, err := unix.Poll(fds, int(inputPollInterval/time.Millisecond))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false, err
		}
		if n > 0 {
			return true, nil
		}
	}
}
