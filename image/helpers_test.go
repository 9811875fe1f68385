package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"testing"
	"time"
)

// entry is one file of a tar a test builds.
type entry struct {
	name     string
	typ      byte // tar.TypeReg when zero
	body     string
	mode     int64 // 0644 (files) or 0755 (dirs) when zero
	link     string
	uid, gid int
	mtime    time.Time
	xattrs   map[string]string
}

var testTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// makeTar builds an uncompressed tar of entries.
func makeTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{
			Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link,
			Uid: e.uid, Gid: e.gid, ModTime: e.mtime, Format: tar.FormatPAX,
		}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.ModTime.IsZero() {
			hdr.ModTime = testTime
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
			if hdr.Typeflag == tar.TypeDir {
				hdr.Mode = 0o755
			}
		}
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		for k, v := range e.xattrs {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords[paxXattrPrefix+k] = v
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rootfs is a small root filesystem tarball, different for each distinct marker.
func rootfs(t testing.TB, marker string) []byte {
	return makeTar(t,
		entry{name: "bin/", typ: tar.TypeDir},
		entry{name: "bin/app", body: "#!/bin/sh\necho " + marker + "\n", mode: 0o755},
		entry{name: "etc/", typ: tar.TypeDir},
		entry{name: "etc/passwd", body: "root:x:0:0:root:/:/bin/sh\n"},
	)
}

func openStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func importBytes(t testing.TB, s *Store, b []byte, ref string, changes ...string) Image {
	t.Helper()
	img, err := s.Import(context.Background(), bytes.NewReader(b), ref, changes)
	if err != nil {
		t.Fatalf("Import(%q): %v", ref, err)
	}
	return img
}

// needRoot skips tests that make device nodes or trusted xattrs.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("unpacking whiteouts and ownership needs root (mknod, trusted.* xattrs, chown)")
	}
}
