package agent

import (
	"testing"
	"time"
)

func TestHeartbeatTimeoutFollowsThePeriod(t *testing.T) {
	for _, tc := range []struct{ period, want time.Duration }{
		{100 * time.Millisecond, minHeartbeatTimeout},
		{time.Second, time.Second},
		{5 * time.Second, 5 * time.Second},
		{time.Minute, maxHeartbeatTimeout},
	} {
		if got := heartbeatTimeout(tc.period); got != tc.want {
			t.Errorf("heartbeatTimeout(%s) = %s, want %s", tc.period, got, tc.want)
		}
	}
}
