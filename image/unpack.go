package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."     // aufs bookkeeping entries; never content
	whiteoutOpaque = ".wh..wh..opq" // "hide everything below in this directory"
	xattrOpaque    = "trusted.overlay.opaque"
	paxXattrPrefix = "SCHILY.xattr."
)

// unpackStats is what unpacking learns about a layer.
type unpackStats struct {
	size   int64     // bytes of regular file content
	newest time.Time // newest modification time of any entry
}

// unpacker writes one layer tar into a directory. Every path goes through an os.Root, so
// nothing in the tar (a "../" name, a symlink pointing out, a hard link to a host file) can
// reach outside the directory; symlinks are stored as they are, since they are data.
type unpacker struct {
	root  *os.Root
	chown bool // we are root, so ownership from the tar can be applied
	// dirs holds directory metadata, applied after every entry is written (writing into a
	// directory changes its mtime, and a read-only mode would stop us writing).
	dirs     map[string]*tar.Header
	dirOrder []string
	stats    unpackStats
}

// unpackLayer writes the layer tar r into dir, which must exist, turning docker/OCI
// whiteout entries into overlayfs whiteouts.
func unpackLayer(ctx context.Context, r io.Reader, dir string) (unpackStats, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return unpackStats{}, err
	}
	defer root.Close()
	u := &unpacker{root: root, chown: os.Geteuid() == 0, dirs: make(map[string]*tar.Header)}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return u.stats, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return u.stats, ctx.Err()
			}
			return u.stats, badInputf("reading layer tar: %v", err)
		}
		if hdr.ModTime.After(u.stats.newest) {
			u.stats.newest = hdr.ModTime
		}
		if err := u.entry(hdr, tr); err != nil {
			return u.stats, err
		}
	}
	return u.stats, u.finishDirs()
}

// cleanTarPath turns a tar entry name into a clean path relative to the layer root,
// refusing one that climbs out of it. A leading "/" is dropped, as docker does.
func cleanTarPath(name string) (string, error) {
	p := path.Clean(strings.TrimLeft(name, "/"))
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", badInputf("layer entry %q points outside the layer; refusing it", name)
	}
	return p, nil
}

func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	name, err := cleanTarPath(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		if hdr.Typeflag != tar.TypeDir {
			return badInputf("layer entry %q: the layer root must be a directory", hdr.Name)
		}
		u.recordDir(name, hdr)
		return nil
	}
	parent, base := path.Dir(name), path.Base(name)
	if strings.HasPrefix(base, whiteoutPrefix) {
		return u.whiteout(parent, base)
	}
	if err := u.root.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
	}
	dir, err := u.root.Open(parent)
	if err != nil {
		return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
	}
	defer dir.Close()
	dfd := int(dir.Fd())
	if err := u.clear(dfd, base, name, hdr.Typeflag == tar.TypeDir); err != nil {
		return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
	}
	if err := u.create(dfd, base, name, hdr, r); err != nil {
		return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
	}
	return nil
}

// create makes the entry base in the directory dfd and gives it the tar's metadata.
func (u *unpacker) create(dfd int, base, name string, hdr *tar.Header, r io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(dfd, base, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
		u.recordDir(name, hdr)
		return nil
	case tar.TypeReg, tar.TypeGNUSparse:
		return u.writeFile(dfd, base, hdr, r)
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, dfd, base); err != nil {
			return err
		}
	case tar.TypeLink:
		return u.hardlink(dfd, base, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknodat(dfd, base, mode|uint32(hdr.Mode&0o7777), int(dev)); err != nil {
			return err
		}
	default:
		return badInputf("unsupported tar entry type %q", hdr.Typeflag)
	}
	return u.setMeta(dfd, base, hdr)
}

func (u *unpacker) writeFile(dfd int, base string, hdr *tar.Header, r io.Reader) error {
	fd, err := unix.Openat(dfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), base)
	n, err := io.Copy(f, r)
	u.stats.size += n
	if err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return u.setMeta(dfd, base, hdr)
}

func (u *unpacker) hardlink(dfd int, base string, hdr *tar.Header) error {
	target, err := cleanTarPath(hdr.Linkname)
	if err != nil {
		return err
	}
	tdir, err := u.root.Open(path.Dir(target))
	if err != nil {
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
	}
	defer tdir.Close()
	if err := unix.Linkat(int(tdir.Fd()), path.Base(target), dfd, base, 0); err != nil {
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
	}
	return nil
}

