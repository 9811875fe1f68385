// Package dispatcher is the leader's view of node liveness: it takes every node's
// heartbeats, tells each node its period and role, and marks nodes Down when they fall
// silent for three periods and Ready when they come back. Heartbeats are kept in memory
// on the leader; only state changes go through Raft.
package dispatcher

import (
	"sort"
	"time"
)

// MissedPeriods is how many heartbeat periods a node may miss before it is Down.
const MissedPeriods = 3

// Tracker holds each node's heartbeat deadline. It is pure: callers pass the time.
// It is not safe for concurrent use.
type Tracker struct {
	deadline map[string]time.Time
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker { return &Tracker{deadline: map[string]time.Time{}} }

// LeaderChangeGrace is how many heartbeat periods a new leader waits for a node it has not
// heard from yet. After a leader change every node must first give up on its old manager
// and then find the new leader, so, as swarmkit does for nodes in its "unknown" state,
// they get twice the usual window; their first heartbeat puts them back on the usual one.
const LeaderChangeGrace = 2 * MissedPeriods

// Reset starts tracking ids afresh, each with a LeaderChangeGrace window from now. A new
// leader calls it so that nodes that were healthy under the old leader are not marked
// Down before they have had the chance to find the new one.
func (t *Tracker) Reset(ids []string, now time.Time, period time.Duration) {
	t.deadline = make(map[string]time.Time, len(ids))
	for _, id := range ids {
		t.deadline[id] = now.Add(LeaderChangeGrace * period)
	}
}

// Beat records a heartbeat from id.
func (t *Tracker) Beat(id string, now time.Time, period time.Duration) {
	t.deadline[id] = now.Add(MissedPeriods * period)
}

// Track starts tracking id with a full grace window unless it is already tracked.
func (t *Tracker) Track(id string, now time.Time, period time.Duration) {
	if _, ok := t.deadline[id]; !ok {
		t.deadline[id] = now.Add(MissedPeriods * period)
	}
}

// Forget stops tracking id (the node was removed).
func (t *Tracker) Forget(id string) { delete(t.deadline, id) }

// Alive says whether id's deadline has not passed.
func (t *Tracker) Alive(id string, now time.Time) bool {
	d, ok := t.deadline[id]
	return ok && now.Before(d)
}

// Expired lists, sorted, the nodes whose deadline has passed.
func (t *Tracker) Expired(now time.Time) []string {
	var out []string
	for id, d := range t.deadline {
		if !now.Before(d) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}
