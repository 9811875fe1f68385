package image

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is what the store knows about one image. It is a copy: changing it changes nothing
// in the store.
type Image struct {
	ID          digest.Digest // "sha256:<hex>" of the config JSON, as docker computes it
	RepoTags    []string      // familiar "name:tag", sorted; empty for a dangling image
	RepoDigests []string      // "name@sha256:<manifest digest>", one per repository in RepoTags
	Created     time.Time     // from the config; zero if it has none
	Size        int64         // bytes of file content over all layers
	OS          string
	// Architecture and Variant are the platform the config names.
	Architecture string
	Variant      string
	Layers       []digest.Digest // diffIDs, bottom-most first
	Config       dockerspec.DockerOCIImageConfig
}

// imageConfig is the image config JSON: docker's extension of the OCI image config, which
// adds Healthcheck.
type imageConfig = dockerspec.DockerOCIImage

// parseConfig decodes and checks an image config.
func parseConfig(raw []byte) (imageConfig, error) {
	var cfg imageConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return cfg, badInputf("image config is not valid JSON: %v", err)
	}
	if cfg.OS != "" && cfg.OS != "linux" {
		return cfg, badInputf("image is for %s; only linux images can run here", cfg.OS)
	}
	if cfg.RootFS.Type != "" && cfg.RootFS.Type != "layers" {
		return cfg, badInputf("image config has rootfs type %q; want \"layers\"", cfg.RootFS.Type)
	}
	for _, d := range cfg.RootFS.DiffIDs {
		if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
			return cfg, badInputf("image config names layer %q, which is not a sha256 digest", d)
		}
	}
	return cfg, nil
}

// newRecord builds the record for a config whose layers are all in the store. The caller
// holds mu (or owns the store alone, in Open).
func (s *Store) newRecord(raw []byte) (*record, error) {
	cfg, err := parseConfig(raw)
	if err != nil {
		return nil, err
	}
	rec := &record{id: digest.FromBytes(raw), raw: raw, config: cfg}
	layers := make([]layerInfo, 0, len(cfg.RootFS.DiffIDs))
	for _, d := range cfg.RootFS.DiffIDs {
		l, ok := s.layers[d]
		if !ok {
			return nil, fmt.Errorf("layer %s is missing", d)
		}
		layers = append(layers, l)
	}
	rec.manifest, err = synthesiseManifest(rec.id, int64(len(raw)), layers, cfg.Platform)
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// manifestDesc describes the manifest the store synthesises for an image.
type manifestDesc = ocispec.Descriptor

// synthesiseManifest builds the OCI manifest of an image whose layers are stored
// uncompressed, and returns its descriptor. The manifest depends only on the config and the
// layers' content, so equal images get equal digests on every node.
func synthesiseManifest(id digest.Digest, configSize int64, layers []layerInfo, platform ocispec.Platform) (manifestDesc, error) {
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: id, Size: configSize},
		Layers:    make([]ocispec.Descriptor, 0, len(layers)),
	}
	for _, l := range layers {
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: l.DiffID, Size: l.TarSize})
	}
	b, err := json.Marshal(m)
	if err != nil {
		return manifestDesc{}, err
	}
	p := platform
	if p.OS == "" {
		p.OS = "linux"
	}
	return manifestDesc{
		MediaType: ocispec.MediaTypeImageManifest,
		Digest:    digest.FromBytes(b),
		Size:      int64(len(b)),
		Platform:  &ocispec.Platform{Architecture: p.Architecture, OS: p.OS, Variant: p.Variant},
	}, nil
}

// imageLocked makes the Image of rec. The caller holds mu.
func (s *Store) imageLocked(rec *record) Image {
	img := Image{
		ID:           rec.id,
		RepoTags:     slices.Clone(rec.repoTags),
		OS:           cmp.Or(rec.config.OS, "linux"),
		Architecture: rec.config.Architecture,
		Variant:      rec.config.Variant,
		Layers:       slices.Clone(rec.config.RootFS.DiffIDs),
		Config:       cloneConfig(rec.config.Config),
	}
	if rec.config.Created != nil {
		img.Created = *rec.config.Created
	}
	for _, d := range rec.config.RootFS.DiffIDs {
		img.Size += s.layers[d].Size
	}
	for _, t := range rec.repoTags {
		name := repoName(t)
		rd := name + "@" + rec.manifest.Digest.String()
		if !slices.Contains(img.RepoDigests, rd) {
			img.RepoDigests = append(img.RepoDigests, rd)
		}
	}
	return img
}

// cloneConfig deep-copies a runtime config so callers cannot reach into the store.
func cloneConfig(c dockerspec.DockerOCIImageConfig) dockerspec.DockerOCIImageConfig {
	c.Env = slices.Clone(c.Env)
	c.Entrypoint = slices.Clone(c.Entrypoint)
	c.Cmd = slices.Clone(c.Cmd)
	c.ExposedPorts = maps.Clone(c.ExposedPorts)
	c.Volumes = maps.Clone(c.Volumes)
	c.Labels = maps.Clone(c.Labels)
	c.OnBuild = slices.Clone(c.OnBuild)
	c.Shell = slices.Clone(c.Shell)
	if c.Healthcheck != nil {
		h := *c.Healthcheck
		h.Test = slices.Clone(h.Test)
		c.Healthcheck = &h
	}
	return c
}

// List returns every image, newest first.
func (s *Store) List() []Image {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Image, 0, len(s.images))
	for _, rec := range s.images {
		out = append(out, s.imageLocked(rec))
	}
	slices.SortFunc(out, func(a, b Image) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// Resolve finds an image by "name[:tag]", by "name@sha256:<digest>" (the repo digest that
// Descriptor reports), by ID ("sha256:<hex>") or by a unique prefix of the ID's hex.
// A missing image is a not-found error "No such image: <ref>".
func (s *Store) Resolve(ref string) (Image, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	l, err := s.lookupLocked(ref)
	if err != nil {
		return Image{}, err
	}
	return s.imageLocked(l.rec), nil
}

// Descriptor returns the descriptor of the manifest the store synthesises for the image ref
// names (see Resolve); its digest is the image's repo digest. It is what
// `GET /distribution/{name}/json` answers.
func (s *Store) Descriptor(ref string) (ocispec.Descriptor, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	l, err := s.lookupLocked(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	d := l.rec.manifest
	p := *d.Platform
	d.Platform = &p
	return d, nil
}

// LayerDirs returns the unpacked layer directories of img, top-most first, as the
// lowerdir option of an overlayfs mount lists them. A layer that occurs more than once
// is listed once, at its top-most place (overlayfs refuses a directory twice; the lower
// copy cannot change what the upper one shows).
func (s *Store) LayerDirs(img Image) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec, ok := s.images[img.ID]
	if !ok {
		return nil, notFound(string(img.ID))
	}
	ids := rec.config.RootFS.DiffIDs
	dirs := make([]string, 0, len(ids))
	seen := make(map[digest.Digest]bool, len(ids))
	for i := len(ids) - 1; i >= 0; i-- {
		if seen[ids[i]] {
			continue
		}
		seen[ids[i]] = true
		if _, ok := s.layers[ids[i]]; !ok {
			return nil, fmt.Errorf("image %s: layer %s is missing", img.ID, ids[i])
		}
		dirs = append(dirs, s.layerFSPath(ids[i]))
	}
	return dirs, nil
}
