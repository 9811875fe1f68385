package shoal_test

// The dependency lines of STYLE.md, held by a test: the agent never imports the manager,
// the store does not import Raft, the API server knows no manager internals.

import (
	"os/exec"
	"strings"
	"testing"
)

func TestDependencyLines(t *testing.T) {
	rules := []struct {
		pkg       string
		forbidden []string
	}{
		{"./agent/...", []string{"github.com/shoal/shoal/manager"}},
		{"./manager/store", []string{"github.com/shoal/shoal/manager/raft", "github.com/hashicorp/raft"}},
		{"./api", []string{"github.com/shoal/shoal/manager", "github.com/shoal/shoal/daemon"}},
		{"./ca", []string{"github.com/shoal/shoal/manager", "github.com/shoal/shoal/agent"}},
		{"./clusterapi", []string{"github.com/shoal/shoal/manager", "github.com/shoal/shoal/agent"}},
	}
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", r.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", r.pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, bad := range r.forbidden {
				if dep == bad || strings.HasPrefix(dep, bad+"/") {
					t.Errorf("%s depends on %s, which it must not", r.pkg, dep)
				}
			}
		}
	}
}
