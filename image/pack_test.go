package image

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestPackedBusybox runs scripts/images/pack-busybox.sh and checks that both of its
// outputs become the same runnable-looking image content: the docker-save archive through
// Load, the root filesystem through Import with the changes the script documents.
func TestPackedBusybox(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a packing script")
	}
	needRoot(t)
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("no /bin/busybox (Debian package busybox-static) to pack")
	}
	out := t.TempDir()
	cmd := exec.Command("bash", "../scripts/images/pack-busybox.sh", out)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pack-busybox.sh: %v\n%s", err, b)
	}
	s := openStore(t)
	f, err := os.Open(filepath.Join(out, "busybox.docker.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	loaded, err := s.Load(context.Background(), f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || !slices.Equal(loaded[0].RepoTags, []string{"busybox:latest"}) || !slices.Equal(loaded[0].Config.Cmd, []string{"sh"}) {
		t.Fatalf("loaded %+v; want busybox:latest with CMD [sh]", loaded)
	}
	if got := loaded[0].Created.Unix(); got != 1700000000 {
		t.Errorf("Created = %d; want SOURCE_DATE_EPOCH", got)
	}
	rootfs, err := os.ReadFile(filepath.Join(out, "busybox.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	imported := importBytes(t, s, rootfs, "bb:imported", `CMD ["sh"]`)
	if !slices.Equal(imported.Layers, loaded[0].Layers) {
		t.Errorf("the rootfs tarball gave layer %v, the archive %v; want the same", imported.Layers, loaded[0].Layers)
	}
	dirs, err := s.LayerDirs(imported)
	if err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"bin/sh", "bin/ls", "bin/cat", "usr/bin/wget", "usr/bin/nslookup"} {
		if target, err := os.Readlink(filepath.Join(dirs[0], applet)); err != nil || target != "/bin/busybox" {
			t.Errorf("%s -> %q, %v; want /bin/busybox", applet, target, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dirs[0], "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 {
		t.Errorf("/tmp = %v, %v; want a sticky directory", fi, err)
	}
}
