package lb

import (
	"fmt"
	"time"
)

// Policy is how a Balancer chooses among the backends that may take new work.
type Policy int

const (
	// RoundRobin takes backends in turn, in proportion to their weights (smooth weighted round
	// robin, as nginx does: no bursts to one backend).
	RoundRobin Policy = iota
	// LeastConnections takes the backend with the least work in flight per unit of weight; ties
	// go round.
	LeastConnections
)

func (p Policy) String() string {
	switch p {
	case RoundRobin:
		return "round-robin"
	case LeastConnections:
		return "least-connections"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// pick chooses the backend for one new connection or request, or nil when none may take it.
//
// A backend may take new work when it is in the set, not draining, and not in tried (the
// backends this connection or request already failed on). Among those, backends whose last dial
// failed within their suspect window (suspectUntil after now) are chosen only if no other is
// left. pick is a pure decision: it reads no clock, takes no lock (the caller holds
// Balancer.mu) and does no I/O; it advances the round-robin state it is given (the backends'
// credits and *next).
func pick(set []*backend, now time.Time, tried []*backend, policy Policy, next *uint64) *backend {
	if be := pickAmong(set, now, tried, policy, next, false); be != nil {
		return be
	}
	return pickAmong(set, now, tried, policy, next, true)
}

// mayTake says whether be may take new work now; suspect backends only when allowSuspect.
func mayTake(be *backend, now time.Time, tried []*backend, allowSuspect bool) bool {
	if be.retiring() {
		return false
	}
	if !allowSuspect && be.suspectUntil.After(now) {
		return false
	}
	for _, t := range tried {
		if t == be {
			return false
		}
	}
	return true
}

func pickAmong(set []*backend, now time.Time, tried []*backend, policy Policy, next *uint64, allowSuspect bool) *backend {
	switch policy {
	case LeastConnections:
		return pickLeastConnections(set, now, tried, next, allowSuspect)
	default:
		return pickRoundRobin(set, now, tried, allowSuspect)
	}
}

// pickRoundRobin is smooth weighted round robin: every candidate earns its weight in credit,
// the richest is chosen and pays the total back.
func pickRoundRobin(set []*backend, now time.Time, tried []*backend, allowSuspect bool) *backend {
	var best *backend
	total := 0
	for _, be := range set {
		if !mayTake(be, now, tried, allowSuspect) {
			continue
		}
		w := weightOf(be)
		be.credit += w
		total += w
		if best == nil || be.credit > best.credit {
			best = be
		}
	}
	if best != nil {
		best.credit -= total
	}
	return best
}

// pickLeastConnections takes the candidate with the least active work per weight, starting the
// scan one further each time so that ties rotate.
func pickLeastConnections(set []*backend, now time.Time, tried []*backend, next *uint64, allowSuspect bool) *backend {
	n := len(set)
	if n == 0 {
		return nil
	}
	start := int(*next % uint64(n))
	*next++
	var best *backend
	for i := range n {
		be := set[(start+i)%n]
		if !mayTake(be, now, tried, allowSuspect) {
			continue
		}
		// be.active/w(be) < best.active/w(best), without division.
		if best == nil || be.active*weightOf(best) < best.active*weightOf(be) {
			best = be
		}
	}
	return best
}

func weightOf(be *backend) int {
	if be.weight <= 0 {
		return 1
	}
	return be.weight
}
