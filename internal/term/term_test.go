package term

import (
	"io"
	"os"
	"testing"
	"time"
)

func TestPTYCarriesBytesBothWays(t *testing.T) {
	master, slave := openPTY(t)
	if _, err := MakeRaw(slave.Fd()); err != nil {
		t.Fatal(err)
	}
	if _, err := master.Write([]byte("in\n")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 3)
	if _, err := io.ReadFull(slave, got); err != nil || string(got) != "in\n" {
		t.Fatalf("slave read %q, %v; want %q", got, err, "in\n")
	}
	if _, err := slave.Write([]byte("out\n")); err != nil {
		t.Fatal(err)
	}
	master.SetReadDeadline(time.Now().Add(5 * time.Second))
	got = make([]byte, 4)
	if _, err := io.ReadFull(master, got); err != nil || string(got) != "out\n" {
		t.Fatalf("master read %q, %v; want %q (raw mode: no CR added, no echo)", got, err, "out\n")
	}
}

func TestRawModeRestores(t *testing.T) {
	master, slave := openPTY(t)
	if !echoes(t, master, slave) {
		t.Fatal("a new terminal does not echo")
	}
	restore, err := MakeRaw(slave.Fd())
	if err != nil {
		t.Fatal(err)
	}
	if echoes(t, master, slave) {
		t.Error("a raw terminal echoes")
	}
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	if !echoes(t, master, slave) {
		t.Error("the restored terminal does not echo")
	}
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	if _, err := MakeRaw(r.Fd()); err == nil {
		t.Error("MakeRaw of a pipe succeeded")
	}
}

// echoes writes a line to the master, reads it on the slave and reports whether the
// terminal echoed it back to the master.
func echoes(t *testing.T, master, slave *os.File) bool {
	t.Helper()
	if _, err := master.Write([]byte("e\n")); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 2)
	if _, err := io.ReadFull(slave, line); err != nil {
		t.Fatal(err)
	}
	master.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	defer master.SetReadDeadline(time.Time{})
	buf := make([]byte, 16)
	n, _ := master.Read(buf)
	return n > 0
}

func TestSizeSetOnMasterIsReadOnSlave(t *testing.T) {
	master, slave := openPTY(t)
	if err := SetSize(master, Size{Height: 33, Width: 101}); err != nil {
		t.Fatal(err)
	}
	got, err := GetSize(slave.Fd())
	if err != nil || got != (Size{Height: 33, Width: 101}) {
		t.Fatalf("slave size %+v, %v; want 33x101", got, err)
	}
	if !IsTerminal(slave.Fd()) {
		t.Error("slave is not a terminal")
	}
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	if IsTerminal(r.Fd()) {
		t.Error("a pipe is a terminal")
	}
	if _, err := GetSize(r.Fd()); err == nil {
		t.Error("GetSize of a pipe succeeded")
	}
}

func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, slave, err := OpenPTY()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	return master, slave
}
