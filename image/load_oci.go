package image

import (
	"context"
	"encoding/json"
	"io"
	"runtime"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	annotationContainerdName    = "io.containerd.image.name"
	annotationReferenceType     = "vnd.docker.reference.type" // marks buildkit attestations
)

func (s *Store) loadOCILayout(ctx context.Context, arc *archive, progress ProgressFunc) ([]Image, error) {
	b, err := arc.readJSONFile("index.json")
	if err != nil {
		return nil, err
	}
	var index ocispec.Index
	if err := json.Unmarshal(b, &index); err != nil {
		return nil, badInputf("index.json is not an OCI image index: %v", err)
	}
	var images []Image
	for _, desc := range index.Manifests {
		img, err := s.loadOCIDescriptor(ctx, arc, desc, refNames(desc.Annotations), progress, 0)
		if err != nil {
			return images, err
		}
		images = append(images, img)
	}
	return images, nil
}

// maxIndexDepth bounds indexes nested in indexes.
const maxIndexDepth = 4

// loadOCIDescriptor loads the image desc points to, choosing this platform's image when it
// points to an index.
func (s *Store) loadOCIDescriptor(ctx context.Context, arc *archive, desc ocispec.Descriptor, tags []string, progress ProgressFunc, depth int) (Image, error) {
	b, err := readBlob(arc, desc)
	if err != nil {
		return Image{}, err
	}
	if isIndex(desc.MediaType, b) {
		if depth >= maxIndexDepth {
			return Image{}, badInputf("image index %s: indexes nested too deep", desc.Digest)
		}
		var index ocispec.Index
		if err := json.Unmarshal(b, &index); err != nil {
			return Image{}, badInputf("image index %s: %v", desc.Digest, err)
		}
		chosen, err := choosePlatform(index, desc.Digest)
		if err != nil {
			return Image{}, err
		}
		return s.loadOCIDescriptor(ctx, arc, chosen, tags, progress, depth+1)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Image{}, badInputf("image manifest %s: %v", desc.Digest, err)
	}
	raw, err := readBlob(arc, m.Config)
	if err != nil {
		return Image{}, err
	}
	layers := make([]layerSource, len(m.Layers))
	for i, l := range m.Layers {
		layers[i] = func() (io.Reader, int64, error) {
			p, err := blobPath(string(l.Digest))
			if err != nil {
				return nil, 0, badInputf("layer: %v", err)
			}
			return arc.open(p)
		}
	}
	return s.loadImage(ctx, raw, layers, tags, progress)
}

// readBlob reads a small blob (index, manifest, config) and checks its digest.
func readBlob(arc *archive, desc ocispec.Descriptor) ([]byte, error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, badInputf("invalid digest %q: %v", desc.Digest, err)
	}
	p, err := blobPath(string(desc.Digest))
	if err != nil {
		return nil, badInputf("%v", err)
	}
	b, err := arc.readJSONFile(p)
	if err != nil {
		return nil, err
	}
	if got := desc.Digest.Algorithm().FromBytes(b); got != desc.Digest {
		return nil, badInputf("blob %s is corrupt: its content hashes to %s", desc.Digest, got)
	}
	return b, nil
}

// isIndex tells an index from a manifest by media type, or by content when the
// descriptor has none.
func isIndex(mediaType string, b []byte) bool {
	switch mediaType {
	case ocispec.MediaTypeImageIndex, mediaTypeDockerManifestList:
		return true
	case ocispec.MediaTypeImageManifest, mediaTypeDockerManifest:
		return false
	}
	var probe struct {
		Manifests json.RawMessage `json:"manifests"`
	}
	return json.Unmarshal(b, &probe) == nil && probe.Manifests != nil
}

// choosePlatform picks the linux image for this machine's architecture from an index,
// skipping attestations. An index of one image without platform data yields that image.
func choosePlatform(index ocispec.Index, d digest.Digest) (ocispec.Descriptor, error) {
	var candidates []ocispec.Descriptor
	for _, m := range index.Manifests {
		if _, ok := m.Annotations[annotationReferenceType]; ok {
			continue
		}
		candidates = append(candidates, m)
	}
	for _, m := range candidates {
		if m.Platform != nil && m.Platform.OS == "linux" && m.Platform.Architecture == runtime.GOARCH {
			return m, nil
		}
	}
	if len(candidates) == 1 && candidates[0].Platform == nil {
		return candidates[0], nil
	}
	return ocispec.Descriptor{}, badInputf("image index %s has no image for linux/%s", d, runtime.GOARCH)
}

// refNames are the tags an OCI layout gives an image, from its descriptor's annotations.
// A bare ref.name such as "latest" or "1" names no repository, so it gives none.
func refNames(ann map[string]string) []string {
	if name := ann[annotationContainerdName]; name != "" && !strings.Contains(name, "@") {
		return []string{name}
	}
	if name := ann[ocispec.AnnotationRefName]; strings.ContainsAny(name, ":/") && !strings.Contains(name, "@") {
		return []string{name}
	}
	return nil
}
