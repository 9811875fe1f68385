package image

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// archive gives random access to the files of an image archive (docker save or OCI
// layout) spooled to a local file. Entries are read in place, by offset; symlinks (old
// `docker save` links repeated layers) are followed within the archive only, so the
// archive can name nothing on the host.
type archive struct {
	f       *os.File
	entries map[string]archiveEntry
}

type archiveEntry struct {
	offset, size int64
	link         string // for a link: the archive path it points to
}

// maxLinkHops bounds symlink chains inside an archive.
const maxLinkHops = 8

// indexArchive reads the tar headers of f, an uncompressed tar, once.
func indexArchive(f *os.File) (*archive, error) {
	a := &archive{f: f, entries: make(map[string]archiveEntry)}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	tr := tar.NewReader(f) // f is an io.Seeker, so Next skips file bodies by seeking
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return a, nil
		}
		if err != nil {
			return nil, badInputf("reading archive: %v", err)
		}
		name, err := cleanTarPath(hdr.Name)
		if err != nil {
			return nil, err
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			off, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				return nil, err
			}
			a.entries[name] = archiveEntry{offset: off, size: hdr.Size}
		case tar.TypeSymlink:
			target := hdr.Linkname
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(name), target)
			}
			if target, err = cleanTarPath(target); err == nil {
				a.entries[name] = archiveEntry{link: target}
			}
		case tar.TypeLink:
			if target, err := cleanTarPath(hdr.Linkname); err == nil {
				a.entries[name] = archiveEntry{link: target}
			}
		}
	}
}

// has reports whether the archive holds a file (or link) called name.
func (a *archive) has(name string) bool {
	_, ok := a.entries[name]
	return ok
}

// open returns a reader of the file name and its size.
func (a *archive) open(name string) (io.Reader, int64, error) {
	orig := name
	name = path.Clean(strings.TrimLeft(name, "/"))
	for range maxLinkHops {
		e, ok := a.entries[name]
		if !ok {
			return nil, 0, badInputf("archive has no file %q", orig)
		}
		if e.link == "" {
			return io.NewSectionReader(a.f, e.offset, e.size), e.size, nil
		}
		name = e.link
	}
	return nil, 0, badInputf("archive file %q: too many levels of links", orig)
}

// maxJSONSize bounds the manifests, indexes and configs read into memory.
const maxJSONSize = 8 << 20

// readJSONFile reads the small file name whole.
func (a *archive) readJSONFile(name string) ([]byte, error) {
	r, size, err := a.open(name)
	if err != nil {
		return nil, err
	}
	if size > maxJSONSize {
		return nil, badInputf("archive file %q is %d bytes; metadata files may be at most %d", name, size, maxJSONSize)
	}
	return io.ReadAll(r)
}

// blobPath is where an OCI layout keeps the blob with digest d ("sha256:<hex>").
func blobPath(d string) (string, error) {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || alg == "" || hex == "" || strings.ContainsAny(d, "/.") {
		return "", fmt.Errorf("invalid digest %q", d)
	}
	return path.Join("blobs", alg, hex), nil
}
