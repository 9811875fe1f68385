package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal/shoal/lab"
)

// BenchmarkLabLifecycle measures, in one run: `lab up` for 1 node (the baseline) and for
// 3 managers + 2 workers, each daemon's resident memory when idle, and the leader
// failover time (kill -9 to the first successful write). Run with -benchtime 1x.
func BenchmarkLabLifecycle(b *testing.B) {
	for i := 0; i < b.N; i++ {
		one := timeLabUp(b, lab.Options{Name: "benchup1", Managers: 1})
		five := timeLabUp(b, lab.Options{Name: "benchup5", Managers: 3, Workers: 2})
		b.ReportMetric(one.Seconds(), "labup-1node-s")
		b.ReportMetric(five.Seconds(), "labup-3m2w-s")
		b.ReportMetric(five.Seconds()/one.Seconds(), "labup-3m2w-x-1node")

		l, err := lab.Load("benchup5")
		if err != nil {
			b.Fatal(err)
		}
		time.Sleep(3 * time.Second) // settle to idle
		var maxRSS float64
		for _, n := range l.Nodes() {
			rss := residentMB(n.PID)
			b.Logf("%s daemon resident memory: %.1f MB", n.Name, rss)
			maxRSS = max(maxRSS, rss)
		}
		b.ReportMetric(maxRSS, "max-idle-rss-MB")

		leader, follower := leaderAndFollower(b, l)
		if err := l.Stop(leader, lab.StopOptions{DaemonOnly: true}); err != nil {
			b.Fatal(err)
		}
		c := apiClient(b, l, follower)
		start := time.Now()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := labelSelf(ctx, c, "failover")
			cancel()
			if err == nil {
				break
			}
			if time.Since(start) > time.Minute {
				b.Fatalf("no write accepted a minute after the leader died: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		b.ReportMetric(time.Since(start).Seconds(), "failover-s")
	}
}

func timeLabUp(b *testing.B, opts lab.Options) time.Duration {
	start := time.Now()
	startLab(b, opts)
	return time.Since(start)
}

// residentMB reads VmRSS of a process.
func residentMB(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if v, ok := strings.CutPrefix(string(line), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
