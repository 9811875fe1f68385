package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/opencontainers/go-digest"

	"github.com/shoal/shoal/internal/apierr"
)

// ggcrImage builds an image with go-containerregistry from layer tars (gzipped by ggcr).
func ggcrImage(t *testing.T, cmd string, layers ...[]byte) v1.Image {
	t.Helper()
	img := empty.Image
	for _, l := range layers {
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(l)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Cmd = []string{cmd}
	cf.Config.Env = []string{"PATH=/bin"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func configName(t *testing.T, img v1.Image) digest.Digest {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return digest.Digest(h.String())
}

// tarDir packs a directory tree (files, dirs, symlinks) as an archive.
func tarDir(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func load(t *testing.T, s *Store, archive []byte) []Image {
	t.Helper()
	imgs, err := s.Load(context.Background(), bytes.NewReader(archive), nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return imgs
}

// legacyDockerSave builds, by hand, the archive `docker save` wrote before docker 25:
// <id>/layer.tar per layer, a repeated layer as a symlink, <config hex>.json, manifest.json.
func legacyDockerSave(t *testing.T) (archive []byte, base, upper []byte, configA, configB []byte) {
	base = rootfs(t, "base")
	upper = makeTar(t,
		entry{name: "etc/", typ: tar.TypeDir},
		entry{name: "etc/.wh.passwd"},
		entry{name: "etc/motd", body: "welcome"},
	)
	dA, dB := digest.FromBytes(base), digest.FromBytes(upper)
	configA = []byte(`{"architecture":"amd64","os":"linux","created":"2024-01-02T03:04:05Z","config":{"Cmd":["/bin/app"],"Healthcheck":{"Test":["CMD","/bin/app","-check"],"Interval":5000000000}},"rootfs":{"type":"layers","diff_ids":["` + string(dA) + `","` + string(dB) + `"]}}`)
	configB = []byte(`{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/other"]},"rootfs":{"type":"layers","diff_ids":["` + string(dA) + `"]}}`)
	cA, cB := digest.FromBytes(configA), digest.FromBytes(configB)
	manifest := []byte(`[{"Config":"` + cA.Encoded() + `.json","RepoTags":["sleepy:1","docker.io/library/sleepy:latest"],"Layers":["l1/layer.tar","l2/layer.tar"]},` +
		`{"Config":"` + cB.Encoded() + `.json","RepoTags":null,"Layers":["l3/layer.tar"]}]`)
	archive = makeTar(t,
		entry{name: "l1/", typ: tar.TypeDir},
		entry{name: "l1/layer.tar", body: string(base)},
		entry{name: "l2/", typ: tar.TypeDir},
		entry{name: "l2/layer.tar", body: string(upper)},
		entry{name: "l3/", typ: tar.TypeDir},
		entry{name: "l3/layer.tar", typ: tar.TypeSymlink, link: "../l1/layer.tar"},
		entry{name: cA.Encoded() + ".json", body: string(configA)},
		entry{name: cB.Encoded() + ".json", body: string(configB)},
		entry{name: "manifest.json", body: string(manifest)},
		entry{name: "repositories", body: `{"sleepy":{"1":"whatever"}}`},
	)
	return archive, base, upper, configA, configB
}

func TestLoadLegacyDockerSave(t *testing.T) {
	needRoot(t) // the upper layer has a whiteout
	s := openStore(t)
	archive, base, upper, configA, configB := legacyDockerSave(t)
	var (
		mu      sync.Mutex
		reports []Progress
	)
	imgs, err := s.Load(context.Background(), bytes.NewReader(gzipBytes(t, archive)), func(p Progress) {
		mu.Lock()
		reports = append(reports, p)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 2 {
		t.Fatalf("Load gave %d images; want 2", len(imgs))
	}
	a, b := imgs[0], imgs[1]
	if a.ID != digest.FromBytes(configA) || b.ID != digest.FromBytes(configB) {
		t.Errorf("IDs %s, %s; want the config digests, as docker computes them", a.ID, b.ID)
	}
	if want := []string{"sleepy:1", "sleepy:latest"}; !slices.Equal(a.RepoTags, want) {
		t.Errorf("RepoTags = %v; want %v", a.RepoTags, want)
	}
	if len(b.RepoTags) != 0 {
		t.Errorf("untagged image got tags %v", b.RepoTags)
	}
	if hc := a.Config.Healthcheck; hc == nil || !slices.Equal(hc.Test, []string{"CMD", "/bin/app", "-check"}) {
		t.Errorf("Healthcheck = %+v; want the config's", hc)
	}
	if want := []digest.Digest{digest.FromBytes(base), digest.FromBytes(upper)}; !slices.Equal(a.Layers, want) {
		t.Errorf("Layers = %v; want %v", a.Layers, want)
	}
	dirs, err := s.LayerDirs(a)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dirs[0], "etc/motd")); string(b) != "welcome" {
		t.Errorf("top layer etc/motd = %q", b)
	}
	if fi, err := os.Lstat(filepath.Join(dirs[0], "etc/passwd")); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
		t.Errorf("top layer etc/passwd = %v, %v; want a whiteout device", fi, err)
	}
	if entries, _ := os.ReadDir(s.layerDir()); len(entries) != 2 {
		t.Errorf("stored %d layers; want 2 (the symlinked layer is the same)", len(entries))
	}
	var loading, exists int
	for _, p := range reports {
		switch p.Status {
		case "Loading layer":
			loading++
			if p.Total <= 0 || p.Current > p.Total || len(p.ID) != 12 {
				t.Errorf("bad progress report %+v", p)
			}
		case "Already exists":
			exists++
		}
	}
	if loading < 2 || exists != 1 {
		t.Errorf("progress: %d loading, %d already-exists reports; want ≥2 and 1", loading, exists)
	}

	// Loading again stores nothing new.
	again := load(t, s, archive)
	if again[0].ID != a.ID || again[1].ID != b.ID {
		t.Errorf("loading again gave other IDs")
	}
	if n := len(s.List()); n != 2 {
		t.Errorf("%d images after loading twice; want 2", n)
	}
}

func TestLoadGGCRDockerSave(t *testing.T) {
	s := openStore(t)
	img1 := ggcrImage(t, "/bin/one", rootfs(t, "g1"), rootfs(t, "g2"))
	img2 := ggcrImage(t, "/bin/two", rootfs(t, "g1"))
	ref1, _ := name.NewTag("example.com/team/one:v1")
	ref2, _ := name.NewTag("two")
	var buf bytes.Buffer
	if err := tarball.MultiRefWrite(map[name.Reference]v1.Image{ref1: img1, ref2: img2}, &buf); err != nil {
		t.Fatal(err)
	}
	imgs := load(t, s, buf.Bytes())
	if len(imgs) != 2 {
		t.Fatalf("Load gave %d images; want 2", len(imgs))
	}
	one, err := s.Resolve("example.com/team/one:v1")
	if err != nil || one.ID != configName(t, img1) {
		t.Errorf("Resolve(one) = %v, %v; want %s", one.ID, err, configName(t, img1))
	}
	two, err := s.Resolve("two:latest")
	if err != nil || two.ID != configName(t, img2) || !slices.Equal(two.Config.Cmd, []string{"/bin/two"}) {
		t.Errorf("Resolve(two) = %+v, %v", two, err)
	}
	if entries, _ := os.ReadDir(s.layerDir()); len(entries) != 2 {
		t.Errorf("stored %d layers; want 2", len(entries))
	}
}

// ociLayout writes a layout with ggcr: one image named by ref.name, one by the
// containerd annotation, and a two-platform index.
func ociLayout(t *testing.T) (dir string, plain, named, native v1.Image) {
	t.Helper()
	dir = t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	plain = ggcrImage(t, "/bin/plain", rootfs(t, "o1"))
	named = ggcrImage(t, "/bin/named", rootfs(t, "o1"), rootfs(t, "o2"))
	native = ggcrImage(t, "/bin/native", rootfs(t, "native"))
	foreign := ggcrImage(t, "/bin/foreign", rootfs(t, "foreign"))
	if err := p.AppendImage(plain, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "oci/plain:3"})); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(named, layout.WithAnnotations(map[string]string{
		"io.containerd.image.name":          "docker.io/library/named:2",
		"org.opencontainers.image.ref.name": "2",
	})); err != nil {
		t.Fatal(err)
	}
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: foreign, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: other}}},
		mutate.IndexAddendum{Add: native, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "multi:1"})); err != nil {
		t.Fatal(err)
	}
	return dir, plain, named, native
}

