package runc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// execUser is who a container's process runs as.
type execUser struct {
	UID, GID uint32
	Groups   []uint32 // supplementary groups
	Home     string
}

// resolveUser finds who "user[:group]" is in the container's root filesystem, as docker
// does: names come from its /etc/passwd and /etc/group, numbers may be absent from them, the
// primary group is the user's unless one is given, and the user's memberships in /etc/group
// and the task's extra groups become supplementary groups. Files are read with every path
// resolved inside rootfs, so an image's symlinks cannot point at the node's own files.
func resolveUser(rootfs, spec string, extraGroups []string) (execUser, error) {
	u := execUser{Home: "/"}
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	passwd, err := readRootfsFile(rootfs, "/etc/passwd")
	if err != nil {
		return u, err
	}
	groups, err := readRootfsFile(rootfs, "/etc/group")
	if err != nil {
		return u, err
	}
	users := parseColonFile(passwd, 7)
	groupEntries := parseColonFile(groups, 4)

	name := ""
	if userPart == "" {
		userPart = "0"
	}
	if n, err := strconv.ParseUint(userPart, 10, 32); err == nil {
		u.UID = uint32(n)
		for _, e := range users {
			if e[2] == userPart {
				name = e[0]
				if err := u.setFromPasswd(e); err != nil {
					return u, err
				}
				break
			}
		}
	} else {
		found := false
		for _, e := range users {
			if e[0] == userPart {
				found, name = true, e[0]
				uid, err := strconv.ParseUint(e[2], 10, 32)
				if err != nil {
					return u, fmt.Errorf("bad uid %q for user %s in the image's /etc/passwd", e[2], userPart)
				}
				u.UID = uint32(uid)
				if err := u.setFromPasswd(e); err != nil {
					return u, err
				}
				break
			}
		}
		if !found {
			return u, fmt.Errorf("unable to find user %s: no matching entries in passwd file", userPart)
		}
	}
	if hasGroup {
		gid, err := lookupGroup(groupEntries, groupPart)
		if err != nil {
			return u, err
		}
		u.GID = gid
	}
	seen := map[uint32]bool{u.GID: true}
	addGroup := func(gid uint32) {
		if !seen[gid] {
			seen[gid] = true
			u.Groups = append(u.Groups, gid)
		}
	}
	if name != "" {
		for _, e := range groupEntries {
			for _, member := range strings.Split(e[3], ",") {
				if member == name {
					if gid, err := strconv.ParseUint(e[2], 10, 32); err == nil {
						addGroup(uint32(gid))
					}
				}
			}
		}
	}
	for _, g := range extraGroups {
		gid, err := lookupGroup(groupEntries, g)
		if err != nil {
			return u, err
		}
		addGroup(gid)
	}
	return u, nil
}

func (u *execUser) setFromPasswd(e []string) error {
	gid, err := strconv.ParseUint(e[3], 10, 32)
	if err != nil {
		return fmt.Errorf("bad gid %q for user %s in the image's /etc/passwd", e[3], e[0])
	}
	u.GID = uint32(gid)
	if e[5] != "" {
		u.Home = e[5]
	}
	return nil
}

func lookupGroup(entries [][]string, group string) (uint32, error) {
	if n, err := strconv.ParseUint(group, 10, 32); err == nil {
		return uint32(n), nil
	}
	for _, e := range entries {
		if e[0] == group {
			gid, err := strconv.ParseUint(e[2], 10, 32)
			if err != nil {
				return 0, fmt.Errorf("bad gid %q for group %s in the image's /etc/group", e[2], group)
			}
			return uint32(gid), nil
		}
	}
	return 0, fmt.Errorf("unable to find group %s: no matching entries in group file", group)
}

// parseColonFile splits passwd- or group-style lines into at least n fields each, skipping
// comments and lines too short to mean anything.
func parseColonFile(data []byte, n int) [][]string {
	var out [][]string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		for len(f) < n {
			f = append(f, "")
		}
		out = append(out, f)
	}
	return out
}

// openInRoot opens name as if rootfs were "/": symlinks and ".." cannot leave it.
func openInRoot(rootfs, name string, flags int) (*os.File, error) {
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: rootfs, Err: err}
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, name, &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path.Join(rootfs, name), Err: err}
	}
	return os.NewFile(uintptr(fd), path.Join(rootfs, name)), nil
}

// readRootfsFile reads a small file of the image; a missing file reads as empty.
func readRootfsFile(rootfs, name string) ([]byte, error) {
	f, err := openInRoot(rootfs, name, unix.O_RDONLY)
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 4<<20))
}

// mkdirAllInRoot makes dir and its parents inside rootfs (as root, mode 0755), resolving
// each step inside rootfs.
func mkdirAllInRoot(rootfs, dir string) error {
	dir = path.Clean("/" + dir)
	if dir == "/" {
		return nil
	}
	if f, err := openInRoot(rootfs, dir, unix.O_PATH|unix.O_DIRECTORY); err == nil {
		return f.Close()
	}
	parent := path.Dir(dir)
	if err := mkdirAllInRoot(rootfs, parent); err != nil {
		return err
	}
	pf, err := openInRoot(rootfs, parent, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer pf.Close()
	if err := unix.Mkdirat(int(pf.Fd()), path.Base(dir), 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("make working directory %s in the container: %w", dir, err)
	}
	f, err := openInRoot(rootfs, dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("working directory %s in the container: %w", dir, err)
	}
	return f.Close()
}
