package scheduler

import (
	"fmt"
	"testing"

	"github.com/moby/moby/api/types/swarm"
)

// BenchmarkSchedule100kTasks1kNodes is the reference's own benchmark shape (swarmkit PR
// #193: 100k tasks on 1k nodes took 22.6 s): 100 services of 1000 pending tasks each on
// 1000 nodes in 10 zones. A third of the services reserve resources, a quarter spread over
// zones, a fifth carry a constraint, a tenth cap replicas per node. One op is one Schedule
// call over all 100k tasks.
func BenchmarkSchedule100kTasks1kNodes(b *testing.B) {
	const nodes, services, perService = 1000, 100, 1000
	snap := &fakeSnapshot{services: map[string]*swarm.Service{}}
	for i := range nodes {
		snap.nodes = append(snap.nodes, newNode(fmt.Sprintf("node-%04d", i),
			withLabel("zone", fmt.Sprintf("z%d", i%10)),
			withResources(32e9, 128<<30)))
	}
	var pending []*swarm.Task
	for s := range services {
		svc := fmt.Sprintf("svc-%03d", s)
		var opts []taskOpt
		if s%3 == 0 {
			opts = append(opts, withReservation(1e8, 64<<20))
		}
		if s%4 == 0 {
			opts = append(opts, withSpread("node.labels.zone"))
		}
		if s%5 == 0 {
			opts = append(opts, withConstraints("node.labels.zone!=z0", "node.role==worker"))
		}
		if s%10 == 0 {
			opts = append(opts, withMaxReplicas(2))
		}
		pending = append(pending, pendingTasks(svc, perService, opts...)...)
	}
	snap.tasks = pending
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		ds := Schedule(snap, pending)
		if len(ds) != len(pending) {
			b.Fatalf("%d decisions for %d tasks", len(ds), len(pending))
		}
		for _, d := range ds {
			if d.Err != "" {
				b.Fatalf("task %s not placed: %s", d.TaskID, d.Err)
			}
		}
	}
	b.ReportMetric(float64(len(pending))*float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
}