func TestLoadOCILayout(t *testing.T) {
	s := openStore(t)
	dir, plain, named, native := ociLayout(t)
	imgs := load(t, s, tarDir(t, dir))
	if len(imgs) != 3 {
		t.Fatalf("Load gave %d images; want 3", len(imgs))
	}
	for ref, want := range map[string]v1.Image{"oci/plain:3": plain, "named:2": named, "multi:1": native} {
		got, err := s.Resolve(ref)
		if err != nil {
			t.Errorf("Resolve(%q): %v", ref, err)
			continue
		}
		if got.ID != configName(t, want) {
			t.Errorf("Resolve(%q) = %s; want %s", ref, got.ID, configName(t, want))
		}
	}
	got, _ := s.Resolve("named:2")
	dirs, err := s.LayerDirs(got)
	if err != nil || len(dirs) != 2 {
		t.Fatalf("LayerDirs = %v, %v", dirs, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dirs[0], "bin/app")); !strings.Contains(string(b), "o2") {
		t.Errorf("top-most layer bin/app = %q; want the o2 layer's", b)
	}
}

// TestLoadDockerSaveOCIForm loads the archive docker 25+ writes: an OCI layout with a
// manifest.json beside index.json whose layers are blob paths.
func TestLoadDockerSaveOCIForm(t *testing.T) {
	s := openStore(t)
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	img := ggcrImage(t, "/bin/app", rootfs(t, "d25"))
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	var paths []string
	for _, l := range layers {
		d, _ := l.Digest()
		paths = append(paths, "blobs/sha256/"+d.Hex)
	}
	manifest, _ := json.Marshal([]dockerSaveEntry{{Config: "blobs/sha256/" + configName(t, img).Encoded(), RepoTags: []string{"d25:latest"}, Layers: paths}})
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	imgs := load(t, s, tarDir(t, dir))
	if len(imgs) != 1 || imgs[0].ID != configName(t, img) || !slices.Equal(imgs[0].RepoTags, []string{"d25:latest"}) {
		t.Errorf("Load = %+v; want %s tagged d25:latest", imgs, configName(t, img))
	}
}

