package image

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"

	"github.com/shoal/shoal/internal/apierr"
)

func TestImportPlainAndGzip(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(testing.TB, []byte) []byte
	}{
		{"plain", func(_ testing.TB, b []byte) []byte { return b }},
		{"gzip", gzipBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			tarball := rootfs(t, "hello")
			img := importBytes(t, s, tc.wrap(t, tarball), "sleepy:1", `CMD ["/bin/app"]`, `ENV SLEEPY_VERSION=1`)

			if want := []string{"sleepy:1"}; !slices.Equal(img.RepoTags, want) {
				t.Errorf("RepoTags = %v; want %v", img.RepoTags, want)
			}
			if want := []digest.Digest{digest.FromBytes(tarball)}; !slices.Equal(img.Layers, want) {
				t.Errorf("Layers = %v; want the digest of the uncompressed tar %v", img.Layers, want)
			}
			if !slices.Equal(img.Config.Cmd, []string{"/bin/app"}) || !slices.Equal(img.Config.Env, []string{"SLEEPY_VERSION=1"}) {
				t.Errorf("Config = %+v; want the --change values", img.Config)
			}
			if !img.Created.Equal(testTime) {
				t.Errorf("Created = %v; want the newest mtime in the tar, %v", img.Created, testTime)
			}
			if want := int64(len("#!/bin/sh\necho hello\n") + len("root:x:0:0:root:/:/bin/sh\n")); img.Size != want {
				t.Errorf("Size = %d; want %d", img.Size, want)
			}
			raw, err := os.ReadFile(s.configPath(img.ID))
			if err != nil {
				t.Fatal(err)
			}
			if digest.FromBytes(raw) != img.ID {
				t.Errorf("image ID %s is not the sha256 of its stored config", img.ID)
			}
			dirs, err := s.LayerDirs(img)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(dirs[0], "bin/app"))
			if err != nil || string(got) != "#!/bin/sh\necho hello\n" {
				t.Errorf("unpacked bin/app = %q, %v", got, err)
			}
		})
	}
}

func TestImportRefusesBadInput(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	tests := []struct {
		name    string
		input   []byte
		ref     string
		changes []string
		want    string
	}{
		{"bad reference", rootfs(t, "x"), "Sleepy:UPPER", nil, "invalid reference"},
		{"digest reference", rootfs(t, "x"), "sleepy@sha256:" + strings.Repeat("a", 64), nil, "cannot contain a digest"},
		{"bad change", rootfs(t, "x"), "ok:1", []string{"RUN true"}, "unsupported --change instruction"},
		{"empty input", nil, "ok:1", nil, "archive is empty"},
		{"not a tar", []byte("hello, this is not a tar archive at all, just text that goes on"), "ok:1", nil, "reading layer tar"},
		{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0, 1, 2}, "ok:1", nil, "xz-compressed archives are not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Import(ctx, bytes.NewReader(tt.input), tt.ref, tt.changes)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Import = %v; want an error containing %q", err, tt.want)
			}
			if apierr.KindOf(err) != apierr.KindInvalid {
				t.Errorf("error kind = %v; want invalid input", apierr.KindOf(err))
			}
		})
	}
	if n := len(s.List()); n != 0 {
		t.Errorf("failed imports left %d images", n)
	}
	if entries, _ := os.ReadDir(s.layerDir()); len(entries) != 0 {
		t.Errorf("failed imports left %d layers", len(entries))
	}
}

func TestImportSameContentStoredOnce(t *testing.T) {
	s := openStore(t)
	tarball := rootfs(t, "same")
	a := importBytes(t, s, tarball, "a:1", `CMD ["/bin/app"]`)
	b := importBytes(t, s, gzipBytes(t, tarball), "b:1", `CMD ["/bin/app"]`)
	if a.ID != b.ID {
		t.Errorf("same tar and changes gave image IDs %s and %s; want one", a.ID, b.ID)
	}
	c := importBytes(t, s, tarball, "c:1", `CMD ["/bin/other"]`)
	if c.ID == a.ID {
		t.Errorf("different changes gave the same image ID")
	}
	if !slices.Equal(c.Layers, a.Layers) {
		t.Errorf("same tar gave layers %v and %v", a.Layers, c.Layers)
	}
	if entries, _ := os.ReadDir(s.layerDir()); len(entries) != 1 {
		t.Errorf("stored %d layers; want 1", len(entries))
	}
	imgs := s.List()
	if len(imgs) != 2 {
		t.Fatalf("List() has %d images; want 2", len(imgs))
	}
	got, _ := s.Resolve("a:1")
	if want := []string{"a:1", "b:1"}; !slices.Equal(got.RepoTags, want) {
		t.Errorf("RepoTags = %v; want %v", got.RepoTags, want)
	}
}

