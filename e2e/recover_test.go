package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shoal/shoal/lab"
)

// TestQuorumLossAndForceNewCluster: with 2 of 3 managers gone, writes fail at once with a
// clear message; `swarm init --force-new-cluster` on the survivor brings the swarm back
// with all its state, and it takes writes again.
func TestQuorumLossAndForceNewCluster(t *testing.T) {
	l := startLab(t, lab.Options{Name: "e2erecover", Managers: 3, Workers: 1})
	mustRun(t, l, "manager-1", "node", "update", "--label-add", "kept=yes", "worker-1")
	before := mustRun(t, l, "manager-1", "node", "ls", "-q")
	for _, m := range []string{"manager-2", "manager-3"} {
		if err := l.Stop(m, lab.StopOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var refusal string
	took := eventually(t, 20*time.Second, "writes refused for want of quorum", func() error {
		start := time.Now()
		_, errOut, err := run(t, l, "manager-1", "node", "update", "--label-add", "lost=quorum", "worker-1")
		if err == nil {
			return fmt.Errorf("a write succeeded without quorum")
		}
		if !strings.Contains(errOut, "quorum") {
			return fmt.Errorf("refusal does not mention quorum: %s", errOut)
		}
		if d := time.Since(start); d > 15*time.Second {
			return fmt.Errorf("the refusal took %s", d)
		}
		refusal = errOut
		return nil
	})
	t.Logf("without quorum, writes are refused (%s after the loss): %s", took.Round(time.Millisecond), strings.TrimSpace(refusal))

	addr := node(t, l, "manager-1").Addr.String()
	mustRun(t, l, "manager-1", "swarm", "init", "--force-new-cluster", "--advertise-addr", addr)
	eventually(t, 20*time.Second, "writes after --force-new-cluster", func() error {
		_, errOut, err := run(t, l, "manager-1", "node", "update", "--label-add", "after=recovery", "worker-1")
		if err != nil {
			return fmt.Errorf("%v: %s", err, errOut)
		}
		return nil
	})
	labels := mustRun(t, l, "manager-1", "node", "inspect", "worker-1", "--format", "{{json .Spec.Labels}}")
	if !strings.Contains(labels, `"kept":"yes"`) || !strings.Contains(labels, `"after":"recovery"`) {
		t.Fatalf("labels after recovery = %s, want the old and the new one", labels)
	}
	if after := mustRun(t, l, "manager-1", "node", "ls", "-q"); after != before {
		t.Fatalf("nodes after recovery:\n%s\nwant the same as before:\n%s", after, before)
	}
}
