package cli

import (
	"bufio"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// readLineNoEcho reads one line from the terminal f with echo turned off, and restores
// the terminal afterwards.
func readLineNoEcho(f *os.File) (string, error) {
	fd := int(f.Fd())
	saved, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return readLine(f)
	}
	quiet := *saved
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return readLine(f)
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, saved) //nolint:errcheck // best effort restore
	return readLine(f)
}

func readLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err == io.EOF {
		err = nil
	}
	return line, err
}