func TestLoadRefusesBadArchives(t *testing.T) {
	base := rootfs(t, "bad")
	goodConfig := `{"os":"linux","rootfs":{"type":"layers","diff_ids":["` + string(digest.FromBytes(base)) + `"]}}`
	wrongConfig := `{"os":"linux","rootfs":{"type":"layers","diff_ids":["` + string(digest.FromBytes([]byte("other"))) + `"]}}`
	saveWith := func(config string, layers string, extra ...entry) []byte {
		return makeTar(t, append([]entry{
			{name: "l/layer.tar", body: string(base)},
			{name: "c.json", body: config},
			{name: "manifest.json", body: `[{"Config":"c.json","RepoTags":["bad:1"],"Layers":` + layers + `}]`},
		}, extra...)...)
	}
	dir, _, _, _ := ociLayout(t)
	idx, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	var index struct {
		Manifests []struct{ Digest string }
	}
	_ = json.Unmarshal(idx, &index)
	corrupt := filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(index.Manifests[0].Digest, "sha256:"))
	if err := os.WriteFile(corrupt, []byte(`{"schemaVersion":2}`), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		archive []byte
		want    string
	}{
		{"neither manifest nor index", makeTar(t, entry{name: "hello", body: "x"}), "neither manifest.json"},
		{"layer does not match config", saveWith(wrongConfig, `["l/layer.tar"]`), "but the image config says"},
		{"layer count mismatch", saveWith(goodConfig, `[]`), "lists 1 layers, but the archive gives 0"},
		{"second layer missing", makeTar(t,
			entry{name: "l/layer.tar", body: string(base)},
			entry{name: "c.json", body: `{"os":"linux","rootfs":{"type":"layers","diff_ids":["` + string(digest.FromBytes(base)) + `","` + string(digest.FromBytes([]byte("x"))) + `"]}}`},
			entry{name: "manifest.json", body: `[{"Config":"c.json","RepoTags":["bad:1"],"Layers":["l/layer.tar","nope"]}]`},
		), `archive has no file "nope"`},
		{"missing layer file", saveWith(goodConfig, `["nope/layer.tar"]`), `archive has no file "nope/layer.tar"`},
		{"layer link out of the archive", saveWith(goodConfig, `["x/layer.tar"]`, entry{name: "x/layer.tar", typ: tar.TypeSymlink, link: "/etc/passwd"}), `archive has no file "x/layer.tar"`},
		{"entry climbing out", makeTar(t, entry{name: "../manifest.json", body: "[]"}), "points outside"},
		{"empty archive", nil, "archive is empty"},
		{"bad tag", makeTar(t,
			entry{name: "l/layer.tar", body: string(base)},
			entry{name: "c.json", body: goodConfig},
			entry{name: "manifest.json", body: `[{"Config":"c.json","RepoTags":["UPPER:1"],"Layers":["l/layer.tar"]}]`},
		), `invalid reference "UPPER:1"`},
		{"windows image", saveWith(`{"os":"windows","rootfs":{"type":"layers","diff_ids":[]}}`, `[]`), "only linux images"},
		{"corrupt OCI blob", tarDir(t, dir), "is corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t)
			_, err := s.Load(context.Background(), bytes.NewReader(tt.archive), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load = %v; want an error containing %q", err, tt.want)
			}
			if apierr.KindOf(err) != apierr.KindInvalid {
				t.Errorf("error kind = %v; want invalid input", apierr.KindOf(err))
			}
			if n := len(s.List()); n != 0 {
				t.Errorf("a refused archive left %d images", n)
			}
			if entries, _ := os.ReadDir(s.layerDir()); len(entries) != 0 {
				t.Errorf("a refused archive left %d layers", len(entries))
			}
		})
	}
}
