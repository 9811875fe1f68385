package replicated

import (
	"fmt"
	"testing"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/manager/orchestrator"
	kit "github.com/shoal/shoal/manager/orchestrator/internal/testkit"
)

// BenchmarkReconcile1000Replicas: a converged service of 1000 replicas with four history
// tasks per slot, on 100 nodes of which one was just drained.
func BenchmarkReconcile1000Replicas(b *testing.B) {
	svc := kit.Replicated("web", 1000, tmpl)
	var nodes []*swarm.Node
	for i := range 100 {
		nodes = append(nodes, kit.Node(fmt.Sprintf("n%02d", i), swarm.NodeStateReady, swarm.NodeAvailabilityActive, nil))
	}
	nodes[0].Spec.Availability = swarm.NodeAvailabilityDrain
	var tasks []*swarm.Task
	for slot := 1; slot <= 1000; slot++ {
		node := nodes[slot%100].ID
		for h := range 4 {
			tasks = append(tasks, kit.Task(fmt.Sprintf("h%d.%d", slot, h), svc, tmpl, slot, node, shutdown, failed, h))
		}
		tasks = append(tasks, kit.Task(fmt.Sprintf("t%d", slot), svc, tmpl, slot, node, running, running, 10))
	}
	in := orchestrator.Input{Service: svc, Tasks: tasks, Nodes: nodes, Now: kit.At(20), HistoryLimit: orchestrator.DefaultHistoryLimit}
	b.ReportAllocs()
	for b.Loop() {
		p, err := Reconcile(in)
		if err != nil || len(p.Create) != 10 {
			b.Fatalf("plan %d creates, err %v", len(p.Create), err)
		}
	}
}
