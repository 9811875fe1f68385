package raft

import (
	"fmt"
	"io"

	hraft "github.com/hashicorp/raft"
)

// FSM is the replicated state machine, implemented by the store. Raft calls
// Apply, Snapshot and Restore from one goroutine, never concurrently.
type FSM interface {
	// Apply applies the committed command at index. It must be
	// deterministic: every manager applies the same commands in the same
	// order and must reach the same state. The error it returns is the
	// answer to the proposer (say, a version conflict), not a raft failure;
	// the entry stays committed either way.
	Apply(index uint64, cmd []byte) error

	// Snapshot returns the whole state as bytes. The slice must not be
	// changed afterwards: raft writes it to disk while Apply goes on.
	Snapshot() ([]byte, error)

	// Restore replaces the whole state with a snapshot's bytes.
	Restore(data []byte) error
}

// fsmAdapter presents an FSM as hashicorp/raft's FSM.
type fsmAdapter struct {
	fsm FSM
}

// Apply returns the FSM's error (or nil) as the log's response, which
// Propose hands back to the proposer.
func (a fsmAdapter) Apply(l *hraft.Log) any {
	return a.fsm.Apply(l.Index, l.Data)
}

func (a fsmAdapter) Snapshot() (hraft.FSMSnapshot, error) {
	data, err := a.fsm.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("snapshotting the state: %w", err)
	}
	return bytesSnapshot(data), nil
}

func (a fsmAdapter) Restore(r io.ReadCloser) error {
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("reading the snapshot: %w", err)
	}
	if err := a.fsm.Restore(data); err != nil {
		return fmt.Errorf("restoring the state from a snapshot: %w", err)
	}
	return nil
}

// bytesSnapshot is a point-in-time copy of the state, written out by raft
// off the FSM goroutine.
type bytesSnapshot []byte

func (s bytesSnapshot) Persist(sink hraft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("writing the snapshot: %w", err)
	}
	return sink.Close()
}

func (bytesSnapshot) Release() {}
