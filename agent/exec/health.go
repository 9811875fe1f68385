package exec

import (
	"time"

	"github.com/moby/moby/api/types/container"
)

// healthLogSize is how many probe results a task's health keeps (docker keeps 5).
const healthLogSize = 5

// NewHealth is the health of a task that just started: "starting" with a check, "none"
// without.
func NewHealth(hc *container.HealthConfig) container.Health {
	if hc == nil {
		return container.Health{Status: container.NoHealthcheck}
	}
	return container.Health{Status: container.Starting}
}

// NextHealth applies one probe result to a task's health, with docker's rules: a success
// makes it healthy and clears the failing streak; a failure counts towards Retries, except
// while the task has never been healthy and is still in its start period; Retries failures
// in a row make it unhealthy. It returns a new value and leaves h alone.
func NextHealth(h container.Health, hc *container.HealthConfig, startedAt time.Time, r container.HealthcheckResult) container.Health {
	next := container.Health{Status: h.Status, FailingStreak: h.FailingStreak}
	if r.ExitCode == 0 {
		next.FailingStreak = 0
		next.Status = container.Healthy
	} else if !(h.Status == container.Starting && r.Start.Sub(startedAt) < hc.StartPeriod) {
		next.FailingStreak++
		if next.FailingStreak >= hc.Retries {
			next.Status = container.Unhealthy
		}
	}
	start := max(0, len(h.Log)+1-healthLogSize)
	next.Log = append(append(next.Log, h.Log[start:]...), &r)
	return next
}

// NextProbe is how long to wait before the next probe: StartInterval while the task is
// starting and in its start period, Interval otherwise.
func NextProbe(h container.Health, hc *container.HealthConfig, startedAt, now time.Time) time.Duration {
	if h.Status == container.Starting && now.Sub(startedAt) < hc.StartPeriod {
		return hc.StartInterval
	}
	return hc.Interval
}
