package manager

import (
	"context"
	"testing"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/manager/store"
)

func TestViewCacheIsSharedUntilTheStoreChanges(t *testing.T) {
	st := newAllocStore(t)
	var c viewCache
	first := c.get(st)
	if again := c.get(st); again != first {
		t.Fatal("a second read at the same generation made a new view")
	}
	task := &swarm.Task{ID: "t1", ServiceID: "s1", NodeID: "n1", DesiredState: swarm.TaskStateRunning}
	if err := st.Write(context.Background(), store.Action{Op: store.OpCreate, Task: task}); err != nil {
		t.Fatal(err)
	}
	next := c.get(st)
	if next == first {
		t.Fatal("the view did not follow a store change")
	}
	if len(next.tasksByNode["n1"]) != 1 || len(next.tasksByService["s1"]) != 1 || len(first.tasksByNode["n1"]) != 0 {
		t.Errorf("views: before %v, after %v", first.tasksByNode, next.tasksByNode)
	}
	if next.network("webnet") == nil || next.network(next.network("webnet").ID) == nil || next.network("nope") != nil {
		t.Error("network lookup by name or ID is wrong")
	}
}
