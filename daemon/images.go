package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	"github.com/opencontainers/go-digest"

	"github.com/shoal/shoal/agent/exec"
	"github.com/shoal/shoal/api"
	"github.com/shoal/shoal/image"
	"github.com/shoal/shoal/internal/apierr"
)

// jsonMessage is one line of Docker's JSON progress stream.
type jsonMessage struct {
	Status   string          `json:"status,omitempty"`
	Stream   string          `json:"stream,omitempty"`
	ID       string          `json:"id,omitempty"`
	Progress *jsonProgress   `json:"progressDetail,omitempty"`
	Error    *jsonStreamErr  `json:"errorDetail,omitempty"`
	ErrorMsg string          `json:"error,omitempty"`
	Aux      json.RawMessage `json:"aux,omitempty"`
}

type jsonProgress struct {
	Current int64 `json:"current,omitempty"`
	Total   int64 `json:"total,omitempty"`
}

type jsonStreamErr struct {
	Message string `json:"message"`
}

func writeMessage(w io.Writer, m jsonMessage) {
	_ = json.NewEncoder(w).Encode(m)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// ImageImport imports a root filesystem tarball as a one-layer image.
func (d *Daemon) ImageImport(ctx context.Context, src io.Reader, opts api.ImageImportOptions, progress io.Writer) error {
	if opts.FromSrc != "-" && opts.FromSrc != "" {
		body, err := fetchImportURL(ctx, opts.FromSrc, progress)
		if err != nil {
			return err
		}
		defer body.Close()
		src = body
	}
	ref := opts.Repo
	if ref != "" && opts.Tag != "" {
		ref += ":" + opts.Tag
	}
	img, err := d.images.Import(ctx, src, ref, opts.Changes)
	if err != nil {
		return err
	}
	writeMessage(progress, jsonMessage{Status: img.ID.String()})
	return nil
}

// ImageLoad loads docker-save and OCI archives.
func (d *Daemon) ImageLoad(ctx context.Context, archive io.Reader, quiet bool, out io.Writer) error {
	imgs, err := d.images.Load(ctx, archive, func(p image.Progress) {
		if !quiet {
			writeMessage(out, jsonMessage{Status: p.Status, ID: p.ID, Progress: &jsonProgress{Current: p.Current, Total: p.Total}})
		}
	})
	if err != nil {
		writeMessage(out, jsonMessage{ErrorMsg: err.Error(), Error: &jsonStreamErr{Message: err.Error()}})
		return nil
	}
	for _, img := range imgs {
		if len(img.RepoTags) == 0 {
			writeMessage(out, jsonMessage{Stream: "Loaded image ID: " + img.ID.String() + "\n"})
		}
		for _, tag := range img.RepoTags {
			writeMessage(out, jsonMessage{Stream: "Loaded image: " + tag + "\n"})
		}
	}
	return nil
}

// ImageList lists the node's images.
func (d *Daemon) ImageList(ctx context.Context, all bool) ([]imagetypes.Summary, error) {
	out := []imagetypes.Summary{}
	for _, img := range d.images.List() {
		labels := img.Config.Labels
		if labels == nil {
			labels = map[string]string{}
		}
		tags, digests := img.RepoTags, img.RepoDigests
		if tags == nil {
			tags = []string{}
		}
		if digests == nil {
			digests = []string{}
		}
		out = append(out, imagetypes.Summary{
			ID: img.ID.String(), RepoTags: tags, RepoDigests: digests,
			Created: img.Created.Unix(), Size: img.Size, Labels: labels, Containers: -1,
		})
	}
	return out, nil
}

// ImageRemove untags or deletes an image; images used by this node's containers need force.
func (d *Daemon) ImageRemove(ctx context.Context, ref string, force, noPrune bool) ([]imagetypes.DeleteResponse, error) {
	return d.images.Remove(ref, force, d.imageInUse)
}

// imageInUse names a container of this node that uses the image, or "".
func (d *Daemon) imageInUse(id digest.Digest) string {
	if d.executor == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	containers, err := d.executor.List(ctx)
	if err != nil {
		return ""
	}
	for _, c := range containers {
		if img, err := d.images.Resolve(c.Image); err == nil && img.ID == id {
			return c.ID
		}
	}
	return ""
}

// DistributionInspect answers what the docker CLI asks to pin an image to a digest.
func (d *Daemon) DistributionInspect(ctx context.Context, ref string) (registry.DistributionInspect, error) {
	desc, err := d.images.Descriptor(ref)
	if err != nil {
		return registry.DistributionInspect{}, err
	}
	return registry.DistributionInspect{Descriptor: desc}, nil
}

// taskImages adapts the image store to what the executor needs. A task pinned to a
// digest (as the docker CLI pins them) falls back to its tag when this node holds the
// same name under another digest.
type taskImages struct{ store *image.Store }

func (t taskImages) Image(ref string) (exec.Image, error) {
	img, err := t.store.Resolve(ref)
	if err != nil {
		if name, _, ok := strings.Cut(ref, "@"); ok {
			img, err = t.store.Resolve(name)
		}
		if err != nil {
			return exec.Image{}, fmt.Errorf("No such image: %s", ref)
		}
	}
	dirs, err := t.store.LayerDirs(img)
	if err != nil {
		return exec.Image{}, err
	}
	c := img.Config
	cfg := exec.ImageConfig{Env: c.Env, Entrypoint: c.Entrypoint, Cmd: c.Cmd, WorkingDir: c.WorkingDir, User: c.User, StopSignal: c.StopSignal}
	if c.Healthcheck != nil {
		hc := container.HealthConfig(*c.Healthcheck)
		cfg.Healthcheck = &hc
	}
	if len(cfg.Env) == 0 || !hasPath(cfg.Env) {
		cfg.Env = append(cfg.Env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	return exec.Image{ID: img.ID.String(), Config: cfg, LayerDirs: dirs}, nil
}

func hasPath(env []string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			return true
		}
	}
	return false
}

// ImageInspect describes one of the node's images as `docker image inspect` shows it.
func (d *Daemon) ImageInspect(ctx context.Context, ref string) (imagetypes.InspectResponse, error) {
	img, err := d.images.Resolve(ref)
	if err != nil {
		return imagetypes.InspectResponse{}, err
	}
	cfg := img.Config
	resp := imagetypes.InspectResponse{
		ID:           img.ID.String(),
		RepoTags:     orEmpty(img.RepoTags),
		RepoDigests:  orEmpty(img.RepoDigests),
		Created:      img.Created.UTC().Format(time.RFC3339Nano),
		Size:         img.Size,
		Os:           img.OS,
		Architecture: img.Architecture,
		Variant:      img.Variant,
		Config:       &cfg,
	}
	resp.RootFS.Type = "layers"
	for _, l := range img.Layers {
		resp.RootFS.Layers = append(resp.RootFS.Layers, l.String())
	}
	return resp, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// fetchImportURL opens a root filesystem tarball the daemon downloads, as `docker import
// URL` has the daemon do.
func fetchImportURL(ctx context.Context, rawURL string, progress io.Writer) (io.ReadCloser, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, apierr.Invalidf("invalid import source %q: must be -, or an http:// or https:// URL", rawURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, apierr.Invalidf("invalid import source %q: %v", rawURL, err)
	}
	writeMessage(progress, jsonMessage{Status: "Downloading from " + u.Redacted()})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, apierr.Invalidf("cannot download %s: %v", u.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, apierr.Invalidf("cannot download %s: the server answered %s", u.Redacted(), resp.Status)
	}
	return resp.Body, nil
}
