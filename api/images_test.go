package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
	"github.com/shoal/shoal/internal/apierr"
)

// The fake's ImageBackend side.

func (f *fakeBackend) ImageImport(ctx context.Context, src io.Reader, opts ImageImportOptions, progress io.Writer) error {
	if err := f.record("ImageImport", opts); err != nil {
		return err
	}
	f.mu.Lock()
	importImage := f.importImage
	f.mu.Unlock()
	if importImage != nil {
		return importImage(ctx, src, progress)
	}
	n, err := io.Copy(io.Discard, src)
	if err != nil {
		return err
	}
	return json.NewEncoder(progress).Encode(jsonstream.Message{Status: fmt.Sprintf("sha256:5a1e (%d bytes)", n)})
}

func (f *fakeBackend) ImageLoad(_ context.Context, archive io.Reader, quiet bool, out io.Writer) error {
	if err := f.record("ImageLoad", quiet); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, archive); err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(jsonstream.Message{Stream: "Loaded image: sleepy:1\n"})
}

func (f *fakeBackend) ImageList(_ context.Context, all bool) ([]image.Summary, error) {
	if err := f.record("ImageList", all); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]image.Summary(nil), f.images...), nil
}

func (f *fakeBackend) ImageRemove(_ context.Context, ref string, force, noPrune bool) ([]image.DeleteResponse, error) {
	if err := f.record("ImageRemove", ref, force, noPrune); err != nil {
		return nil, err
	}
	if ref == "ghost" {
		return nil, apierr.NotFoundf("No such image: %s", ref)
	}
	return []image.DeleteResponse{{Untagged: ref}, {Deleted: "sha256:5a1e"}}, nil
}

func (f *fakeBackend) DistributionInspect(_ context.Context, ref string) (registry.DistributionInspect, error) {
	if err := f.record("DistributionInspect", ref); err != nil {
		return registry.DistributionInspect{}, err
	}
	var inspect registry.DistributionInspect
	err := json.Unmarshal([]byte(`{"Descriptor":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:5a1e","size":1234},"Platforms":[{"os":"linux","architecture":"amd64"}]}`), &inspect)
	return inspect, err
}

func (f *fakeBackend) ImageInspect(_ context.Context, ref string) (image.InspectResponse, error) {
	if err := f.record("ImageInspect", ref); err != nil {
		return image.InspectResponse{}, err
	}
	if ref == "ghost" {
		return image.InspectResponse{}, apierr.NotFoundf("No such image: %s", ref)
	}
	return image.InspectResponse{ID: "sha256:5a1e", RepoTags: []string{ref}}, nil
}

func TestImageRouting(t *testing.T) {
	checkRoutes(t, []routeCase{
		{"POST", "/images/create?fromSrc=-&repo=sleepy&tag=1", "rootfs", 200, "ImageImport"},
		{"POST", "/v1.51/images/create?fromSrc=-", "rootfs", 200, "ImageImport"},
		{"POST", "/images/load", "archive", 200, "ImageLoad"},
		{"POST", "/v1.51/images/load?quiet=1", "archive", 200, "ImageLoad"},
		{"GET", "/images/json", "", 200, "ImageList"},
		{"GET", "/v1.51/images/json?all=1", "", 200, "ImageList"},
		{"DELETE", "/images/sleepy", "", 200, "ImageRemove"},
		{"DELETE", "/images/library/sleepy:1", "", 200, "ImageRemove"},
		{"DELETE", "/v1.51/images/registry.example:5000/team/sleepy:1?force=1&noprune=1", "", 200, "ImageRemove"},
		{"DELETE", "/images/sha256:5a1e", "", 200, "ImageRemove"},
		{"DELETE", "/images/ghost", "", 404, "ImageRemove"},
		{"GET", "/distribution/sleepy/json", "", 200, "DistributionInspect"},
		{"GET", "/v1.51/distribution/library/sleepy:1/json", "", 200, "DistributionInspect"},
		{"GET", "/images/sleepy/json", "", 200, "ImageInspect"},
		{"GET", "/images/library/sleepy:1/json", "", 200, "ImageInspect"},
		{"GET", "/images/ghost/json", "", 404, "ImageInspect"},

		{"POST", "/images/create?fromImage=sleepy&tag=1", "", 501, ""},
		{"DELETE", "/images/", "", 404, ""},
		{"GET", "/distribution/sleepy", "", 404, ""},
		{"GET", "/distribution/json", "", 404, ""},
		{"POST", "/images/json", "", 405, ""},
		{"GET", "/images/create", "", 404, ""},
		{"DELETE", "/distribution/sleepy/json", "", 405, ""},
	})
}

