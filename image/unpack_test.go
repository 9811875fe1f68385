package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// unpackInto unpacks a tar built from entries into a fresh directory, inside a parent
// directory the test can inspect for anything written outside.
func unpackInto(t *testing.T, entries ...entry) (dir string, err error) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "layer")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = unpackLayer(context.Background(), bytes.NewReader(makeTar(t, entries...)), dir)
	return dir, err
}

func TestUnpackWhiteouts(t *testing.T) {
	needRoot(t)
	dir, err := unpackInto(t,
		entry{name: "etc/", typ: tar.TypeDir},
		entry{name: "etc/.wh.motd", body: ""},
		entry{name: "var/cache/", typ: tar.TypeDir, mode: 0o700},
		entry{name: "var/cache/.wh..wh..opq"},
		entry{name: "var/cache/new", body: "fresh"},
		entry{name: ".wh..wh.plnk/", typ: tar.TypeDir}, // aufs bookkeeping: ignored
	)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(dir, "etc/motd"), &st); err != nil {
		t.Fatalf("whiteout for etc/motd: %v", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("etc/motd has mode %o rdev %d; want a 0/0 character device", st.Mode, st.Rdev)
	}
	if _, err := os.Lstat(filepath.Join(dir, "etc/.wh.motd")); !os.IsNotExist(err) {
		t.Errorf("the .wh. file itself was written (%v)", err)
	}
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(filepath.Join(dir, "var/cache"), xattrOpaque, buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Errorf("var/cache %s = %q, %v; want \"y\"", xattrOpaque, buf[:n], err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "var/cache")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("var/cache mode = %v, %v; want 0700", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "var/cache/new")); string(b) != "fresh" {
		t.Errorf("var/cache/new = %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dir, ".wh..wh.plnk")); !os.IsNotExist(err) {
		t.Errorf("aufs bookkeeping directory was written (%v)", err)
	}
}

// TestUnpackedLayersMountAsOverlay checks the point of it all: overlayfs stacks the layer
// directories and honours their whiteouts.
func TestUnpackedLayersMountAsOverlay(t *testing.T) {
	needRoot(t)
	s := openStore(t)
	s.writeMu.Lock()
	lower, _, err := s.ingestLayer(context.Background(), bytes.NewReader(makeTar(t,
		entry{name: "a", body: "lower a"},
		entry{name: "keep", body: "kept"},
		entry{name: "d/", typ: tar.TypeDir},
		entry{name: "d/old", body: "old"},
	)), "")
	if err != nil {
		t.Fatal(err)
	}
	upper, _, err := s.ingestLayer(context.Background(), bytes.NewReader(makeTar(t,
		entry{name: ".wh.a"},
		entry{name: "d/", typ: tar.TypeDir},
		entry{name: "d/.wh..wh..opq"},
		entry{name: "d/new", body: "new"},
	)), "")
	s.writeMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	mnt := t.TempDir()
	opts := "lowerdir=" + s.layerFSPath(upper.DiffID) + ":" + s.layerFSPath(lower.DiffID)
	if err := unix.Mount("overlay", mnt, "overlay", unix.MS_RDONLY, opts); err != nil {
		t.Skipf("cannot mount overlayfs here (%v); the whiteout format is checked by TestUnpackWhiteouts", err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	for name, want := range map[string]string{"a": "", "keep": "kept", "d/old": "", "d/new": "new"} {
		b, err := os.ReadFile(filepath.Join(mnt, name))
		switch {
		case want == "" && !os.IsNotExist(err):
			t.Errorf("%s in the overlay: %q, %v; want it hidden by a whiteout", name, b, err)
		case want != "" && string(b) != want:
			t.Errorf("%s in the overlay = %q, %v; want %q", name, b, err, want)
		}
	}
}

func TestUnpackFileTypesAndMetadata(t *testing.T) {
	needRoot(t)
	dir, err := unpackInto(t,
		entry{name: "./", typ: tar.TypeDir, mode: 0o755},
		entry{name: "bin/", typ: tar.TypeDir},
		entry{name: "bin/busybox", body: "ELF", mode: 0o755},
		entry{name: "bin/sh", typ: tar.TypeSymlink, link: "busybox"},
		entry{name: "bin/abs", typ: tar.TypeSymlink, link: "/etc/shadow"}, // stored as data, never followed
		entry{name: "bin/ls", typ: tar.TypeLink, link: "bin/busybox"},
		entry{name: "usr/bin/passwd", body: "suid", mode: 0o4755},
		entry{name: "home/user/", typ: tar.TypeDir, mode: 0o750, uid: 1000, gid: 1000},
		entry{name: "home/user/file", body: "mine", mode: 0o600, uid: 1000, gid: 1001},
		entry{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		entry{name: "dev/null", typ: tar.TypeChar, mode: 0o666},
		entry{name: "run/fifo", typ: tar.TypeFifo, mode: 0o600},
	)
	if err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(dir, "bin/sh")); err != nil || target != "busybox" {
		t.Errorf("bin/sh -> %q, %v; want busybox", target, err)
	}
	if target, err := os.Readlink(filepath.Join(dir, "bin/abs")); err != nil || target != "/etc/shadow" {
		t.Errorf("bin/abs -> %q, %v; want /etc/shadow", target, err)
	}
	a, _ := os.Stat(filepath.Join(dir, "bin/busybox"))
	b, _ := os.Stat(filepath.Join(dir, "bin/ls"))
	if a == nil || b == nil || !os.SameFile(a, b) {
		t.Errorf("bin/ls is not a hard link of bin/busybox")
	}
	checkMode := func(name string, want os.FileMode) {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		if got := fi.Mode() & (os.ModeType | os.ModePerm | os.ModeSetuid | os.ModeSticky); got != want {
			t.Errorf("%s mode = %v; want %v", name, got, want)
		}
	}
	checkMode("usr/bin/passwd", os.ModeSetuid|0o755)
	checkMode("home/user", os.ModeDir|0o750)
	checkMode("home/user/file", 0o600)
	checkMode("tmp", os.ModeDir|os.ModeSticky|0o777)
	checkMode("dev/null", os.ModeDevice|os.ModeCharDevice|0o666)
	checkMode("run/fifo", os.ModeNamedPipe|0o600)
	checkMode("usr", os.ModeDir|0o755) // made for a missing parent

	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(dir, "home/user/file"), &st); err != nil || st.Uid != 1000 || st.Gid != 1001 {
		t.Errorf("home/user/file owner = %d:%d, %v; want 1000:1001", st.Uid, st.Gid, err)
	}
	if err := unix.Lstat(filepath.Join(dir, "home/user"), &st); err != nil || st.Uid != 1000 || st.Gid != 1000 {
		t.Errorf("home/user owner = %d:%d, %v; want 1000:1000", st.Uid, st.Gid, err)
	}
	for _, name := range []string{"bin", "bin/busybox", "home/user/file"} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil || !fi.ModTime().Equal(testTime) {
			t.Errorf("%s mtime = %v, %v; want %v", name, fi.ModTime(), err, testTime)
		}
	}
}

func TestUnpackReplacesEarlierEntries(t *testing.T) {
	dir, err := unpackInto(t,
		entry{name: "x", body: "file first"},
		entry{name: "x/", typ: tar.TypeDir},
		entry{name: "x/inner", body: "now a dir"},
		entry{name: "y/", typ: tar.TypeDir},
		entry{name: "y/child", body: "gone"},
		entry{name: "y", typ: tar.TypeSymlink, link: "x"},
		entry{name: "z", body: "one"},
		entry{name: "z", body: "two"},
	)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "x/inner")); string(b) != "now a dir" {
		t.Errorf("x/inner = %q", b)
	}
	if target, _ := os.Readlink(filepath.Join(dir, "y")); target != "x" {
		t.Errorf("y -> %q; want x", target)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "z")); string(b) != "two" {
		t.Errorf("z = %q; want the later entry", b)
	}
}

