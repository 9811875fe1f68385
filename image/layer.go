package image

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"
)

// layerInfo describes one unpacked layer; it is stored as layer.json beside the layer's fs.
type layerInfo struct {
	DiffID  digest.Digest `json:"diffID"`  // sha256 of the uncompressed tar
	TarSize int64         `json:"tarSize"` // bytes of the uncompressed tar
	Size    int64         `json:"size"`    // bytes of regular file content
}

func (s *Store) layerPath(d digest.Digest) string   { return filepath.Join(s.layerDir(), d.Encoded()) }
func (s *Store) layerFSPath(d digest.Digest) string { return filepath.Join(s.layerPath(d), "fs") }

// readLayers loads layer.json of every stored layer; a directory without one is the
// remains of an interrupted write and is deleted.
func (s *Store) readLayers() error {
	entries, err := os.ReadDir(s.layerDir())
	if err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	for _, e := range entries {
		dir := filepath.Join(s.layerDir(), e.Name())
		b, err := os.ReadFile(filepath.Join(dir, "layer.json"))
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.RemoveAll(dir); err != nil {
				return fmt.Errorf("image store: %w", err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("image store: %w", err)
		}
		var l layerInfo
		if err := json.Unmarshal(b, &l); err != nil {
			return fmt.Errorf("image store: %s/layer.json is corrupt: %w", dir, err)
		}
		if l.DiffID.Encoded() != e.Name() {
			return fmt.Errorf("image store: %s/layer.json names layer %s", dir, l.DiffID)
		}
		s.layers[l.DiffID] = l
	}
	return nil
}

// hasLayer reports whether the layer with diffID d is stored.
func (s *Store) hasLayer(d digest.Digest) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.layers[d]
	return ok
}

// ingestLayer unpacks the uncompressed layer tar r into the store and returns the layer
// and the newest modification time among its entries. If want is set, the tar must hash to
// it. Content already stored is unpacked to a scratch directory and dropped, so each layer
// is stored once. The caller holds writeMu.
func (s *Store) ingestLayer(ctx context.Context, r io.Reader, want digest.Digest) (layerInfo, time.Time, error) {
	work, err := os.MkdirTemp(s.tmpDir(), "layer-")
	if err != nil {
		return layerInfo{}, time.Time{}, err
	}
	defer os.RemoveAll(work) // a no-op once renamed into place
	fsDir := filepath.Join(work, "fs")
	if err := os.Mkdir(fsDir, 0o755); err != nil {
		return layerInfo{}, time.Time{}, err
	}

	h := sha256.New()
	counted := &countingReader{r: io.TeeReader(&ctxReader{ctx: ctx, r: r}, h)}
	stats, err := unpackLayer(ctx, counted, fsDir)
	if err != nil {
		return layerInfo{}, time.Time{}, err
	}
	// The diffID covers the whole stream, including the zero blocks after the tar's end.
	if _, err := io.Copy(io.Discard, counted); err != nil {
		return layerInfo{}, time.Time{}, fmt.Errorf("reading layer: %w", err)
	}
	l := layerInfo{DiffID: digest.NewDigest(digest.SHA256, h), TarSize: counted.n, Size: stats.size}
	if want != "" && l.DiffID != want {
		return layerInfo{}, time.Time{}, badInputf("layer content has digest %s, but the image config says %s", l.DiffID, want)
	}

	s.mu.RLock()
	existing, ok := s.layers[l.DiffID]
	s.mu.RUnlock()
	if ok {
		return existing, stats.newest, nil
	}
	b, err := json.Marshal(l)
	if err != nil {
		return layerInfo{}, time.Time{}, err
	}
	if err := os.WriteFile(filepath.Join(work, "layer.json"), b, 0o600); err != nil {
		return layerInfo{}, time.Time{}, err
	}
	if err := os.Chmod(work, 0o755); err != nil {
		return layerInfo{}, time.Time{}, err
	}
	if err := os.Rename(work, s.layerPath(l.DiffID)); err != nil {
		return layerInfo{}, time.Time{}, fmt.Errorf("storing layer %s: %w", l.DiffID, err)
	}
	if err := syncDir(s.layerDir()); err != nil {
		return layerInfo{}, time.Time{}, err
	}
	s.mu.Lock()
	s.layers[l.DiffID] = l
	s.mu.Unlock()
	return l, stats.newest, nil
}

// unusedLayersLocked forgets the layers no image refers to and returns their directories,
// for the caller to delete. The caller holds mu (or owns the store alone, in Open).
func (s *Store) unusedLayersLocked() []string {
	used := make(map[digest.Digest]bool)
	for _, rec := range s.images {
		for _, d := range rec.config.RootFS.DiffIDs {
			used[d] = true
		}
	}
	var dirs []string
	for d := range s.layers {
		if !used[d] {
			delete(s.layers, d)
			dirs = append(dirs, s.layerPath(d))
		}
	}
	return dirs
}

// dropUnusedLayers deletes the layers no image uses: what a failed import or load stored
// before it failed. The caller holds writeMu.
func (s *Store) dropUnusedLayers() error {
	s.mu.Lock()
	dirs := s.unusedLayersLocked()
	s.mu.Unlock()
	return s.deleteLayerDirs(dirs)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ctxReader fails reads once its context is done, so a long copy stops when asked.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
