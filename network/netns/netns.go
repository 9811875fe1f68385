// Package netns owns Shoal's named network namespaces and the one safe way to run code in
// one: namespaces are bind mounts under /run/netns, exactly as `ip netns add` makes them (so
// `ip netns` sees and removes them), Do runs a function on an OS thread that is locked into a
// namespace and either put back or thrown away, and Handle gives a netlink handle whose
// sockets live in a namespace.
//
// Nothing here switches the calling goroutine's thread: every namespace switch happens on a
// goroutine of its own, whose thread the Go runtime destroys when the switch back fails.
package netns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Dir is where named network namespaces live, shared with iproute2.
const Dir = "/run/netns"

// Path is the bind mount of the named namespace.
func Path(name string) string { return filepath.Join(Dir, name) }

// validName refuses names that are not a single path element of /run/netns.
func validName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') || strings.ContainsRune(name, 0) {
		return fmt.Errorf("invalid network namespace name %q: must be one non-empty path element", name)
	}
	return nil
}

// Create makes a new, empty network namespace and pins it at Path(name), like
// `ip netns add`. It fails if the name is taken. The new namespace's loopback is down, as
// the kernel makes it.
func Create(name string) error {
	if err := validName(name); err != nil {
		return err
	}
	if err := ensureSharedDir(); err != nil {
		return err
	}
	path := Path(name)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("create network namespace %s: %w", name, err)
	}
	f.Close()
	if err := onFreshThread(func() error { return pinNewNetns(path) }); err != nil {
		_ = unix.Unmount(path, unix.MNT_DETACH)
		_ = os.Remove(path)
		return fmt.Errorf("create network namespace %s: %w", name, err)
	}
	return nil
}

// pinNewNetns moves the calling (locked, disposable) thread into a new network namespace
// and bind-mounts that namespace onto path. The caller restores the thread.
func pinNewNetns(path string) error {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("unshare: %w", err)
	}
	self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
	if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind mount onto %s: %w", path, err)
	}
	return nil
}

// ensureSharedDir makes Dir a shared mount point, as iproute2 does, so that namespaces
// pinned later show up in mount namespaces copied from this one (a container's) and
// unpinning them reaches those copies too.
func ensureSharedDir() error {
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", Dir, err)
	}
	err := unix.Mount("", Dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) {
		// Not a mount point yet: bind it onto itself first.
		if err := unix.Mount(Dir, Dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind mount %s onto itself: %w", Dir, err)
		}
		err = unix.Mount("", Dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("make %s a shared mount: %w", Dir, err)
	}
	return nil
}

// Delete unpins the named namespace, like `ip netns del`; the kernel frees it (and every
// virtual device in it) once nothing else holds it. A missing name is not an error, and a
// file left without its mount by an interrupted Create is removed too.
func Delete(name string) error {
	if err := validName(name); err != nil {
		return err
	}
	path := Path(name)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount network namespace %s: %w", name, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove network namespace %s: %w", name, err)
	}
	return nil
}

// Exists reports whether a namespace of that name is pinned.
func Exists(name string) bool {
	if validName(name) != nil {
		return false
	}
	_, err := os.Lstat(Path(name))
	return err == nil
}

// List returns the names of the pinned namespaces that start with prefix, sorted.
func List(prefix string) ([]string, error) {
	entries, err := os.ReadDir(Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list network namespaces: %w", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Do runs fn with its OS thread in the network namespace at path (a pinned namespace such as
// Path(name), or /proc/PID/ns/net) and returns fn's error. fn runs on a goroutine of its own:
// sockets it opens belong to the namespace and stay there after Do returns, but goroutines
// it starts do not run in the namespace. If the thread cannot be put back into its own
// namespace, it is never unlocked, so the runtime destroys it rather than let other
// goroutines run in the wrong namespace. A panic in fn is re-raised in the caller.
func Do(path string, fn func() error) error {
	target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer unix.Close(target)
	return onFreshThread(func() error {
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("enter network namespace %s: %w", path, err)
		}
		return fn()
	})
}

// onFreshThread runs fn on a new goroutine locked to its OS thread, free to change that
// thread's network namespace. Afterwards the thread is put back into the namespace it
// started in and unlocked; if that fails, the goroutine ends still locked, which makes the
// runtime destroy the thread.
func onFreshThread(fn func() error) error {
	type result struct {
		err   error
		panic any
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		orig, err := unix.Open(self, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("open own network namespace: %w", err)}
			return
		}
		defer unix.Close(orig)
		var r result
		func() {
			defer func() { r.panic = recover() }()
			r.err = fn()
		}()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// Stay locked: this thread dies with the goroutine.
			r.err = errors.Join(r.err, fmt.Errorf("return to own network namespace (thread discarded): %w", err))
			done <- r
			return
		}
		runtime.UnlockOSThread()
		done <- r
	}()
	r := <-done
	if r.panic != nil {
		panic(r.panic)
	}
	return r.err
}

// Handle returns a netlink handle whose sockets live in the network namespace at path; an
// empty path means the process's own namespace. The handle keeps working after the
// namespace is unpinned (it holds the namespace alive until closed); callers close it.
func Handle(path string) (*netlink.Handle, error) {
	if path == "" {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("netlink handle: %w", err)
		}
		return h, nil
	}
	var h *netlink.Handle
	err := Do(path, func() error {
		var err error
		h, err = netlink.NewHandle()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netlink handle in %s: %w", path, err)
	}
	return h, nil
}

// Inode identifies the network namespace at path (the inode of its nsfs file), so two paths
// can be compared for naming the same namespace.
func Inode(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("stat network namespace %s: %w", path, err)
	}
	return st.Ino, nil
}

// CreateWithLoopback creates the named namespace (if it does not exist yet) with its
// loopback interface up, as a task's namespace needs it, and returns its path.
func CreateWithLoopback(name string) (string, error) {
	if !Exists(name) {
		if err := Create(name); err != nil {
			return "", err
		}
	}
	path := Path(name)
	err := Do(path, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	})
	if err != nil {
		return "", fmt.Errorf("bringing up loopback in %s: %w", name, err)
	}
	return path, nil
}
