package ca

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestNodeCredentialsFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certificates")
	root, cert, key := []byte("root pem"), []byte("cert pem"), []byte("key pem")

	if _, _, _, err := LoadNodeCredentials(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("LoadNodeCredentials of an empty dir: %v, want os.ErrNotExist", err)
	}
	if err := SaveNodeCredentials(dir, root, cert, key); err != nil {
		t.Fatalf("SaveNodeCredentials: %v", err)
	}
	// Saving again replaces the files (renewal).
	cert, key = []byte("renewed cert"), []byte("renewed key")
	if err := SaveNodeCredentials(dir, root, cert, key); err != nil {
		t.Fatalf("SaveNodeCredentials again: %v", err)
	}
	gotRoot, gotCert, gotKey, err := LoadNodeCredentials(dir)
	if err != nil {
		t.Fatalf("LoadNodeCredentials: %v", err)
	}
	if !bytes.Equal(gotRoot, root) || !bytes.Equal(gotCert, cert) || !bytes.Equal(gotKey, key) {
		t.Errorf("loaded %q %q %q, want %q %q %q", gotRoot, gotCert, gotKey, root, cert, key)
	}
	assertMode(t, dir, 0o700|os.ModeDir)
	for _, name := range []string{RootCertFile, NodeCertFile, NodeKeyFile} {
		assertMode(t, filepath.Join(dir, name), 0o600)
	}
	assertOnlyFiles(t, dir, RootCertFile, NodeCertFile, NodeKeyFile)

	if err := os.Remove(filepath.Join(dir, NodeKeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := LoadNodeCredentials(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadNodeCredentials without the key: %v, want os.ErrNotExist", err)
	}
	if err := SaveNodeCredentials(dir, root, cert, nil); err == nil {
		t.Errorf("SaveNodeCredentials with an empty key: no error")
	}
}

func TestExistingDirIsTightened(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := SaveNodeCredentials(dir, []byte("root"), []byte("cert"), []byte("key")); err != nil {
		t.Fatalf("SaveNodeCredentials: %v", err)
	}
	assertMode(t, dir, 0o700|os.ModeDir)
	assertMode(t, filepath.Join(dir, NodeKeyFile), 0o600)
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (os.ModePerm | os.ModeDir); got != want {
		t.Errorf("%s has mode %v, want %v", filepath.Base(path), got, want)
	}
}

// assertOnlyFiles checks that no temporary files were left behind.
func assertOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(names) {
		var got []string
		for _, e := range entries {
			got = append(got, e.Name())
		}
		t.Errorf("%s holds %v, want only %v", dir, got, names)
	}
}
