package orchestrator

import (
	"time"

	"github.com/moby/moby/api/types/swarm"
)

// restartPolicy is a spec's restart policy with swarm's defaults filled in: condition
// any, delay 5s, unlimited attempts, no window.
type restartPolicy struct {
	condition   swarm.RestartPolicyCondition
	delay       time.Duration
	maxAttempts uint64 // 0: unlimited
	window      time.Duration
}

func policyOf(p *swarm.RestartPolicy) restartPolicy {
	rp := restartPolicy{condition: swarm.RestartPolicyConditionAny, delay: DefaultRestartDelay}
	if p == nil {
		return rp
	}
	if p.Condition != "" {
		rp.condition = p.Condition
	}
	if p.Delay != nil {
		rp.delay = *p.Delay
	}
	if p.MaxAttempts != nil {
		rp.maxAttempts = *p.MaxAttempts
	}
	if p.Window != nil {
		rp.window = *p.Window
	}
	return rp
}

// restartAt decides, from a slot's history (oldest first), whether the empty slot gets a
// new task and not before when. The answer depends only on the history, never on how
// long ago it was asked, so a slot that was given up on stays given up:
//
//   - a slot emptied by moving a task off its node, or whose newest task was stopped by
//     the cluster or was made from an older template, is filled at once;
//   - otherwise its newest task ended on its own, and the restart policy rules: condition
//     none never restarts, on-failure does not restart a task that completed, max
//     attempts counts the restarts of the current template within the window before
//     that end, and the delay runs from that end.
func (r *Round) restartAt(hist []*swarm.Task, displaced bool) (time.Time, bool) {
	if displaced || len(hist) == 0 {
		return time.Time{}, true
	}
	newest := hist[len(hist)-1]
	if !selfEnded(newest) || !r.fromTemplate(newest) {
		return time.Time{}, true
	}
	switch r.policy.condition {
	case swarm.RestartPolicyConditionNone:
		return time.Time{}, false
	case swarm.RestartPolicyConditionOnFailure:
		if newest.Status.State == swarm.TaskStateComplete {
			return time.Time{}, false
		}
	}
	if r.policy.maxAttempts > 0 && r.restarts(hist) >= r.policy.maxAttempts {
		return time.Time{}, false
	}
	return newest.Status.Timestamp.Add(r.policy.delay), true
}

// restarts counts the restarts of the current template in a slot: every task of the
// newest run of tasks made from it but the first is one, dated by its creation, counted
// when within the window before the newest task ended.
func (r *Round) restarts(hist []*swarm.Task) uint64 {
	newest := hist[len(hist)-1]
	var since time.Time
	if r.policy.window > 0 {
		since = newest.Status.Timestamp.Add(-r.policy.window)
	}
	var n uint64
	for i := len(hist) - 1; i > 0; i-- {
		if !r.fromTemplate(hist[i-1]) {
			break // hist[i] was the first of the run: not a restart
		}
		if r.policy.window == 0 || !hist[i].CreatedAt.Before(since) {
			n++
		}
	}
	return n
}