func TestImageRequestsReachBackendIntact(t *testing.T) {
	fake := newFakeBackend()
	h := NewHandler(fake, Options{})

	for _, ref := range []string{"library/sleepy:1", "registry.example:5000/team/sleepy@sha256:5a1e"} {
		rec := do(t, h, "DELETE", "/v1.56/images/"+ref+"?force=1&noprune=true", "")
		var deleted []image.DeleteResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &deleted); err != nil || len(deleted) != 2 || deleted[0].Untagged != ref {
			t.Errorf("DELETE %s: body %q", ref, rec.Body.String())
		}
	}
	do(t, h, "DELETE", "/images/sleepy:1", "")
	calls := fake.callsTo("ImageRemove")
	want := [][]any{{"library/sleepy:1", true, true}, {"registry.example:5000/team/sleepy@sha256:5a1e", true, true}, {"sleepy:1", false, false}}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("ImageRemove calls = %v, want %v", calls, want)
	}

	rec := do(t, h, "POST", "/images/create?fromSrc=-&repo=library/sleepy:1&message=imported&changes=ENV%20A%3D1&changes=CMD%20%5B%22sleep%22%5D", "rootfs bytes")
	if ct := rec.Header().Get("Content-Type"); rec.Code != 200 || ct != "application/json" {
		t.Fatalf("import: status %d, Content-Type %q; want 200 application/json", rec.Code, ct)
	}
	if !strings.Contains(rec.Body.String(), `"status":"sha256:5a1e (12 bytes)"`) {
		t.Errorf("import body = %q, want the backend's progress with the body's size", rec.Body.String())
	}
	wantOpts := ImageImportOptions{FromSrc: "-", Repo: "library/sleepy:1", Changes: []string{"ENV A=1", `CMD ["sleep"]`}, Message: "imported"}
	if calls := fake.callsTo("ImageImport"); len(calls) != 1 || !reflect.DeepEqual(calls[0][0], wantOpts) {
		t.Errorf("ImageImport calls = %+v, want %+v", calls, wantOpts)
	}

	do(t, h, "POST", "/images/load?quiet=1", "archive")
	do(t, h, "GET", "/images/json?all=true", "")
	do(t, h, "GET", "/distribution/library/sleepy:1/json", "")
	if calls := fake.callsTo("ImageLoad"); len(calls) != 1 || calls[0][0] != true {
		t.Errorf("ImageLoad calls = %v, want quiet", calls)
	}
	if calls := fake.callsTo("ImageList"); len(calls) != 1 || calls[0][0] != true {
		t.Errorf("ImageList calls = %v, want all", calls)
	}
	if calls := fake.callsTo("DistributionInspect"); len(calls) != 1 || calls[0][0] != "library/sleepy:1" {
		t.Errorf("DistributionInspect calls = %v, want library/sleepy:1", calls)
	}

	fake.set(func(f *fakeBackend) { f.images = nil })
	if rec := do(t, h, "GET", "/images/json", ""); strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("empty image list body = %q, want []", rec.Body.String())
	}
}

func TestRefusedImageRequests(t *testing.T) {
	tests := []struct {
		name, method, target string
		wantStatus           int
		wantMsg              string
	}{
		{"pull", "POST", "/images/create?fromImage=library/sleepy&tag=1", 501,
			"pulling images from registries is not implemented yet: use shoal image import or image load"},
		{"pull and import", "POST", "/images/create?fromImage=sleepy&fromSrc=-", 501, "pulling images from registries is not implemented yet"},
		{"no source", "POST", "/images/create?repo=sleepy", 400, "fromSrc is required"},
		{"bad quiet", "POST", "/images/load?quiet=very", 400, `invalid value "very" for query parameter quiet`},
		{"bad all", "GET", "/images/json?all=everything", 400, "query parameter all"},
		{"bad force", "DELETE", "/images/sleepy:1?force=2", 400, "query parameter force"},
		{"bad noprune", "DELETE", "/images/sleepy:1?noprune=x", 400, "query parameter noprune"},
		{"unknown image filter", "GET", `/images/json?filters={"color":{"red":true}}`, 400, "invalid filter 'color'"},
		{"unimplemented image filter", "GET", `/images/json?filters={"since":{"sleepy:1":true}}`, 501, "image list filter 'since' is not implemented yet"},
		{"bad dangling", "GET", `/images/json?filters={"dangling":{"maybe":true}}`, 400, "invalid filter 'dangling=maybe': dangling must be true or false"},
		{"both danglings", "GET", `/images/json?filters={"dangling":["true","false"]}`, 400, "not both"},
		{"bad reference pattern", "GET", `/images/json?filters={"reference":{"sleepy[":true}}`, 400, "invalid filter 'reference=sleepy[': malformed pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeBackend()
			rec := do(t, NewHandler(fake, Options{}), tt.method, strings.ReplaceAll(tt.target, `"`, "%22"), "body")
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", rec.Code, tt.wantStatus, rec.Body.String())
			}
			if msg := errorMessage(t, rec); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.wantMsg)
			}
			if fake.callCount() != 0 {
				t.Errorf("backend was called: %+v", fake.calls)
			}
		})
	}
}

