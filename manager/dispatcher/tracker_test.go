package dispatcher

import (
	"reflect"
	"testing"
	"time"
)

func TestTrackerDecisions(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := 5 * time.Second
	tests := []struct {
		name string
		run  func(tr *Tracker)
		at   time.Duration
		want []string
	}{
		{"fresh reset gives a doubled grace window", func(tr *Tracker) { tr.Reset([]string{"a", "b"}, t0, p) }, 29 * time.Second, nil},
		{"silent through the reset grace is expired", func(tr *Tracker) { tr.Reset([]string{"a", "b"}, t0, p) }, 30 * time.Second, []string{"a", "b"}},
		{"a beat after a reset restores the usual three periods", func(tr *Tracker) {
			tr.Reset([]string{"a", "b"}, t0, p)
			tr.Beat("a", t0, p)
		}, 15 * time.Second, []string{"a"}},
		{"a beat pushes the deadline", func(tr *Tracker) {
			tr.Reset([]string{"a", "b"}, t0, p)
			tr.Beat("a", t0.Add(20*time.Second), p)
		}, 30 * time.Second, []string{"b"}},
		{"track does not shorten an existing deadline", func(tr *Tracker) {
			tr.Beat("a", t0.Add(10*time.Second), p)
			tr.Track("a", t0, p)
		}, 20 * time.Second, nil},
		{"forgotten nodes never expire", func(tr *Tracker) {
			tr.Reset([]string{"a"}, t0, p)
			tr.Forget("a")
		}, time.Hour, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker()
			tc.run(tr)
			if got := tr.Expired(t0.Add(tc.at)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Expired = %v, want %v", got, tc.want)
			}
		})
	}
}
