package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shoal/shoal/agent/exec/runc"
)

// Down removes the lab.
func (l *Lab) Down() error { return Down(l.Name()) }

// Down removes every trace of a lab: its processes, namespaces, links, mounts, files under
// /etc/netns and state directory. It finds them by name as well as through lab.json, so it
// also clears a lab that is half built or whose lab.json is gone. Removing a lab that does not
// exist succeeds.
func Down(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if err := checkHost(); err != nil {
		return err
	}
	unlock, err := lockLabs()
	if err != nil {
		return err
	}
	defer unlock()

	st, namespaces := downTargets(name)
	link := hostLinkName(name)

	var errs []error
	// Processes first: a namespace with a process in it outlives its name.
	for _, n := range st.Nodes {
		killDaemon(n.PID, n.PIDStart)
	}
	killLabDaemons(labDir(name))
	if err := killNetnsProcesses(namespaces); err != nil {
		errs = append(errs, err)
	}
	// The nodes' containers live in namespaces and cgroups of their own.
	if err := removeNodeContainers(name); err != nil {
		errs = append(errs, err)
	}
	// The machine's link goes before the switch namespace: deleting it is synchronous and
	// takes its peer along, while a deleted namespace releases its links asynchronously.
	if err := delRootLink(link); err != nil {
		errs = append(errs, err)
	}
	// The namespaces the daemons made (tasks', overlay networks') go first: a node's
	// namespace holds one end of the VXLAN sockets' traffic, not their devices.
	for _, ns := range daemonNetns(name) {
		if err := delNetns(ns); err != nil {
			errs = append(errs, err)
		}
	}
	for _, ns := range namespaces {
		if err := delNetns(ns); err != nil {
			errs = append(errs, err)
		}
	}
	for _, ns := range compactStrings(append(namespaces, labEntries(etcNetnsDir, name)...)) {
		if err := os.RemoveAll(filepath.Join(etcNetnsDir, ns)); err != nil {
			errs = append(errs, err)
		}
	}
	dir := labDir(name)
	for _, mnt := range mountsUnder(dir) {
		if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("unmount %s: %w", mnt, err))
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", dir, err))
	}
	if left := leftovers(name); len(left) > 0 {
		errs = append(errs, fmt.Errorf("still present: %s", strings.Join(left, ", ")))
	}
	if len(errs) > 0 {
		return fmt.Errorf("lab down %s: %w", name, errors.Join(errs...))
	}
	return nil
}

// downTargets finds a lab's namespaces by name and through lab.json, which may be missing or
// damaged. Only names that are the lab's by construction count, whatever lab.json claims.
func downTargets(name string) (state, []string) {
	st, err := readState(name)
	if err != nil || st.Name != name {
		st = state{}
	}
	namespaces := labNetns(name)
	namespaces = append(namespaces, st.SwitchNetns)
	for _, n := range st.Nodes {
		namespaces = append(namespaces, n.Netns)
	}
	namespaces = slices.DeleteFunc(compactStrings(namespaces), func(ns string) bool {
		lab, _, ok := parseNetnsName(ns)
		return !ok || lab != name
	})
	return st, namespaces
}

// leftovers lists what of a lab can still be seen by name.
func leftovers(name string) []string {
	var left []string
	for _, ns := range labNetns(name) {
		left = append(left, "netns "+ns)
	}
	for _, ns := range labEntries(etcNetnsDir, name) {
		left = append(left, filepath.Join(etcNetnsDir, ns))
	}
	if link := hostLinkName(name); rootLinkExists(link) {
		left = append(left, "link "+link)
	}
	if _, err := os.Lstat(labDir(name)); err == nil {
		left = append(left, "directory "+labDir(name))
	}
	return left
}

// mountsUnder lists the mount points of the root mount namespace at or under dir, deepest
// first, so they can be unmounted in order.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var mounts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mnt := unescapeMountPath(fields[4])
		if mnt == dir || strings.HasPrefix(mnt, dir+string(filepath.Separator)) {
			mounts = append(mounts, mnt)
		}
	}
	slices.SortFunc(mounts, func(a, b string) int { return len(b) - len(a) })
	return mounts
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func compactStrings(s []string) []string {
	var out []string
	for _, v := range s {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// removeNodeContainers removes every container the lab's daemons left, with what they
// use (mounts, network namespaces, cgroups), through the executor that made them.
func removeNodeContainers(name string) error {
	roots, _ := filepath.Glob(filepath.Join(labDir(name), "*", "data", "containers"))
	var errs []error
	for _, root := range roots {
		ex, err := runc.New(runc.Options{Root: root})
		if err != nil {
			errs = append(errs, fmt.Errorf("removing containers under %s: %w", root, err))
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := ex.RemoveAll(ctx); err != nil {
			errs = append(errs, fmt.Errorf("removing containers under %s: %w", root, err))
		}
		cancel()
		_ = ex.Close()
	}
	return errors.Join(errs...)
}

// daemonNetns lists the namespaces the lab's daemons made: named after a node's
// namespace, then a dot (see nodeNetnsPrefix).
func daemonNetns(name string) []string {
	entries, _ := os.ReadDir(netnsDir)
	var out []string
	for _, e := range entries {
		nodeNs, _, ok := strings.Cut(e.Name(), ".")
		if !ok {
			continue
		}
		if l, _, ok := parseNetnsName(nodeNs); ok && l == name {
			out = append(out, e.Name())
		}
	}
	return out
}