func TestImageImportErrors(t *testing.T) {
	t.Run("before output: a status", func(t *testing.T) {
		fake := newFakeBackend()
		fake.set(func(f *fakeBackend) {
			f.importImage = func(context.Context, io.Reader, io.Writer) error {
				return apierr.Invalidf("invalid reference format: repository name must be lowercase")
			}
		})
		rec := do(t, NewHandler(fake, Options{}), "POST", "/images/create?fromSrc=-&repo=Sleepy", "x")
		if rec.Code != 400 || !strings.Contains(errorMessage(t, rec), "must be lowercase") {
			t.Errorf("status %d body %q, want 400 with the backend's message", rec.Code, rec.Body.String())
		}
	})
	t.Run("after output: an errorDetail message", func(t *testing.T) {
		fake := newFakeBackend()
		fake.set(func(f *fakeBackend) {
			f.importImage = func(_ context.Context, _ io.Reader, progress io.Writer) error {
				if err := json.NewEncoder(progress).Encode(jsonstream.Message{Status: "Importing"}); err != nil {
					return err
				}
				return apierr.Invalidf("archive/tar: invalid tar header")
			}
		})
		rec := do(t, NewHandler(fake, Options{}), "POST", "/images/create?fromSrc=-", "not a tarball")
		if rec.Code != 200 {
			t.Fatalf("status %d, want 200: the stream had started", rec.Code)
		}
		lines := strings.Split(strings.TrimSpace(rec.Body.String()), "\n")
		want := `{"errorDetail":{"message":"archive/tar: invalid tar header"},"error":"archive/tar: invalid tar header"}`
		if len(lines) != 2 || lines[1] != want {
			t.Errorf("body lines = %q, want progress then %s", lines, want)
		}
	})
}

