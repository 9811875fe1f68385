// Package term owns the few terminal operations Shoal needs: making a pseudo-terminal pair,
// putting a terminal in raw mode and back, and reading or setting its size. The executor
// uses them to give an exec a terminal, the CLI to hand the user's terminal to one.
package term

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Size is a terminal's size in characters.
type Size struct {
	Height, Width uint16
}

// OpenPTY makes a pseudo-terminal pair. The master is non-blocking, so reads from it honour
// deadlines; neither end becomes anyone's controlling terminal.
func OpenPTY() (master, slave *os.File, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlock pseudo-terminal: %w", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("pseudo-terminal number: %w", err)
	}
	name := "/dev/pts/" + strconv.FormatUint(uint64(n), 10)
	slave, err = os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("open %s: %w", name, err)
	}
	return master, slave, nil
}

// IsTerminal reports whether fd is a terminal.
func IsTerminal(fd uintptr) bool {
	_, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
	return err == nil
}

// MakeRaw puts the terminal fd in raw mode (cfmakeraw: no echo, no line editing, no signals
// from keys, no output processing) and returns a function that restores its former mode.
func MakeRaw(fd uintptr) (restore func() error, err error) {
	old, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("not a terminal: %w", err)
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(int(fd), unix.TCSETS, &raw); err != nil {
		return nil, fmt.Errorf("set raw mode: %w", err)
	}
	return func() error { return unix.IoctlSetTermios(int(fd), unix.TCSETS, old) }, nil
}

// GetSize reads the size of the terminal fd.
func GetSize(fd uintptr) (Size, error) {
	ws, err := unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ)
	if err != nil {
		return Size{}, fmt.Errorf("terminal size: %w", err)
	}
	return Size{Height: ws.Row, Width: ws.Col}, nil
}

// SetSize sets the size of the terminal f (either end of a pseudo-terminal); the kernel
// tells the terminal's foreground process group with SIGWINCH. It reaches the descriptor
// without f.Fd, which would turn a non-blocking master blocking and break its deadlines.
func SetSize(f *os.File, s Size) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("set terminal size: %w", err)
	}
	var ioctlErr error
	err = rc.Control(func(fd uintptr) {
		ioctlErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: s.Height, Col: s.Width})
	})
	if err == nil {
		err = ioctlErr
	}
	if err != nil {
		return fmt.Errorf("set terminal size: %w", err)
	}
	return nil
}
