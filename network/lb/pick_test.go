package lb

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

var t0 = time.Unix(1000, 0)

// backendsOf makes a set from a spec like "a:1 b:2 c:1!" where :n is the weight, and a suffix
// marks the backend: ! draining, - out of the set, ? suspect until after t0.
func backendsOf(spec string) []*backend {
	var set []*backend
	for _, f := range strings.Fields(spec) {
		be := &backend{inSet: true}
		for strings.ContainsAny(f[len(f)-1:], "!-?") {
			switch f[len(f)-1] {
			case '!':
				be.draining = true
			case '-':
				be.inSet = false
			case '?':
				be.suspectUntil = t0.Add(time.Second)
			}
			f = f[:len(f)-1]
		}
		name, w, _ := strings.Cut(f, ":")
		be.id = name
		fmt.Sscan(w, &be.weight)
		set = append(set, be)
	}
	return set
}

// sequence picks n times and returns the IDs in order ("." for nil).
func sequence(set []*backend, policy Policy, n int, tried ...string) string {
	var triedBes []*backend
	for _, be := range set {
		for _, id := range tried {
			if be.id == id {
				triedBes = append(triedBes, be)
			}
		}
	}
	var next uint64
	var out strings.Builder
	for range n {
		be := pick(set, t0, triedBes, policy, &next)
		if be == nil {
			out.WriteString(".")
			continue
		}
		out.WriteString(be.id)
	}
	return out.String()
}

func TestPickRoundRobin(t *testing.T) {
	for _, tc := range []struct {
		set   string
		tried []string
		want  string
	}{
		{"a b c", nil, "abcabcabc"},
		{"a:0 b:0", nil, "ababab"}, // weight 0 means 1
		{"a:5 b:1 c:1", nil, "aabacaa" + "aabacaa"},
		{"a:2 b:1", nil, "abaaba"},
		{"a b! c", nil, "acacac"},                  // draining takes no new work
		{"a b- c", nil, "acacac"},                  // nor does a backend out of the set
		{"a? b c", nil, "bcbcbc"},                  // a suspect one waits while others remain
		{"a? b? c!", nil, "ababab"},                // ...and serves when only suspects remain
		{"a b c", []string{"a"}, "bcbcbc"},         // never one this request tried
		{"a b", []string{"a", "b"}, "..."},         // all tried: none
		{"a? b", []string{"b"}, "aaa"},             // a suspect is better than none
		{"a! b-", nil, "..."},                      // nothing serving
		{"", nil, ".."},                            // empty set
		{"x:1 y:1 z:1", []string{"y"}, "xzxzxz"},   // tried in the middle
		{"a:3 b:1", nil, "aaba" + "aaba" + "aaba"}, // smooth: no burst of three
		{"a:1 b:1 c:2", nil, "cabc" + "cabc"},      // heavier first, then spread
		{"a:1? b:1 c:1!", []string{"b"}, "aaa"},    // b tried, c draining: suspect a
		{"a:1 b:1", []string{"nobody"}, "ababab"},  // unknown tried IDs change nothing
		{"a:1 b:2! c:3-", nil, "aaaa"},             // weights of those not serving do not count
		{"o", nil, "ooo"},                          // one backend
		{"a b c d e", []string{"c"}, "abdeabde"},   // five with one tried
		{"a:2 b:2 c:1", nil, "abcab" + "abcab"},    // 2:2:1
		{"a? b? c?", []string{"a"}, "bcbc"},        // suspects in turn
		{"a!? b", nil, "bbb"},                      // draining and suspect: out
		{"a-? b?", nil, "bbb"},                     // out of the set and suspect: out
		{"a:4 b:1?", nil, "aaaa"},                  // suspect passed over despite its weight
		{"a:1 b:1 c:1 d:1", []string{"a", "b", "c"}, "ddd"},
	} {
		got := sequence(backendsOf(tc.set), RoundRobin, len(tc.want), tc.tried...)
		if got != tc.want {
			t.Errorf("pick(%q, tried %v) = %q, want %q", tc.set, tc.tried, got, tc.want)
		}
	}
}

func TestPickLeastConnections(t *testing.T) {
	for _, tc := range []struct {
		name   string
		set    string
		active map[string]int
		want   string
	}{
		{"fewest active wins", "a b c", map[string]int{"a": 3, "b": 1, "c": 2}, "b"},
		{"per unit of weight", "a:4 b:1", map[string]int{"a": 3, "b": 1}, "a"},
		{"draining is out even when idle", "a! b", map[string]int{"a": 0, "b": 9}, "b"},
		{"suspect only when nothing else", "a? b", map[string]int{"a": 0, "b": 9}, "b"},
		{"none serving", "a! b-", nil, "."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := backendsOf(tc.set)
			for _, be := range set {
				be.active = tc.active[be.id]
			}
			if got := sequence(set, LeastConnections, 1); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("ties rotate", func(t *testing.T) {
		if got := sequence(backendsOf("a b c"), LeastConnections, 6); got != "abcabc" {
			t.Errorf("equal load: %q, want abcabc", got)
		}
	})
}

// TestPickNeverChoosesWhatMayNotServe: whatever the set, weights, load, suspects and tries, pick
// returns a backend in the set, not draining and not tried; it returns nil only when there is
// no such backend; and it prefers one that is not suspect whenever there is one.
func TestPickNeverChoosesWhatMayNotServe(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 8).Draw(t, "n")
		set := make([]*backend, n)
		var tried []*backend
		for i := range set {
			be := &backend{
				id:       fmt.Sprint(i),
				weight:   rapid.IntRange(0, 5).Draw(t, "weight"),
				inSet:    rapid.Bool().Draw(t, "inSet"),
				draining: rapid.Bool().Draw(t, "draining"),
				active:   rapid.IntRange(0, 10).Draw(t, "active"),
				credit:   rapid.IntRange(-10, 10).Draw(t, "credit"),
			}
			if rapid.Bool().Draw(t, "suspect") {
				be.suspectUntil = t0.Add(time.Second)
			}
			if rapid.Bool().Draw(t, "tried") {
				tried = append(tried, be)
			}
			set[i] = be
		}
		policy := rapid.SampledFrom([]Policy{RoundRobin, LeastConnections}).Draw(t, "policy")
		next := rapid.Uint64().Draw(t, "next")

		var servable, healthy int
		for _, be := range set {
			if mayTake(be, t0, tried, true) {
				servable++
				if !be.suspectUntil.After(t0) {
					healthy++
				}
			}
		}
		got := pick(set, t0, tried, policy, &next)
		switch {
		case got == nil && servable > 0:
			t.Fatalf("picked none with %d backends able to serve", servable)
		case got == nil:
			return
		case !got.inSet || got.draining:
			t.Fatalf("picked %s: in set %v, draining %v", got.id, got.inSet, got.draining)
		case healthy > 0 && got.suspectUntil.After(t0):
			t.Fatalf("picked suspect %s with %d healthy backends left", got.id, healthy)
		}
		for _, be := range tried {
			if be == got {
				t.Fatalf("picked %s, which this request already tried", got.id)
			}
		}
	})
}