// TestImageImportStreamsBody sends a body the server could not have buffered: each MiB is
// written only after the progress for the previous one came back, so the exchange
// deadlocks (and the test times out) unless the body reaches the backend as it arrives
// and progress goes out as it is written.
func TestImageImportStreamsBody(t *testing.T) {
	const chunk, chunks = 1 << 20, 32
	fake := newFakeBackend()
	fake.set(func(f *fakeBackend) {
		f.importImage = func(_ context.Context, src io.Reader, progress io.Writer) error {
			enc := json.NewEncoder(progress)
			buf := make([]byte, chunk)
			var total int
			for {
				n, err := io.ReadFull(src, buf)
				total += n
				if err == io.EOF {
					return enc.Encode(jsonstream.Message{Status: fmt.Sprintf("sha256:5a1e %d", total)})
				}
				if err != nil {
					return err
				}
				if err := enc.Encode(jsonstream.Message{Status: "Importing", Progress: &jsonstream.Progress{Current: int64(total)}}); err != nil {
					return err
				}
			}
		}
	})
	srv := httptest.NewServer(NewHandler(fake, Options{}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	body, feed := io.Pipe()
	// On timeout, fail the writes rather than block on a transport that stopped reading.
	defer context.AfterFunc(ctx, func() { body.CloseWithError(ctx.Err()) })()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1.51/images/create?fromSrc=-&repo=big", body)
	req.Header.Set("Content-Type", "application/x-tar")

	block := make([]byte, chunk)
	go func() { _, _ = feed.Write(block) }() // the first MiB; the rest waits for progress
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for i := 1; i <= chunks; i++ {
		if !lines.Scan() {
			t.Fatalf("progress after %d MiB: %v (stream ended)", i, lines.Err())
		}
		var msg jsonstream.Message
		if err := json.Unmarshal(lines.Bytes(), &msg); err != nil || msg.Progress == nil || msg.Progress.Current != int64(i*chunk) {
			t.Fatalf("progress after %d MiB = %s, want Current %d", i, lines.Bytes(), i*chunk)
		}
		if i < chunks {
			if _, err := feed.Write(block); err != nil {
				t.Fatalf("writing MiB %d: %v", i+1, err)
			}
		}
	}
	feed.Close()
	if !lines.Scan() || !strings.Contains(lines.Text(), fmt.Sprintf("sha256:5a1e %d", chunks*chunk)) {
		t.Fatalf("final message = %q, want the ID after %d bytes (err %v)", lines.Text(), chunks*chunk, lines.Err())
	}
}

func TestImageListFilters(t *testing.T) {
	images := []image.Summary{
		{ID: "sha256:a", RepoTags: []string{"sleepy:1", "sleepy:2", "team/web:1"}, RepoDigests: []string{"sleepy@sha256:d1"}, Labels: map[string]string{"tier": "front"}},
		{ID: "sha256:b", RepoTags: []string{"registry.example:5000/team/api:3"}, Labels: map[string]string{"tier": "back", "ssd": ""}},
		{ID: "sha256:c"},
		{ID: "sha256:d", RepoTags: []string{"<none>:<none>"}, RepoDigests: []string{"<none>@<none>"}},
	}
	tests := []struct {
		raw  string
		want []string // "ID tags digests" per listed image
	}{
		{``, []string{"sha256:a [sleepy:1 sleepy:2 team/web:1] [sleepy@sha256:d1]", "sha256:b [registry.example:5000/team/api:3] []", "sha256:c [] []", "sha256:d [<none>:<none>] [<none>@<none>]"}},
		{`{"reference":{"sleepy":true}}`, []string{"sha256:a [sleepy:1 sleepy:2] [sleepy@sha256:d1]"}},
		{`{"reference":{"sleepy:2":true}}`, []string{"sha256:a [sleepy:2] []"}},
		{`{"reference":{"team/*":true}}`, []string{"sha256:a [team/web:1] []"}},
		{`{"reference":["*/*/api","web"]}`, []string{"sha256:b [registry.example:5000/team/api:3] []"}},
		{`{"reference":{"nothing":true}}`, nil},
		{`{"dangling":{"true":true}}`, []string{"sha256:c [] []", "sha256:d [<none>:<none>] [<none>@<none>]"}},
		{`{"dangling":["false"]}`, []string{"sha256:a [sleepy:1 sleepy:2 team/web:1] [sleepy@sha256:d1]", "sha256:b [registry.example:5000/team/api:3] []"}},
		{`{"label":{"tier":true}}`, []string{"sha256:a [sleepy:1 sleepy:2 team/web:1] [sleepy@sha256:d1]", "sha256:b [registry.example:5000/team/api:3] []"}},
		{`{"label":{"tier=back":true,"ssd":true}}`, []string{"sha256:b [registry.example:5000/team/api:3] []"}},
		{`{"label":{"tier=front":true},"reference":{"team/web":true}}`, []string{"sha256:a [team/web:1] []"}},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			fake := newFakeBackend()
			fake.set(func(f *fakeBackend) { f.images = images })
			rec := do(t, NewHandler(fake, Options{}), "GET", "/images/json?filters="+urlQueryEscape(tt.raw), "")
			if rec.Code != 200 {
				t.Fatalf("status %d (body %q)", rec.Code, rec.Body.String())
			}
			var got []image.Summary
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got == nil {
				t.Fatalf("body %q is not a JSON array: %v", rec.Body.String(), err)
			}
			var rows []string
			for _, img := range got {
				rows = append(rows, fmt.Sprintf("%s %v %v", img.ID, img.RepoTags, img.RepoDigests))
			}
			if !reflect.DeepEqual(rows, tt.want) {
				t.Errorf("listed %q, want %q", rows, tt.want)
			}
		})
	}
	if images[0].RepoTags[0] != "sleepy:1" || len(images[0].RepoTags) != 3 {
		t.Errorf("filtering changed the backend's summaries: %v", images[0].RepoTags)
	}
}
