package e2e

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/shoal/shoal/lab"
)

// BenchmarkRaftWrites measures replicated writes (a node label update: read, then a
// versioned write through Raft) on a 3-manager lab, sent to the leader and to a follower
// (which forwards to the leader), against a 1-manager lab measured in the same run as the
// baseline. Run with `make bench`; it reports p50/p99 and the ratio to the baseline.
func BenchmarkRaftWrites(b *testing.B) {
	single := startLab(b, lab.Options{Name: "benchone", Managers: 1})
	triple := startLab(b, lab.Options{Name: "benchthree", Managers: 3})
	leader, follower := leaderAndFollower(b, triple)

	var baseline time.Duration
	cases := []struct {
		name string
		lab  *lab.Lab
		node string
	}{
		{"1-manager(baseline)", single, "manager-1"},
		{"3-managers/leader", triple, leader},
		{"3-managers/follower", triple, follower},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			c := apiClient(b, tc.lab, tc.node)
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if err := labelSelf(ctx, c, fmt.Sprint(i)); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			p50, p99 := percentile(lat, 50), percentile(lat, 99)
			b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
			if tc.lab == single {
				baseline = p50
			} else if baseline > 0 {
				b.ReportMetric(float64(p50)/float64(baseline), "p50-x-baseline")
			}
		})
	}
}

func labelSelf(ctx context.Context, c *client.Client, v string) error {
	info, err := c.Info(ctx, client.InfoOptions{})
	if err != nil {
		return err
	}
	res, err := c.NodeInspect(ctx, info.Info.Swarm.NodeID, client.NodeInspectOptions{})
	if err != nil {
		return err
	}
	spec := res.Node.Spec
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	spec.Labels["bench"] = v
	_, err = c.NodeUpdate(ctx, res.Node.ID, client.NodeUpdateOptions{Version: res.Node.Version, Spec: spec})
	return err
}

func leaderAndFollower(b testing.TB, l *lab.Lab) (leader, follower string) {
	c := apiClient(b, l, "manager-1")
	res, err := c.NodeList(context.Background(), client.NodeListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range res.Items {
		if n.ManagerStatus == nil {
			continue
		}
		if n.ManagerStatus.Leader {
			leader = n.Description.Hostname
		} else if follower == "" {
			follower = n.Description.Hostname
		}
	}
	if leader == "" || follower == "" {
		b.Fatalf("no leader or follower among %d nodes", len(res.Items))
	}
	return leader, follower
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100]
}
