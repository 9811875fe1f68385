package runc

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func writeRootfsFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestResolveUser(t *testing.T) {
	root := writeRootfsFiles(t, map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n# comment\n",
		"etc/group":  "root:x:0:\napp:x:1000:\nextra:x:2000:app,other\nstaff:x:50:\n",
	})
	tests := []struct {
		spec    string
		groups  []string
		want    execUser
		wantErr bool
	}{
		{"", nil, execUser{UID: 0, GID: 0, Home: "/root"}, false},
		{"app", nil, execUser{UID: 1000, GID: 1000, Groups: []uint32{2000}, Home: "/home/app"}, false},
		{"1000", nil, execUser{UID: 1000, GID: 1000, Groups: []uint32{2000}, Home: "/home/app"}, false},
		{"app:staff", nil, execUser{UID: 1000, GID: 50, Groups: []uint32{2000}, Home: "/home/app"}, false},
		{"1234:5678", nil, execUser{UID: 1234, GID: 5678, Home: "/"}, false},
		{"1234", []string{"staff", "77"}, execUser{UID: 1234, GID: 0, Groups: []uint32{50, 77}, Home: "/"}, false},
		{"nobody", nil, execUser{}, true},
		{"app:nogroup", nil, execUser{}, true},
	}
	for _, tc := range tests {
		got, err := resolveUser(root, tc.spec, tc.groups)
		if (err != nil) != tc.wantErr {
			t.Errorf("resolveUser(%q): %v", tc.spec, err)
			continue
		}
		if tc.wantErr {
			continue
		}
		if got.UID != tc.want.UID || got.GID != tc.want.GID || got.Home != tc.want.Home || !slices.Equal(got.Groups, tc.want.Groups) {
			t.Errorf("resolveUser(%q) = %+v, want %+v", tc.spec, got, tc.want)
		}
	}
}

// An image's /etc/passwd that is a symlink out of the image resolves inside the image.
func TestResolveUserStaysInRoot(t *testing.T) {
	outside := writeRootfsFiles(t, map[string]string{"passwd": "evil:x:0:0::/:/bin/sh\n"})
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.Symlink(filepath.Join("/../../../..", outside, "passwd"), filepath.Join(root, "etc/passwd"))
	if _, err := resolveUser(root, "evil", nil); err == nil {
		t.Fatal("followed a symlink out of the root filesystem")
	}
	// mkdirAllInRoot through an absolute symlink never makes anything outside (it may refuse
	// a symlink whose target does not exist in the image).
	os.Symlink(outside, filepath.Join(root, "escape"))
	_ = mkdirAllInRoot(root, "/escape/made")
	if _, err := os.Stat(filepath.Join(outside, "made")); err == nil {
		t.Fatal("made a directory outside the root filesystem")
	}
	os.MkdirAll(filepath.Join(root, outside), 0o755)
	if err := mkdirAllInRoot(root, "/escape/made"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outside, "made")); err == nil {
		t.Fatal("made a directory outside the root filesystem")
	}
	if _, err := os.Stat(filepath.Join(root, outside, "made")); err != nil {
		t.Fatalf("directory not made inside the root: %v", err)
	}
}
