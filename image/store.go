package image

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/opencontainers/go-digest"
)

// Store is the image store of one node, rooted at a directory. It is safe for concurrent
// use: reads run in parallel; Import, Load, Tag and Remove run one at a time.
type Store struct {
	root string

	// writeMu serialises every change to the files under root (Import, Load, Tag, Remove),
	// so a layer that an import finds present cannot be collected before the import commits.
	// It is taken before mu.
	writeMu sync.Mutex

	mu     sync.RWMutex              // guards the maps below
	images map[digest.Digest]*record // by image ID
	tags   map[string]digest.Digest  // familiar "name:tag" → image ID
	layers map[digest.Digest]layerInfo
}

// record is one stored image.
type record struct {
	id       digest.Digest
	raw      []byte // the config JSON, as stored
	config   imageConfig
	repoTags []string // familiar "name:tag", sorted
	manifest manifestDesc
}

// indexFile is the JSON form of index.json.
type indexFile struct {
	Images []indexEntry `json:"images"`
}

type indexEntry struct {
	ID       digest.Digest `json:"id"`
	RepoTags []string      `json:"repoTags,omitempty"`
}

// Open opens the store rooted at root, creating it if needed. It empties root/tmp and
// deletes configs and layers no image refers to (left by a crash mid-import).
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("image store root %q: %w", root, err)
	}
	s := &Store{
		root:   abs,
		images: make(map[digest.Digest]*record),
		tags:   make(map[string]digest.Digest),
		layers: make(map[digest.Digest]layerInfo),
	}
	if err := os.RemoveAll(s.tmpDir()); err != nil {
		return nil, fmt.Errorf("image store: clearing %s: %w", s.tmpDir(), err)
	}
	for _, dir := range []string{s.tmpDir(), s.configDir(), s.layerDir()} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	if err := s.readLayers(); err != nil {
		return nil, err
	}
	if err := s.readIndex(); err != nil {
		return nil, err
	}
	if err := s.collectOrphans(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) tmpDir() string    { return filepath.Join(s.root, "tmp") }
func (s *Store) configDir() string { return filepath.Join(s.root, "configs", "sha256") }
func (s *Store) layerDir() string  { return filepath.Join(s.root, "layers", "sha256") }
func (s *Store) indexPath() string { return filepath.Join(s.root, "index.json") }

func (s *Store) configPath(id digest.Digest) string {
	return filepath.Join(s.configDir(), id.Encoded())
}

// readIndex loads index.json and every config it names.
func (s *Store) readIndex() error {
	b, err := os.ReadFile(s.indexPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	var idx indexFile
	if err := json.Unmarshal(b, &idx); err != nil {
		return fmt.Errorf("image store: %s is corrupt: %w", s.indexPath(), err)
	}
	for _, e := range idx.Images {
		if err := e.ID.Validate(); err != nil {
			return fmt.Errorf("image store: %s: bad image ID %q: %w", s.indexPath(), e.ID, err)
		}
		raw, err := os.ReadFile(s.configPath(e.ID))
		if err != nil {
			return fmt.Errorf("image store: image %s: %w", e.ID, err)
		}
		if got := digest.FromBytes(raw); got != e.ID {
			return fmt.Errorf("image store: config of image %s is corrupt (its digest is %s)", e.ID, got)
		}
		rec, err := s.newRecord(raw)
		if err != nil {
			return fmt.Errorf("image store: image %s: %w", e.ID, err)
		}
		s.images[rec.id] = rec
		for _, t := range e.RepoTags {
			s.moveTagLocked(t, rec)
		}
	}
	return nil
}

// writeIndexLocked replaces index.json with the images in memory. The caller holds writeMu
// and mu.
func (s *Store) writeIndexLocked() error {
	idx := indexFile{Images: []indexEntry{}}
	for _, rec := range s.images {
		idx.Images = append(idx.Images, indexEntry{ID: rec.id, RepoTags: rec.repoTags})
	}
	slices.SortFunc(idx.Images, func(a, b indexEntry) int { return cmp.Compare(a.ID, b.ID) })
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.indexPath(), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("image store: saving index: %w", err)
	}
	return nil
}

// collectOrphans deletes configs and layers that no image refers to.
func (s *Store) collectOrphans() error {
	entries, err := os.ReadDir(s.configDir())
	if err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	for _, e := range entries {
		if _, ok := s.images[digest.NewDigestFromEncoded(digest.SHA256, e.Name())]; !ok {
			if err := os.Remove(filepath.Join(s.configDir(), e.Name())); err != nil {
				return fmt.Errorf("image store: %w", err)
			}
		}
	}
	for _, dir := range s.unusedLayersLocked() {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("image store: %w", err)
		}
	}
	return nil
}

// moveTagLocked points tag at rec, taking it off any other image. The caller holds mu
// (or owns the store alone, in Open).
func (s *Store) moveTagLocked(tag string, rec *record) {
	if old, ok := s.tags[tag]; ok {
		if old == rec.id {
			return
		}
		if prev := s.images[old]; prev != nil {
			prev.repoTags = slices.DeleteFunc(prev.repoTags, func(t string) bool { return t == tag })
		}
	}
	s.tags[tag] = rec.id
	rec.repoTags = append(rec.repoTags, tag)
	slices.Sort(rec.repoTags)
}

// untagLocked removes tag from rec. The caller holds mu.
func (s *Store) untagLocked(tag string, rec *record) {
	delete(s.tags, tag)
	rec.repoTags = slices.DeleteFunc(rec.repoTags, func(t string) bool { return t == tag })
}

// writeFileAtomic writes data to a temporary file beside path, syncs it and renames it
// over path, so readers see the old content or the new, never a mix.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