func TestUnpackRefusesEscapes(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
	}{
		{"dot-dot name", []entry{{name: "../evil", body: "x"}}},
		{"dot-dot inside name", []entry{{name: "a/../../evil", body: "x"}}},
		{"absolute symlink then write through it", []entry{
			{name: "link", typ: tar.TypeSymlink, link: "/"},
			{name: "link/evil", body: "x"},
		}},
		{"relative symlink climbing out", []entry{
			{name: "link", typ: tar.TypeSymlink, link: "../../.."},
			{name: "link/evil", body: "x"},
		}},
		{"symlinked directory climbing out", []entry{
			{name: "a/", typ: tar.TypeDir},
			{name: "a/up", typ: tar.TypeSymlink, link: "../.."},
			{name: "a/up/evil", body: "x"},
		}},
		{"hard link to a host file", []entry{{name: "pw", typ: tar.TypeLink, link: "../../../../../../etc/passwd"}}},
		{"hard link through a symlink out", []entry{
			{name: "link", typ: tar.TypeSymlink, link: "/etc"},
			{name: "pw", typ: tar.TypeLink, link: "link/passwd"},
		}},
		{"whiteout through a symlink out", []entry{
			{name: "link", typ: tar.TypeSymlink, link: ".."},
			{name: "link/.wh.evil"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, err := unpackInto(t, tt.entries...)
			if err == nil {
				t.Fatalf("unpacking succeeded; want it refused")
			}
			parent := filepath.Dir(dir)
			entries, _ := os.ReadDir(parent)
			for _, e := range entries {
				if e.Name() != "layer" {
					t.Errorf("something was written outside the layer: %s", filepath.Join(parent, e.Name()))
				}
			}
			if _, err := os.Lstat("/etc/evil"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("/etc/evil exists")
			}
		})
	}
	// The error names the entry.
	_, err := unpackInto(t, entry{name: "../evil", body: "x"})
	if err == nil || !strings.Contains(err.Error(), `"../evil" points outside the layer`) {
		t.Errorf("error = %v; want it to name the entry", err)
	}
}

func TestUnpackRefusesOverlayXattrs(t *testing.T) {
	needRoot(t)
	dir, err := unpackInto(t, entry{name: "d/", typ: tar.TypeDir, xattrs: map[string]string{"trusted.overlay.redirect": "/etc"}},
		entry{name: "f", body: "x", xattrs: map[string]string{"trusted.overlay.opaque": "y"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"d", "f"} {
		sz, _ := unix.Lgetxattr(filepath.Join(dir, name), "trusted.overlay.redirect", nil)
		sz2, _ := unix.Lgetxattr(filepath.Join(dir, name), "trusted.overlay.opaque", nil)
		if sz > 0 || sz2 > 0 {
			t.Errorf("%s carries an overlay xattr from the tar", name)
		}
	}
}
