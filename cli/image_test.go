package cli

import (
	"strings"
	"testing"
)

func TestImageListGolden(t *testing.T) {
	tests := []struct {
		golden string
		args   []string
	}{
		{"image-ls", []string{"image", "ls"}},
		{"image-ls-all", []string{"image", "ls", "-a"}},
		{"image-ls-quiet", []string{"image", "ls", "-q"}},
		{"image-ls-no-trunc", []string{"image", "list", "--no-trunc"}},
		{"image-ls-digests", []string{"image", "ls", "--digests"}},
		{"image-ls-format", []string{"image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			f := newServicesDaemon(t)
			assertGolden(t, tt.golden, mustRun(t, f.fakeDaemon, tt.args...))
		})
	}
}

func TestImageListReferenceFilter(t *testing.T) {
	f := newServicesDaemon(t)
	mustRun(t, f.fakeDaemon, "image", "ls", "sleepy")
	var filters string
	for _, r := range f.all() {
		if r.Path == "/images/json" {
			filters = r.Query.Get("filters")
		}
	}
	if filters != `{"reference":{"sleepy":true}}` {
		t.Errorf("filters %s", filters)
	}
}

func TestImageImport(t *testing.T) {
	f := newServiceDaemon(t)
	path := t.TempDir() + "/rootfs.tar"
	writeFile(t, path, "tar bytes")
	out := mustRun(t, f.fakeDaemon, "image", "import", "-c", `CMD ["/sleepy"]`, "--change", "ENV VERSION=1", "-m", "first", path, "sleepy:1")
	if out != "sha256:"+strings.Repeat("ab", 32)+"\n" {
		t.Errorf("output %q, want the image ID", out)
	}
	req := f.lastWrite("POST /images/create")
	q := req.Query
	if q.Get("fromSrc") != "-" || q.Get("repo") != "sleepy:1" || q.Get("message") != "first" ||
		strings.Join(q["changes"], "|") != `CMD ["/sleepy"]|ENV VERSION=1` {
		t.Errorf("query %v", q)
	}
	if string(req.Body) != "tar bytes" {
		t.Errorf("body %q, want the file", req.Body)
	}

	// From standard input, and from a URL the daemon fetches itself.
	if _, _, err := runShoalWithInput(t, f.fakeDaemon, "stdin tar", "image", "import", "-", "busybox"); err != nil {
		t.Fatal(err)
	}
	if req := f.lastWrite("POST /images/create"); string(req.Body) != "stdin tar" || req.Query.Get("repo") != "busybox" {
		t.Errorf("stdin import: body %q query %v", req.Body, req.Query)
	}
	mustRun(t, f.fakeDaemon, "image", "import", "http://127.0.0.1:1/rootfs.tar")
	if req := f.lastWrite("POST /images/create"); req.Query.Get("fromSrc") != "http://127.0.0.1:1/rootfs.tar" || len(req.Body) != 0 {
		t.Errorf("URL import: body %q query %v", req.Body, req.Query)
	}
}

func TestImageImportErrors(t *testing.T) {
	f := newServiceDaemon(t)
	_, _, err := runShoal(t, f.fakeDaemon, "image", "import", "/nonexistent.tar")
	if err == nil || err.Error() != "open /nonexistent.tar: no such file or directory" {
		t.Errorf("err = %v", err)
	}
	_, _, err = runShoalWithInput(t, f.fakeDaemon, "x", "image", "import", "-", "Not Valid")
	if err == nil || !strings.Contains(err.Error(), "invalid reference format") {
		t.Errorf("err = %v", err)
	}
	if w := f.writes(); len(w) != 0 {
		t.Errorf("writes %v, want none", w)
	}
}

func TestImageLoad(t *testing.T) {
	f := newServiceDaemon(t)
	path := t.TempDir() + "/sleepy.tar"
	writeFile(t, path, "archive")
	out := mustRun(t, f.fakeDaemon, "image", "load", "-i", path)
	if out != "Loaded image: sleepy:1\n" {
		t.Errorf("output %q", out)
	}
	req := f.lastWrite("POST /images/load")
	if string(req.Body) != "archive" || req.Query.Get("quiet") != "1" {
		t.Errorf("body %q query %v: want the archive, quietly (output is no terminal)", req.Body, req.Query)
	}
	if _, _, err := runShoalWithInput(t, f.fakeDaemon, "from stdin", "image", "load", "-q"); err != nil {
		t.Fatal(err)
	}
	if req := f.lastWrite("POST /images/load"); string(req.Body) != "from stdin" {
		t.Errorf("body %q", req.Body)
	}
}

func TestImageRemove(t *testing.T) {
	f := newServicesDaemon(t)
	out, _, err := runShoal(t, f.fakeDaemon, "image", "rm", "sleepy:2", "ghost:1", "busybox")
	want := "Untagged: sleepy:2\nDeleted: sha256:" + strings.Repeat("2", 64) + "\n" +
		"Untagged: docker.io/library/busybox:latest\nDeleted: sha256:" + strings.Repeat("3", 64) + "\n"
	if out != want {
		t.Errorf("output\n%s\nwant\n%s", out, want)
	}
	if err == nil || err.Error() != "Error response from daemon: No such image: ghost:1" {
		t.Errorf("err = %v", err)
	}
	req := f.lastWrite("DELETE /images/busybox")
	if req.Query.Get("force") != "" || req.Query.Get("noprune") != "" {
		t.Errorf("query %v", req.Query)
	}

	// With --force a missing image is only reported; other errors still fail.
	out, errOut, err := runShoal(t, f.fakeDaemon, "image", "rmi", "-f", "--no-prune", "ghost:1")
	if err != nil || out != "" || errOut != "Error response from daemon: No such image: ghost:1\n" {
		t.Errorf("out %q stderr %q err %v", out, errOut, err)
	}
	if req := f.lastWrite("DELETE /images/ghost:1"); req.Query.Get("force") != "1" || req.Query.Get("noprune") != "1" {
		t.Errorf("query %v", req.Query)
	}
	_, _, err = runShoal(t, f.fakeDaemon, "image", "rm", "-f", "1111")
	if err == nil || !strings.Contains(err.Error(), "must be forced") {
		t.Errorf("err = %v", err)
	}
}