func TestConcurrentImports(t *testing.T) {
	s := openStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			// Half the imports share content, half are distinct.
			marker := "shared"
			if i%2 == 1 {
				marker = "m" + string(rune('a'+i))
			}
			_, err := s.Import(context.Background(), bytes.NewReader(rootfs(t, marker)), "img:"+string(rune('a'+i)), nil)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := len(s.List()); got != 9 {
		t.Errorf("List() has %d images; want 9 (1 shared + 8 distinct)", got)
	}
	if entries, _ := os.ReadDir(s.layerDir()); len(entries) != 9 {
		t.Errorf("stored %d layers; want 9", len(entries))
	}
}

func TestResolve(t *testing.T) {
	s := openStore(t)
	img := importBytes(t, s, rootfs(t, "r"), "docker.io/library/web:2")
	other := importBytes(t, s, rootfs(t, "other"), "registry.example:5000/team/tool")
	desc, err := s.Descriptor("web:2")
	if err != nil {
		t.Fatal(err)
	}
	hex := img.ID.Encoded()
	for _, ref := range []string{
		"web:2", "docker.io/library/web:2", "library/web:2",
		img.ID.String(), hex, hex[:12], "sha256:" + hex[:8],
		"web@" + desc.Digest.String(), "web:2@" + desc.Digest.String(), "anyname@" + desc.Digest.String(),
	} {
		got, err := s.Resolve(ref)
		if err != nil {
			t.Errorf("Resolve(%q): %v", ref, err)
			continue
		}
		if got.ID != img.ID {
			t.Errorf("Resolve(%q) = %s; want %s", ref, got.ID, img.ID)
		}
	}
	if got, err := s.Resolve("registry.example:5000/team/tool:latest"); err != nil || got.ID != other.ID {
		t.Errorf("Resolve(registry tag) = %v, %v; want %s", got.ID, err, other.ID)
	}
	if want := []string{"registry.example:5000/team/tool:latest"}; !slices.Equal(other.RepoTags, want) {
		t.Errorf("RepoTags = %v; want %v", other.RepoTags, want)
	}
	if want := []string{"web@" + desc.Digest.String()}; !slices.Equal(img.RepoDigests, want) {
		t.Errorf("RepoDigests = %v; want %v", img.RepoDigests, want)
	}

	for _, ref := range []string{"web", "web:3", "nosuch:1", "sha256:" + strings.Repeat("0", 64), "web@sha256:" + strings.Repeat("0", 64), "zzzz", "sha256:"} {
		_, err := s.Resolve(ref)
		if err == nil || err.Error() != "No such image: "+ref || apierr.KindOf(err) != apierr.KindNotFound {
			t.Errorf("Resolve(%q) = %v; want not found \"No such image: %s\"", ref, err, ref)
		}
	}
}

func TestResolveAmbiguousPrefix(t *testing.T) {
	s := openStore(t)
	ids := map[byte]bool{}
	// Import until two image IDs share a first hex digit; 17 images guarantee it.
	for i := 0; ; i++ {
		img := importBytes(t, s, rootfs(t, "p"+string(rune('a'+i))), "")
		c := img.ID.Encoded()[0]
		if ids[c] {
			_, err := s.Resolve(string(c))
			if err == nil || !strings.Contains(err.Error(), "ambiguous") {
				t.Fatalf("Resolve(%q) = %v; want an ambiguous-prefix error", string(c), err)
			}
			return
		}
		ids[c] = true
	}
}

func TestDescriptorIsContentAddressed(t *testing.T) {
	tarball := rootfs(t, "digest")
	a, b := openStore(t), openStore(t)
	importBytes(t, a, tarball, "x:1", `CMD ["/bin/app"]`)
	importBytes(t, b, gzipBytes(t, tarball), "y:7", `CMD ["/bin/app"]`)
	da, err := a.Descriptor("x:1")
	if err != nil {
		t.Fatal(err)
	}
	db, err := b.Descriptor("y:7")
	if err != nil {
		t.Fatal(err)
	}
	if da.Digest != db.Digest || da.Size != db.Size || da.MediaType != "application/vnd.oci.image.manifest.v1+json" {
		t.Errorf("descriptors %+v and %+v; want equal OCI manifest descriptors for equal content", da, db)
	}
	if da.Platform == nil || da.Platform.OS != "linux" {
		t.Errorf("descriptor platform = %+v; want linux", da.Platform)
	}
}

