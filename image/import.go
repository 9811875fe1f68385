package image

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"runtime"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Import makes a one-layer image from a root filesystem tarball, plain or compressed
// (gzip, zstd, bzip2), as `docker import` does, and tags it ref ("repo[:tag]"; "" leaves it
// untagged). changes are Dockerfile instructions for its config (see ParseChanges).
//
// Unlike docker, the image's creation time is the newest modification time in the tarball,
// not the time of the import, so importing the same tarball with the same changes gives the
// same image ID on any node, any number of times.
func (s *Store) Import(ctx context.Context, r io.Reader, ref string, changes []string) (_ Image, err error) {
	runtimeConfig, err := ParseChanges(changes)
	if err != nil {
		return Image{}, err
	}
	var tags []string
	if ref != "" {
		tag, err := NormalizeTag(ref)
		if err != nil {
			return Image{}, err
		}
		tags = append(tags, tag)
	}

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	defer func() {
		if err != nil {
			_ = s.dropUnusedLayers() // best effort; Open collects what is left
		}
	}()
	tarStream, err := decompress(r)
	if err != nil {
		return Image{}, err
	}
	defer tarStream.Close()
	layer, newest, err := s.ingestLayer(ctx, tarStream, "")
	if err != nil {
		return Image{}, err
	}
	created := newest.UTC()
	cfg := dockerspec.DockerOCIImage{
		Image: ocispec.Image{
			Created:  &created,
			Platform: ocispec.Platform{Architecture: runtime.GOARCH, OS: "linux"},
			RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layer.DiffID}},
			History:  []ocispec.History{{Created: &created, CreatedBy: "shoal image import", Comment: "Imported from a tarball"}},
		},
		Config: runtimeConfig,
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return Image{}, err
	}
	return s.commitImage(raw, tags)
}

// commitImage stores the config raw, whose layers are all stored, as an image tagged tags
// (familiar "name:tag"), moving each tag off any image that held it. Loading an image that
// is already stored only adds the tags. The caller holds writeMu.
func (s *Store) commitImage(raw []byte, tags []string) (Image, error) {
	id := digest.FromBytes(raw)
	if _, err := os.Stat(s.configPath(id)); errors.Is(err, fs.ErrNotExist) {
		if err := writeFileAtomic(s.configPath(id), raw, 0o600); err != nil {
			return Image{}, err
		}
	} else if err != nil {
		return Image{}, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.images[id]
	if !ok {
		var err error
		if rec, err = s.newRecord(raw); err != nil {
			return Image{}, err
		}
		s.images[id] = rec
	}
	for _, t := range tags {
		s.moveTagLocked(t, rec)
	}
	if err := s.writeIndexLocked(); err != nil {
		return Image{}, err
	}
	return s.imageLocked(rec), nil
}
