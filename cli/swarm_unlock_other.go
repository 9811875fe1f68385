//go:build !linux

package cli

import (
	"bufio"
	"io"
	"os"
)

// readLineNoEcho reads one line from f. Only Linux turns the echo off.
func readLineNoEcho(f *os.File) (string, error) {
	line, err := bufio.NewReader(f).ReadString('\n')
	if err == io.EOF {
		err = nil
	}
	return line, err
}
