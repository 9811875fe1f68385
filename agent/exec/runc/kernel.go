package runc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shoal/shoal/internal/clock"
)

// netnsDir is where `ip netns` keeps named network namespaces.
const netnsDir = "/run/netns"

// mountOverlay mounts the container's root: the image layers (top-most first) read-only under
// a per-container upper and work directory.
func mountOverlay(target string, lowers []string, upper, work string) error {
	for _, l := range lowers {
		if !filepath.IsAbs(l) || strings.ContainsAny(l, ":,") {
			return fmt.Errorf("image layer directory %q cannot be an overlay lower directory: it must be absolute, without ':' or ','", l)
		}
	}
	data := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(lowers, ":"), upper, work)
	if len(data)+len(",index=off") >= os.Getpagesize() {
		return fmt.Errorf("image has too many layers (%d) for one overlay mount", len(lowers))
	}
	// index=off: the same layers are shared by many containers' mounts.
	err := unix.Mount("overlay", target, "overlay", 0, data+",index=off")
	if errors.Is(err, unix.EINVAL) {
		err = unix.Mount("overlay", target, "overlay", 0, data)
	}
	if err != nil {
		return fmt.Errorf("mount overlay root filesystem at %s: %w", target, err)
	}
	return nil
}

// mountsUnder lists the mount points at or under dir in our mount namespace, deepest first.
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var mounts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mnt := unescapeMountinfo(fields[4])
		if mnt == dir || strings.HasPrefix(mnt, dir+"/") {
			mounts = append(mounts, mnt)
		}
	}
	slices.SortFunc(mounts, func(a, b string) int { return len(b) - len(a) })
	return mounts, sc.Err()
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountAll unmounts everything at or under dir, and fails if anything is left: the caller
// deletes dir next, which must never reach into a still-mounted image layer.
func unmountAll(dir string) error {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if err := unix.Unmount(m, 0); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("unmount %s: %w", m, err)
			}
		}
	}
	if left, err := mountsUnder(dir); err != nil || len(left) > 0 {
		return fmt.Errorf("mounts still under %s: %v %v", dir, left, err)
	}
	return nil
}

// createNetns makes a named network namespace with its loopback up and returns its path.
func createNetns(ctx context.Context, ipBin, name string) (string, error) {
	if out, err := exec.CommandContext(ctx, ipBin, "netns", "add", name).CombinedOutput(); err != nil {
		return "", fmt.Errorf("create network namespace %s: %s", name, strings.TrimSpace(string(out)))
	}
	if out, err := exec.CommandContext(ctx, ipBin, "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		_ = deleteNetns(ctx, ipBin, name)
		return "", fmt.Errorf("bring up loopback in network namespace %s: %s", name, strings.TrimSpace(string(out)))
	}
	return filepath.Join(netnsDir, name), nil
}

// deleteNetns removes a named network namespace; a missing one is fine. A name left behind by
// an interrupted `ip netns add` is unmounted and removed by hand.
func deleteNetns(ctx context.Context, ipBin, name string) error {
	p := filepath.Join(netnsDir, name)
	if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	out, err := exec.CommandContext(ctx, ipBin, "netns", "del", name).CombinedOutput()
	if _, statErr := os.Lstat(p); errors.Is(statErr, os.ErrNotExist) {
		return nil
	}
	_ = unix.Unmount(p, unix.MNT_DETACH)
	if rmErr := os.Remove(p); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
		return fmt.Errorf("delete network namespace %s: %s: %w", name, strings.TrimSpace(string(out)), errors.Join(err, rmErr))
	}
	return nil
}

// cgroupMounts lists the node's cgroup hierarchies (v1 controllers and named hierarchies, and
// the v2 unified one).
func cgroupMounts() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var mounts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		// The filesystem type follows the " - " separator.
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, typ := strings.Fields(pre), strings.Fields(post)
		if len(fields) >= 5 && len(typ) > 0 && (typ[0] == "cgroup" || typ[0] == "cgroup2") {
			mounts = append(mounts, unescapeMountinfo(fields[4]))
		}
	}
	return mounts, sc.Err()
}

// cgroupDirs lists the directories a container's cgroup path has on this node now.
func cgroupDirs(cgroupsPath string) []string {
	mounts, _ := cgroupMounts()
	var dirs []string
	for _, m := range mounts {
		d := filepath.Join(m, cgroupsPath)
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// removeCgroups removes a container's cgroup directories in every hierarchy. runc removes
// them when the container ends; this clears what a killed runc left. An emptied cgroup can
// stay busy for a moment after its last process exits, so removal is retried briefly.
func removeCgroups(ctx context.Context, clk clock.Clock, cgroupsPath string) error {
	if cgroupsPath == "" || !filepath.IsAbs(cgroupsPath) || filepath.Clean(cgroupsPath) == "/" {
		return nil
	}
	var errs []error
	for _, d := range cgroupDirs(cgroupsPath) {
		var err error
		for attempt := 0; attempt < 50; attempt++ {
			if err = unix.Rmdir(d); err == nil || errors.Is(err, unix.ENOENT) {
				err = nil
				break
			}
			if !errors.Is(err, unix.EBUSY) {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-clk.After(20 * time.Millisecond):
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}