// setMeta applies ownership, mode, xattrs and times to a non-directory entry, without
// following it if it is a symlink. Mode comes after ownership: chown clears setuid bits.
func (u *unpacker) setMeta(dfd int, base string, hdr *tar.Header) error {
	if u.chown {
		if err := unix.Fchownat(dfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		if err := unix.Fchmodat(dfd, base, uint32(hdr.Mode&0o7777), 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	// The fd's magic link is followed as a directory; base, the last component, is not.
	entry := fmt.Sprintf("/proc/self/fd/%d/%s", dfd, base)
	if err := setXattrs(hdr, func(attr string, v []byte) error { return unix.Lsetxattr(entry, attr, v, 0) }); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime(hdr).UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if err := unix.UtimesNanoAt(dfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("setting times: %w", err)
	}
	return nil
}

// setXattrs sets, through set, the extended attributes the tar carries for an entry,
// except overlayfs's own, which only the store may set.
func setXattrs(hdr *tar.Header, set func(attr string, v []byte) error) error {
	for k, v := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(k, paxXattrPrefix)
		if !ok || strings.HasPrefix(attr, "trusted.overlay.") {
			continue
		}
		if err := set(attr, []byte(v)); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("setting xattr %s: %w", attr, err)
		}
	}
	return nil
}

// clear removes whatever is at base before a new entry takes its place, except that a
// directory stays when the new entry is a directory too (tar entries merge into it).
func (u *unpacker) clear(dfd int, base, name string, newIsDir bool) error {
	var st unix.Stat_t
	err := unix.Fstatat(dfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if newIsDir {
			return nil
		}
		return u.root.RemoveAll(name)
	}
	return unix.Unlinkat(dfd, base, 0)
}

// whiteout turns a ".wh." entry into its overlayfs form: ".wh..wh..opq" marks parent opaque;
// ".wh.NAME" becomes a 0/0 character device NAME.
func (u *unpacker) whiteout(parent, base string) error {
	if base != whiteoutOpaque && strings.HasPrefix(base, whiteoutMeta) {
		return nil
	}
	if err := u.root.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("whiteout %s/%s: %w", parent, base, err)
	}
	dir, err := u.root.Open(parent)
	if err != nil {
		return fmt.Errorf("whiteout %s/%s: %w", parent, base, err)
	}
	defer dir.Close()
	dfd := int(dir.Fd())
	if base == whiteoutOpaque {
		if err := unix.Fsetxattr(dfd, xattrOpaque, []byte("y"), 0); err != nil {
			return fmt.Errorf("marking %s opaque: %w", parent, err)
		}
		return nil
	}
	target := strings.TrimPrefix(base, whiteoutPrefix)
	if target == "" || target == "." || target == ".." {
		return badInputf("layer entry %q is not a valid whiteout", path.Join(parent, base))
	}
	if err := u.clear(dfd, target, path.Join(parent, target), false); err != nil {
		return fmt.Errorf("whiteout %s: %w", path.Join(parent, target), err)
	}
	if err := unix.Mknodat(dfd, target, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("whiteout %s: %w", path.Join(parent, target), err)
	}
	return nil
}

func (u *unpacker) recordDir(name string, hdr *tar.Header) {
	if _, ok := u.dirs[name]; !ok {
		u.dirOrder = append(u.dirOrder, name)
	}
	u.dirs[name] = hdr
}

// finishDirs applies the recorded directory metadata, deepest last-seen first. A directory
// that a later entry replaced is skipped.
func (u *unpacker) finishDirs() error {
	for i := len(u.dirOrder) - 1; i >= 0; i-- {
		name := u.dirOrder[i]
		hdr := u.dirs[name]
		fi, err := u.root.Lstat(name)
		if err != nil || !fi.IsDir() {
			continue
		}
		if u.chown {
			if err := u.root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
				return fmt.Errorf("layer directory %q: %w", name, err)
			}
		}
		if err := u.root.Chmod(name, hdr.FileInfo().Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
			return fmt.Errorf("layer directory %q: %w", name, err)
		}
		if len(hdr.PAXRecords) > 0 {
			d, err := u.root.Open(name)
			if err != nil {
				return fmt.Errorf("layer directory %q: %w", name, err)
			}
			dfd := int(d.Fd())
			err = setXattrs(hdr, func(attr string, v []byte) error { return unix.Fsetxattr(dfd, attr, v, 0) })
			d.Close()
			if err != nil {
				return fmt.Errorf("layer directory %q: %w", name, err)
			}
		}
		if err := u.root.Chtimes(name, atime(hdr), hdr.ModTime); err != nil {
			return fmt.Errorf("layer directory %q: %w", name, err)
		}
	}
	return nil
}

func atime(hdr *tar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}
