package scheduler

import "sort"

// candidate is a node that passed a group's static filters, with the group's service's
// task count on it kept at hand for the heap.
type candidate struct {
	ns       *nodeState
	svcTasks int
}

// lessCandidate: fewer tasks of the service, then fewer active tasks, then lower node ID.
func lessCandidate(a, b *candidate) bool {
	if a.svcTasks != b.svcTasks {
		return a.svcTasks < b.svcTasks
	}
	if a.ns.active != b.ns.active {
		return a.ns.active < b.ns.active
	}
	return a.ns.node.ID < b.ns.node.ID
}

// branch is one node of the spread tree (swarmkit's decision tree). Each placement
// preference is one level: the nodes are split by their value of its attribute (a node
// without it has the empty value) and every level gives the next task to the branch with
// the fewest of the service's tasks. Leaves hold a min-heap of candidate nodes.
type branch struct {
	value    string
	svcTasks int // the service's tasks under this branch
	active   int // all active tasks under this branch, to break ties
	children []*branch
	nodes    []*candidate // leaves only
}

func lessBranch(a, b *branch) bool {
	if a.svcTasks != b.svcTasks {
		return a.svcTasks < b.svcTasks
	}
	if a.active != b.active {
		return a.active < b.active
	}
	return a.value < b.value
}

func buildTree(cands []*candidate, levels []attribute) *branch {
	b := &branch{}
	for _, c := range cands {
		b.svcTasks += c.svcTasks
		b.active += c.ns.active
	}
	if len(levels) == 0 {
		b.nodes = cands
		heapInit(b.nodes, lessCandidate)
		return b
	}
	byValue := map[string][]*candidate{}
	for _, c := range cands {
		v := levels[0].value(c.ns.node)
		byValue[v] = append(byValue[v], c)
	}
	values := make([]string, 0, len(byValue))
	for v := range byValue {
		values = append(values, v)
	}
	sort.Strings(values)
	for _, v := range values {
		child := buildTree(byValue[v], levels[1:])
		child.value = v
		b.children = append(b.children, child)
	}
	heapInit(b.children, lessBranch)
	return b
}

// place puts one task of g on the best node under b and returns it, or nil when no node
// under b can take it. Nodes that fail a placement-dependent filter are counted in failed
// and dropped for the rest of the group; so are branches left without nodes.
func (b *branch) place(c *cluster, g *group, failed *failureCounts) *candidate {
	if b.children == nil {
		for len(b.nodes) > 0 {
			top := b.nodes[0]
			if f := c.dynamicFailure(g, top.ns, top.svcTasks); f != filterNone {
				failed[f]++
				b.nodes = heapPop(b.nodes, lessCandidate)
				continue
			}
			c.commit(g, top.ns)
			top.svcTasks++
			heapFixTop(b.nodes, lessCandidate)
			b.svcTasks++
			b.active++
			return top
		}
		return nil
	}
	for len(b.children) > 0 {
		if cand := b.children[0].place(c, g, failed); cand != nil {
			heapFixTop(b.children, lessBranch)
			b.svcTasks++
			b.active++
			return cand
		}
		b.children = heapPop(b.children, lessBranch)
	}
	return nil
}

// A minimal binary min-heap over a slice. Keys only ever grow at the top, so fixing the
// top is a sift-down.

func heapInit[T any](h []T, less func(a, b T) bool) {
	for i := len(h)/2 - 1; i >= 0; i-- {
		siftDown(h, i, less)
	}
}

func heapFixTop[T any](h []T, less func(a, b T) bool) {
	if len(h) > 0 {
		siftDown(h, 0, less)
	}
}

func heapPop[T any](h []T, less func(a, b T) bool) []T {
	last := len(h) - 1
	h[0] = h[last]
	var zero T
	h[last] = zero
	h = h[:last]
	heapFixTop(h, less)
	return h
}

func siftDown[T any](h []T, i int, less func(a, b T) bool) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && less(h[r], h[l]) {
			m = r
		}
		if !less(h[m], h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