func TestPersistsAcrossOpen(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	img := importBytes(t, s, rootfs(t, "persist"), "keep:1", `CMD ["/bin/app"]`)
	if err := s.Tag("keep:1", "alias"); err != nil {
		t.Fatal(err)
	}
	// Debris of a crash: a half-written layer, an unreferenced config, scratch files.
	orphan := filepath.Join(s.layerDir(), strings.Repeat("b", 64))
	if err := os.MkdirAll(filepath.Join(orphan, "fs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.configDir(), strings.Repeat("c", 64)), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.tmpDir(), "junk"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	s2, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Resolve("alias:latest")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != img.ID || !slices.Equal(got.RepoTags, []string{"alias:latest", "keep:1"}) || !slices.Equal(got.Config.Cmd, []string{"/bin/app"}) {
		t.Errorf("after reopening: %+v; want %s tagged alias:latest and keep:1", got, img.ID)
	}
	if _, err := s2.LayerDirs(got); err != nil {
		t.Error(err)
	}
	for _, p := range []string{orphan, filepath.Join(s.configDir(), strings.Repeat("c", 64)), filepath.Join(s.tmpDir(), "junk")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("Open left %s (err %v); want it collected", p, err)
		}
	}
}

func TestTagMovesBetweenImages(t *testing.T) {
	s := openStore(t)
	v1 := importBytes(t, s, rootfs(t, "v1"), "app:latest")
	v2 := importBytes(t, s, rootfs(t, "v2"), "app")
	if got, _ := s.Resolve("app"); got.ID != v2.ID {
		t.Errorf("app:latest resolves to %s; want the newer import %s", got.ID, v2.ID)
	}
	old, err := s.Resolve(v1.ID.String())
	if err != nil || len(old.RepoTags) != 0 {
		t.Errorf("the first image = %+v, %v; want it kept, untagged (dangling)", old, err)
	}
	if err := s.Tag(v1.ID.String()[7:19], "app:old"); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag("app:old", "bad@@name"); err == nil {
		t.Error("Tag to an invalid name succeeded")
	}
	if err := s.Tag("missing:1", "x"); apierr.KindOf(err) != apierr.KindNotFound {
		t.Errorf("Tag from a missing image = %v; want not found", err)
	}
}

