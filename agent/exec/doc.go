// Package exec is the edge between a node's agent and whatever runs its tasks. It owns the
// Executor and Controller interfaces a runtime implements (agent/exec/runc runs OCI containers
// through runc; agent/exec/exectest is an in-memory fake for control-plane tests), the
// task state machine (Advance: a task's observed state only moves forward), and the pure
// rules every runtime shares: how a task's command line, environment, stop signal and health
// check follow from its ContainerSpec and its image, the way docker resolves them.
//
// The shape follows swarmkit's agent/exec/controller.go: the agent makes one Controller per
// task and drives it through Prepare, Start, Wait, Shutdown and Remove; the daemon also uses
// a task's Controller to Exec commands in its running container (`docker exec`). Every operation is
// idempotent against what really exists, so that an agent that restarts can make controllers
// for the tasks it finds (Executor.List) and carry on: Prepare on a prepared task says
// ErrTaskPrepared, Start on a started one ErrTaskStarted, Remove on a removed one succeeds.
package exec
