package api

import (
	"io"
	"net/http"
	"path"
	"strings"

	"github.com/moby/moby/api/types"
	"github.com/moby/moby/api/types/image"
	"github.com/shoal/shoal/internal/apierr"
)

// Image names contain slashes ("library/sleepy:1"), so the routes that take one end in a
// catch-all wildcard rather than {name}.
func (s *server) imageRoutes() []route {
	routes := []route{
		{http.MethodPost, "/images/create", s.imageCreate},
		{http.MethodPost, "/images/load", s.imageLoad},
		{http.MethodGet, "/images/json", s.imageList},
		{http.MethodDelete, "/images/{name...}", s.imageRemove},
		{http.MethodGet, "/images/{name...}", s.imageInspect},
		{http.MethodGet, "/distribution/{name...}", s.distributionInspect},
	}
	if s.images == nil {
		return unimplemented(routes, "images are not implemented yet")
	}
	return routes
}

// imageCreate imports the request body as a root filesystem (fromSrc=-). Pulling
// (fromImage=) is refused: Shoal does not talk to registries yet.
func (s *server) imageCreate(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Get("fromImage") != "" {
		return apierr.NotImplementedf("pulling images from registries is not implemented yet: use shoal image import or image load")
	}
	opts, err := parseImageImportOptions(q)
	if err != nil {
		return err
	}
	enableFullDuplex(w)
	return streamJSONMessages(w, r, func(out io.Writer) error {
		return s.images.ImageImport(r.Context(), r.Body, opts, out)
	})
}

func (s *server) imageLoad(w http.ResponseWriter, r *http.Request) error {
	quiet, err := parseQueryBool(r.URL.Query(), "quiet")
	if err != nil {
		return err
	}
	enableFullDuplex(w)
	return streamJSONMessages(w, r, func(out io.Writer) error {
		return s.images.ImageLoad(r.Context(), r.Body, quiet, out)
	})
}

// streamJSONMessages sends what produce writes as a jsonmessage stream, ending it with an
// errorDetail message if produce fails after it started.
func streamJSONMessages(w http.ResponseWriter, r *http.Request, produce func(io.Writer) error) error {
	return stream(w, r, types.MediaTypeJSON, writeJSONStreamError, produce)
}

// imageList ignores the shared-size, manifests and identity flags: Shoal's summaries
// carry what it knows either way.
func (s *server) imageList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	filters, err := parseImageListFilters(q.Get("filters"))
	if err != nil {
		return err
	}
	all, err := parseQueryBool(q, "all")
	if err != nil {
		return err
	}
	images, err := s.images.ImageList(r.Context(), all)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, filterImages(images, filters))
}

// filterImages applies Docker's reference, dangling and label filters to the backend's
// summaries. It needs nothing but the summaries, so the API does it rather than widen
// ImageBackend. As Docker, a reference filter also narrows an image's RepoTags and
// RepoDigests to the ones that match. The result is never nil: clients expect [].
func filterImages(images []image.Summary, f imageListFilters) []image.Summary {
	out := []image.Summary{}
	for _, img := range images {
		if f.Dangling != nil && isDanglingImage(img) != *f.Dangling {
			continue
		}
		if !matchLabels(img.Labels, f.Label) {
			continue
		}
		if len(f.Reference) > 0 {
			img.RepoTags = matchingRefs(img.RepoTags, f.Reference)
			img.RepoDigests = matchingRefs(img.RepoDigests, f.Reference)
			if len(img.RepoTags) == 0 && len(img.RepoDigests) == 0 {
				continue
			}
		}
		out = append(out, img)
	}
	return out
}

// isDanglingImage reports whether an image has no name, as Docker shows it: no tags or
// digests, or only the "<none>" placeholders.
func isDanglingImage(img image.Summary) bool {
	for _, t := range img.RepoTags {
		if t != "<none>:<none>" {
			return false
		}
	}
	for _, d := range img.RepoDigests {
		if d != "<none>@<none>" {
			return false
		}
	}
	return true
}

func matchLabels(labels map[string]string, filters []string) bool {
	for _, f := range filters {
		key, value, hasValue := strings.Cut(f, "=")
		got, ok := labels[key]
		if !ok || (hasValue && got != value) {
			return false
		}
	}
	return true
}

// matchingRefs keeps the familiar references ("sleepy:1", "team/sleepy@sha256:...") that
// some pattern matches, whole or by name alone, as Docker's reference filter does.
func matchingRefs(refs, patterns []string) []string {
	var out []string
	for _, ref := range refs {
		name := imageRefName(ref)
		for _, p := range patterns {
			whole, _ := path.Match(p, ref)
			byName, _ := path.Match(p, name)
			if whole || byName {
				out = append(out, ref)
				break
			}
		}
	}
	return out
}

// imageRefName strips the tag or digest from a reference: "registry:5000/sleepy:1" gives
// "registry:5000/sleepy".
func imageRefName(ref string) string {
	if at := strings.IndexByte(ref, '@'); at >= 0 {
		return ref[:at]
	}
	if colon := strings.LastIndexByte(ref, ':'); colon > strings.LastIndexByte(ref, '/') {
		return ref[:colon]
	}
	return ref
}

func (s *server) imageRemove(w http.ResponseWriter, r *http.Request) error {
	ref := r.PathValue("name")
	if ref == "" {
		return apierr.NotFoundf("page not found")
	}
	q := r.URL.Query()
	force, err := parseQueryBool(q, "force")
	if err != nil {
		return err
	}
	noPrune, err := parseQueryBool(q, "noprune")
	if err != nil {
		return err
	}
	deleted, err := s.images.ImageRemove(r.Context(), ref, force, noPrune)
	if err != nil {
		return err
	}
	if deleted == nil {
		deleted = []image.DeleteResponse{}
	}
	return writeJSON(w, http.StatusOK, deleted)
}

// imageInspect serves GET /images/{name}/json, where name may hold slashes and a tag.
func (s *server) imageInspect(w http.ResponseWriter, r *http.Request) error {
	ref, ok := strings.CutSuffix(r.PathValue("name"), "/json")
	if !ok || ref == "" {
		return apierr.NotFoundf("page not found")
	}
	img, err := s.images.ImageInspect(r.Context(), ref)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, img)
}

// distributionInspect serves /distribution/{name}/json, where name may hold slashes. The
// X-Registry-Auth header is accepted and ignored.
func (s *server) distributionInspect(w http.ResponseWriter, r *http.Request) error {
	ref, ok := strings.CutSuffix(r.PathValue("name"), "/json")
	if !ok || ref == "" {
		return apierr.NotFoundf("page not found")
	}
	inspect, err := s.images.DistributionInspect(r.Context(), ref)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, inspect)
}