func TestRemoveAndGC(t *testing.T) {
	s := openStore(t)
	shared := rootfs(t, "shared")
	a := importBytes(t, s, shared, "a:1", `CMD ["a"]`)
	importBytes(t, s, shared, "b:1", `CMD ["b"]`) // another image on the same layer
	if err := s.Tag("a:1", "a:2"); err != nil {
		t.Fatal(err)
	}

	// Untagging one of two tags keeps the image.
	resp, err := s.Remove("a:2", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []imagetypes.DeleteResponse{{Untagged: "a:2"}}; !slices.Equal(resp, want) {
		t.Errorf("Remove(a:2) = %+v; want %+v", resp, want)
	}

	// The last tag takes the image, but not the layer b still uses.
	resp, err = s.Remove("a:1", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []imagetypes.DeleteResponse{{Untagged: "a:1"}, {Deleted: a.ID.String()}}; !slices.Equal(resp, want) {
		t.Errorf("Remove(a:1) = %+v; want %+v", resp, want)
	}
	if _, err := s.Resolve(a.ID.String()); apierr.KindOf(err) != apierr.KindNotFound {
		t.Errorf("removed image still resolves: %v", err)
	}
	if _, err := os.Stat(s.configPath(a.ID)); !os.IsNotExist(err) {
		t.Errorf("config of the removed image is still there (%v)", err)
	}
	if _, err := os.Stat(s.layerPath(a.Layers[0])); err != nil {
		t.Errorf("shared layer was collected while b uses it: %v", err)
	}

	// Removing b by ID collects the layer.
	b, _ := s.Resolve("b:1")
	resp, err = s.Remove(b.ID.Encoded()[:10], false, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []imagetypes.DeleteResponse{{Untagged: "b:1"}, {Deleted: b.ID.String()}, {Deleted: b.Layers[0].String()}}
	if !slices.Equal(resp, want) {
		t.Errorf("Remove(b by ID) = %+v; want %+v", resp, want)
	}
	if _, err := os.Stat(s.layerPath(b.Layers[0])); !os.IsNotExist(err) {
		t.Errorf("unused layer still on disk (%v)", err)
	}
	if entries, _ := os.ReadDir(s.tmpDir()); len(entries) != 0 {
		t.Errorf("Remove left %d entries in tmp", len(entries))
	}
	if _, err := s.Remove("b:1", false, nil); apierr.KindOf(err) != apierr.KindNotFound || err.Error() != "No such image: b:1" {
		t.Errorf("Remove of a missing image = %v; want No such image: b:1", err)
	}

	// The removal survives reopening.
	s2, err := Open(s.root)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s2.List()); n != 0 {
		t.Errorf("after reopening, %d images; want 0", n)
	}
}

func TestRemoveConflicts(t *testing.T) {
	s := openStore(t)
	img := importBytes(t, s, rootfs(t, "busy"), "busy:1")
	if err := s.Tag("busy:1", "busy:2"); err != nil {
		t.Fatal(err)
	}
	inUse := func(id digest.Digest) string {
		if id == img.ID {
			return "running container 0123456789ab"
		}
		return ""
	}
	notInUse := func(digest.Digest) string { return "" }

	if _, err := s.Remove(img.ID.String(), false, notInUse); apierr.KindOf(err) != apierr.KindConflict || !strings.Contains(err.Error(), "referenced in multiple repositories") {
		t.Errorf("Remove(ID with two tags) = %v; want a conflict", err)
	}
	if _, err := s.Remove(img.ID.String(), true, inUse); apierr.KindOf(err) != apierr.KindConflict || !strings.Contains(err.Error(), "(cannot be forced) - image is being used by running container 0123456789ab") {
		t.Errorf("Remove(ID in use, force) = %v; want a conflict that cannot be forced", err)
	}
	// Untagging while another tag remains is always allowed.
	if _, err := s.Remove("busy:2", false, inUse); err != nil {
		t.Errorf("Remove(busy:2) = %v; want it untagged", err)
	}
	if _, err := s.Remove("busy:1", false, inUse); apierr.KindOf(err) != apierr.KindConflict || !strings.Contains(err.Error(), "(must force)") {
		t.Errorf("Remove(last tag in use) = %v; want a must-force conflict", err)
	}
	resp, err := s.Remove("busy:1", true, inUse)
	if err != nil {
		t.Fatal(err)
	}
	if want := []imagetypes.DeleteResponse{{Untagged: "busy:1"}}; !slices.Equal(resp, want) {
		t.Errorf("Remove(last tag in use, force) = %+v; want only %+v", resp, want)
	}
	if _, err := s.Resolve(img.ID.String()); err != nil {
		t.Errorf("an image in use was deleted: %v", err)
	}
	// Without an in-use check, force removes by ID.
	if _, err := s.Remove(img.ID.String(), true, nil); err != nil {
		t.Errorf("Remove(ID, force, no check) = %v", err)
	}
}

func TestLayerDirsTopMostFirst(t *testing.T) {
	s := openStore(t)
	s.writeMu.Lock()
	var layers []layerInfo
	for _, m := range []string{"base", "mid", "base", "top"} {
		l, _, err := s.ingestLayer(context.Background(), bytes.NewReader(rootfs(t, m)), "")
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, l)
	}
	raw := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` +
		string(layers[0].DiffID) + `","` + string(layers[1].DiffID) + `","` + string(layers[2].DiffID) + `","` + string(layers[3].DiffID) + `"]}}`)
	img, err := s.commitImage(raw, nil)
	s.writeMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := s.LayerDirs(img)
	if err != nil {
		t.Fatal(err)
	}
	// "base" appears twice; only its top-most place stays.
	want := []string{s.layerFSPath(layers[3].DiffID), s.layerFSPath(layers[2].DiffID), s.layerFSPath(layers[1].DiffID)}
	if !slices.Equal(dirs, want) {
		t.Errorf("LayerDirs = %v; want %v", dirs, want)
	}
}
