package netns

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// These tests create namespaces named t<pid>-netns-*, touch nothing else, and remove them
// when they end, pass or fail.

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
}

func testName(suffix string) string { return fmt.Sprintf("t%d-netns-%s", os.Getpid(), suffix) }

func createForTest(t *testing.T, suffix string) string {
	t.Helper()
	name := testName(suffix)
	if err := Create(name); err != nil {
		t.Fatalf("Create(%s): %v", name, err)
	}
	t.Cleanup(func() {
		if err := Delete(name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return name
}

// threadNetnsInode is the namespace of the calling thread; only meaningful on a locked
// thread. It may run on any goroutine, so it reports errors without stopping the test.
func threadNetnsInode(t *testing.T) uint64 {
	t.Helper()
	ino, err := Inode(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		t.Error(err)
	}
	return ino
}

func TestValidName(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b", "x\x00"} {
		if err := Create(name); err == nil {
			t.Errorf("Create(%q) succeeded, want an error", name)
		}
		if err := Delete(name); err == nil {
			t.Errorf("Delete(%q) succeeded, want an error", name)
		}
		if Exists(name) {
			t.Errorf("Exists(%q) = true", name)
		}
	}
}

func TestCreateListDelete(t *testing.T) {
	requireRoot(t)
	name := createForTest(t, "life")
	if !Exists(name) {
		t.Fatalf("Exists(%s) = false after Create", name)
	}
	if err := Create(name); err == nil {
		t.Errorf("second Create(%s) succeeded, want an error for a taken name", name)
	}
	got, err := List(testName(""))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, name) {
		t.Errorf("List = %v, want it to contain %s", got, name)
	}
	root, err := Inode("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	ino, err := Inode(Path(name))
	if err != nil {
		t.Fatal(err)
	}
	if ino == root {
		t.Errorf("namespace %s is the process's own namespace", name)
	}
	if err := Delete(name); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if Exists(name) {
		t.Errorf("Exists(%s) = true after Delete", name)
	}
	if err := Delete(name); err != nil {
		t.Errorf("Delete of a missing namespace: %v, want nil", err)
	}
}

func TestDeleteUnmountedFile(t *testing.T) {
	requireRoot(t)
	if err := ensureSharedDir(); err != nil {
		t.Fatal(err)
	}
	name := testName("stray")
	if err := os.WriteFile(Path(name), nil, 0o444); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(Path(name)) })
	if err := Delete(name); err != nil {
		t.Fatalf("Delete of a file left without its mount: %v", err)
	}
	if Exists(name) {
		t.Errorf("file %s still exists", Path(name))
	}
}

func TestDoRunsInNamespaceAndRestores(t *testing.T) {
	requireRoot(t)
	name := createForTest(t, "do")
	want, err := Inode(Path(name))
	if err != nil {
		t.Fatal(err)
	}
	before, err := Inode("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 { // enough runs to reuse threads
		var inside uint64
		if err := Do(Path(name), func() error {
			inside = threadNetnsInode(t)
			return nil
		}); err != nil {
			t.Fatalf("Do: %v", err)
		}
		if inside != want {
			t.Fatalf("run %d: fn ran in namespace %d, want %d", i, inside, want)
		}
	}
	// Every thread the runtime hands out afterwards is back in the process's namespace.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if got := threadNetnsInode(t); got != before {
				t.Errorf("a thread was left in namespace %d, want %d", got, before)
			}
		})
	}
	wg.Wait()
	sentinel := errors.New("sentinel")
	if err := Do(Path(name), func() error { return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("Do returned %v, want fn's error", err)
	}
	if err := Do(Path(testName("missing")), func() error { return nil }); err == nil {
		t.Error("Do in a missing namespace succeeded")
	}
}

func TestDoReraisesPanic(t *testing.T) {
	requireRoot(t)
	name := createForTest(t, "panic")
	defer func() {
		if r := recover(); r != "boom" {
			t.Errorf("recovered %v, want boom", r)
		}
	}()
	_ = Do(Path(name), func() error { panic("boom") })
	t.Error("Do returned after fn panicked")
}

func TestHandleWorksInNamespace(t *testing.T) {
	requireRoot(t)
	name := createForTest(t, "handle")
	h, err := Handle(Path(name))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	// A bridge, since this kernel may lack the dummy driver.
	probe := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "tprobe0"}}
	if err := h.LinkAdd(probe); err != nil {
		t.Fatalf("add a link through the handle: %v", err)
	}
	if _, err := h.LinkByName("tprobe0"); err != nil {
		t.Errorf("link not found through the handle: %v", err)
	}
	if _, err := netlink.LinkByName("tprobe0"); err == nil {
		t.Error("link made through the handle appeared in the process's own namespace")
	}
	err = Do(Path(name), func() error {
		_, err := netlink.LinkByName("tprobe0")
		return err
	})
	if err != nil {
		t.Errorf("link not visible from inside the namespace: %v", err)
	}
}
