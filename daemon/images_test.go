package daemon

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal/shoal/agent/exec/exectest"
	"github.com/shoal/shoal/api"
	"github.com/shoal/shoal/internal/clock"
)

func rootfsTar(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte("#!/bin/sh\necho hi\n")
	if err := tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImageImportFromURL(t *testing.T) {
	tarball := rootfsTar(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/rootfs.tar" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(tarball)
	}))
	defer srv.Close()
	dir := t.TempDir()
	d, err := New(Config{DataRoot: filepath.Join(dir, "data"), Hostname: "n", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Executor: exectest.New(clock.Real{})})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var progress bytes.Buffer
	if err := d.ImageImport(ctx, nil, api.ImageImportOptions{FromSrc: srv.URL + "/rootfs.tar", Repo: "fromurl", Tag: "1"}, &progress); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "sha256:") {
		t.Fatalf("progress = %q, want the image ID", progress.String())
	}
	if _, err := d.images.Resolve("fromurl:1"); err != nil {
		t.Fatalf("imported image not found: %v", err)
	}
	err = d.ImageImport(ctx, nil, api.ImageImportOptions{FromSrc: srv.URL + "/missing.tar", Repo: "x"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("missing URL: %v, want an error naming the server's answer", err)
	}
	if err := d.ImageImport(ctx, nil, api.ImageImportOptions{FromSrc: "ftp://example/x", Repo: "x"}, io.Discard); err == nil {
		t.Fatal("an ftp URL was accepted")
	}
}
