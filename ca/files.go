package ca

import (
	"fmt"
	"os"
	"path/filepath"
)

// File names in a node's certificate directory.
const (
	RootCertFile = "swarm-root-ca.crt"
	NodeCertFile = "swarm-node.crt"
	NodeKeyFile  = "swarm-node.key"
)

const (
	dirMode  os.FileMode = 0o700
	fileMode os.FileMode = 0o600
)

// SaveNodeCredentials writes the root certificate, node certificate and node key into dir
// (created 0700), each file 0600 and replaced atomically. The three files are not replaced
// as one: a crash between the key and the certificate leaves a mismatched pair, which
// NewCredentials reports as such.
func SaveNodeCredentials(dir string, rootCertPEM, certPEM, keyPEM []byte) error {
	if err := ensurePrivateDir(dir); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{RootCertFile, rootCertPEM}, {NodeKeyFile, keyPEM}, {NodeCertFile, certPEM}} {
		if len(f.data) == 0 {
			return fmt.Errorf("save node credentials: %s is empty", f.name)
		}
		if err := writeFileAtomic(dir, f.name, f.data); err != nil {
			return fmt.Errorf("save node credentials: %w", err)
		}
	}
	return nil
}

// LoadNodeCredentials reads what SaveNodeCredentials wrote. When any file is missing the
// error wraps os.ErrNotExist: the node has not joined a swarm yet.
func LoadNodeCredentials(dir string) (rootCertPEM, certPEM, keyPEM []byte, err error) {
	if rootCertPEM, err = os.ReadFile(filepath.Join(dir, RootCertFile)); err != nil {
		return nil, nil, nil, fmt.Errorf("load node credentials: %w", err)
	}
	if certPEM, err = os.ReadFile(filepath.Join(dir, NodeCertFile)); err != nil {
		return nil, nil, nil, fmt.Errorf("load node credentials: %w", err)
	}
	if keyPEM, err = os.ReadFile(filepath.Join(dir, NodeKeyFile)); err != nil {
		return nil, nil, nil, fmt.Errorf("load node credentials: %w", err)
	}
	return rootCertPEM, certPEM, keyPEM, nil
}

// ensurePrivateDir creates dir if needed and makes it 0700 even if it already existed with
// wider permissions (MkdirAll honours the umask and leaves existing directories alone).
func ensurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("create credentials directory: %w", err)
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		return fmt.Errorf("restrict credentials directory to its owner: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to a temporary file in dir and renames it over name, so a
// reader sees either the old content or the new, never a torn file.
func writeFileAtomic(dir, name string, data []byte) (err error) {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(fileMode); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err = os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return syncDir(dir)
}

// syncDir makes a rename durable across a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
