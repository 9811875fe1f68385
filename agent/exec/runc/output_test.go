package runc

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shoal/shoal/agent/exec"
)

func collectLogs(t *testing.T, path string, maxFiles int, opts exec.LogsOptions) []exec.LogMessage {
	t.Helper()
	var got []exec.LogMessage
	err := readLogs(context.Background(), path, maxFiles, opts, func() bool { return true }, time.After, func(m exec.LogMessage) error {
		got = append(got, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRotatingLogStaysBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "container.log")
	l, err := openRotatingLog(path, 1000, 3)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Unix(1700000000, 0).UTC()
	for i := range 500 {
		if err := l.write(logEntry{Log: fmt.Sprintf("line %03d\n", i), Stream: "stdout", Time: base.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	l.close()
	files, _ := filepath.Glob(path + "*")
	if len(files) != 3 {
		t.Errorf("log files %v, want 3", files)
	}
	for _, f := range files {
		if fi, _ := os.Stat(f); fi.Size() > 1000 {
			t.Errorf("%s is %d bytes, over the 1000 limit", f, fi.Size())
		}
	}
	got := collectLogs(t, path, 3, exec.LogsOptions{})
	if len(got) == 0 || string(got[len(got)-1].Line) != "line 499\n" {
		t.Fatalf("newest line missing: %d lines", len(got))
	}
	for i := 1; i < len(got); i++ {
		if !got[i].Time.After(got[i-1].Time) {
			t.Fatalf("lines out of order at %d: %s after %s", i, got[i].Line, got[i-1].Line)
		}
	}
	tail := collectLogs(t, path, 3, exec.LogsOptions{Tail: 2})
	if len(tail) != 2 || string(tail[0].Line) != "line 498\n" || string(tail[1].Line) != "line 499\n" {
		t.Errorf("tail 2: %+v", tail)
	}
	since := collectLogs(t, path, 3, exec.LogsOptions{Since: base.Add(495 * time.Second)})
	if len(since) != 5 {
		t.Errorf("since: %d lines, want 5", len(since))
	}
	// Re-opening appends to the current file.
	l, _ = openRotatingLog(path, 1000, 3)
	l.write(logEntry{Log: "again\n", Stream: "stderr", Time: base.Add(time.Hour)})
	l.close()
	got = collectLogs(t, path, 3, exec.LogsOptions{Tail: 1})
	if len(got) != 1 || string(got[0].Line) != "again\n" || got[0].Stream != "stderr" {
		t.Errorf("after reopen: %+v", got)
	}
}

// The copier reads a FIFO that has no writer yet, splits lines, cuts very long ones, keeps a
// last line without newline, and ends when the writer goes.
func TestCopyOutputFromFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "out.fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	log, err := openRotatingLog(filepath.Join(dir, "container.log"), 1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	r, err := openFIFO(fifo)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- copyOutput(context.Background(), r, "stdout", log, time.Now, func() bool { return false })
	}()
	select {
	case err := <-done:
		t.Fatalf("copier ended before any writer came: %v", err)
	case <-time.After(1500 * time.Millisecond): // past one deadline tick
	}
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", maxLogLine+10)
	fmt.Fprintf(w, "one\ntwo\n%s\nlast", long)
	w.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	log.close()
	got := collectLogs(t, filepath.Join(dir, "container.log"), 2, exec.LogsOptions{})
	var lines []string
	for _, m := range got {
		lines = append(lines, fmt.Sprintf("%d/%v", len(m.Line), m.Partial))
	}
	want := []string{"4/false", "4/false", fmt.Sprintf("%d/true", maxLogLine), "11/false", "4/true"}
	if strings.Join(lines, " ") != strings.Join(want, " ") {
		t.Errorf("entries %v, want %v", lines, want)
	}
	if string(got[0].Line) != "one\n" || string(got[4].Line) != "last" {
		t.Errorf("content: %q ... %q", got[0].Line, got[4].Line)
	}
}

// A reader that opens a FIFO whose wrapper already ended (a daemon adopting a container that
// ended while it was away) ends once told so, without ever seeing a writer.
func TestCopyOutputEndsWhenWrapperGone(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "out.fifo")
	unix.Mkfifo(fifo, 0o600)
	log, _ := openRotatingLog(filepath.Join(dir, "container.log"), 1<<20, 2)
	defer log.close()
	r, err := openFIFO(fifo)
	if err != nil {
		t.Fatal(err)
	}
	var gone atomic.Bool
	done := make(chan error, 1)
	go func() { done <- copyOutput(context.Background(), r, "stdout", log, time.Now, gone.Load) }()
	gone.Store(true)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("copier did not end after the wrapper was gone")
	}
}

func TestCopyOutputStopsWithContext(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "out.fifo")
	unix.Mkfifo(fifo, 0o600)
	log, _ := openRotatingLog(filepath.Join(dir, "container.log"), 1<<20, 2)
	defer log.close()
	r, _ := openFIFO(fifo)
	// A writer that stays: only the context can end the copy.
	w, _ := os.OpenFile(fifo, os.O_WRONLY, 0)
	defer w.Close()
	w.Write([]byte("partial"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- copyOutput(ctx, r, "stdout", log, time.Now, func() bool { return false }) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("copier ignored its context")
	}
	b, _ := os.ReadFile(filepath.Join(dir, "container.log"))
	if !bytes.Contains(b, []byte(`"log":"partial"`)) {
		t.Errorf("partial line not flushed on stop: %s", b)
	}
}
