package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/go-digest"
)

// Progress reports how far Load has read one layer of an archive, as `docker load` shows it.
type Progress struct {
	ID      string // the layer's short ID: the first 12 hex digits of its diffID
	Status  string // "Loading layer" while reading, "Already exists" for a stored layer
	Current int64  // bytes of the layer's blob read so far
	Total   int64  // size of the layer's blob in the archive
}

// ProgressFunc receives Progress reports. It is called from the loading goroutine and
// should return quickly.
type ProgressFunc func(Progress)

// layerSource opens one layer blob of an archive; the blob may be compressed.
type layerSource func() (io.Reader, int64, error)

// Load reads a `docker save` archive (manifest.json, old or OCI-based layout) or an OCI
// image layout archive (index.json), plain or compressed, stores every image in it with
// the tags the archive gives, and returns them. progress may be nil.
//
// For an OCI layout, the tag comes from the io.containerd.image.name annotation, or from
// org.opencontainers.image.ref.name when that is a full reference ("sleepy:1"); an image
// with neither stays untagged. An index of several platforms yields its linux image for
// this machine's architecture.
func (s *Store) Load(ctx context.Context, r io.Reader, progress ProgressFunc) (_ []Image, err error) {
	if progress == nil {
		progress = func(Progress) {}
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	defer func() {
		if err != nil {
			_ = s.dropUnusedLayers() // best effort; Open collects what is left
		}
	}()

	spool, err := os.CreateTemp(s.tmpDir(), "load-*.tar")
	if err != nil {
		return nil, err
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	stream, err := decompress(r)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(spool, &ctxReader{ctx: ctx, r: stream})
	stream.Close()
	if err != nil {
		return nil, fmt.Errorf("reading archive: %w", err)
	}
	arc, err := indexArchive(spool)
	if err != nil {
		return nil, err
	}
	switch {
	case arc.has("manifest.json"):
		return s.loadDockerSave(ctx, arc, progress)
	case arc.has("index.json"):
		return s.loadOCILayout(ctx, arc, progress)
	}
	return nil, badInputf("not an image archive: it has neither manifest.json (docker save) nor index.json (OCI layout)")
}

// dockerSaveEntry is one image in a docker save manifest.json.
type dockerSaveEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func (s *Store) loadDockerSave(ctx context.Context, arc *archive, progress ProgressFunc) ([]Image, error) {
	b, err := arc.readJSONFile("manifest.json")
	if err != nil {
		return nil, err
	}
	var entries []dockerSaveEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, badInputf("manifest.json is not a docker save manifest: %v", err)
	}
	var images []Image
	for _, e := range entries {
		raw, err := arc.readJSONFile(e.Config)
		if err != nil {
			return images, err
		}
		layers := make([]layerSource, len(e.Layers))
		for i, name := range e.Layers {
			layers[i] = func() (io.Reader, int64, error) { return arc.open(name) }
		}
		img, err := s.loadImage(ctx, raw, layers, e.RepoTags, progress)
		if err != nil {
			return images, err
		}
		images = append(images, img)
	}
	return images, nil
}

// loadImage stores one image of an archive: its config raw, its layer blobs (in config
// order) and its repo tags. Layers already stored are not read again; the others must hash
// to the diffIDs the config lists. The caller holds writeMu.
func (s *Store) loadImage(ctx context.Context, raw []byte, layers []layerSource, repoTags []string, progress ProgressFunc) (Image, error) {
	cfg, err := parseConfig(raw)
	if err != nil {
		return Image{}, err
	}
	diffIDs := cfg.RootFS.DiffIDs
	if len(diffIDs) != len(layers) {
		return Image{}, badInputf("image config lists %d layers, but the archive gives %d", len(diffIDs), len(layers))
	}
	tags := make([]string, 0, len(repoTags))
	for _, t := range repoTags {
		tag, err := NormalizeTag(t)
		if err != nil {
			return Image{}, err
		}
		tags = append(tags, tag)
	}
	for i, d := range diffIDs {
		if err := s.loadLayer(ctx, d, layers[i], progress); err != nil {
			return Image{}, err
		}
	}
	return s.commitImage(raw, tags)
}

func (s *Store) loadLayer(ctx context.Context, d digest.Digest, open layerSource, progress ProgressFunc) error {
	short := d.Encoded()[:12]
	if s.hasLayer(d) {
		progress(Progress{ID: short, Status: "Already exists"})
		return nil
	}
	blob, size, err := open()
	if err != nil {
		return err
	}
	pr := &progressReader{r: blob, report: func(n int64) {
		progress(Progress{ID: short, Status: "Loading layer", Current: n, Total: size})
	}}
	stream, err := decompress(pr)
	if err != nil {
		return fmt.Errorf("layer %s: %w", d, err)
	}
	defer stream.Close()
	if _, _, err := s.ingestLayer(ctx, stream, d); err != nil {
		return fmt.Errorf("layer %s: %w", d, err)
	}
	pr.report(pr.n)
	return nil
}

// progressReader reports the bytes read through it, at most once per progressStep.
type progressReader struct {
	r        io.Reader
	n        int64
	reported int64
	report   func(n int64)
}

const progressStep = 512 << 10

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.n-p.reported >= progressStep {
		p.reported = p.n
		p.report(p.n)
	}
	return n, err
}
