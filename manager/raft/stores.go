package raft

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	hraft "github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

const (
	boltFileName = "raft.db"
	snapshotDir  = "snapshots" // made by hraft.FileSnapshotStore under DataDir

	// boltOpenTimeout bounds the wait for bolt's file lock, so a second
	// daemon on the same DataDir fails instead of hanging.
	boltOpenTimeout = time.Second

	// logCacheSize is how many recent entries are served from memory, which
	// spares bolt reads when replicating to followers.
	logCacheSize = 512
)

// stores are the three places raft keeps its state.
type stores struct {
	logs   hraft.LogStore
	stable hraft.StableStore
	snaps  hraft.SnapshotStore
	close  func() error
}

// openStores opens the on-disk stores under dataDir (created 0700), or
// in-memory ones when dataDir is "".
func openStores(dataDir string, logger hclog.Logger) (*stores, error) {
	if dataDir == "" {
		mem := hraft.NewInmemStore()
		return &stores{logs: mem, stable: mem, snaps: hraft.NewInmemSnapshotStore(), close: func() error { return nil }}, nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating raft data dir: %w", err)
	}
	bolt, err := openBolt(dataDir)
	if err != nil {
		return nil, err
	}
	cached, err := hraft.NewLogCache(logCacheSize, bolt)
	if err != nil {
		bolt.Close()
		return nil, fmt.Errorf("caching the raft log: %w", err)
	}
	snaps, err := hraft.NewFileSnapshotStoreWithLogger(dataDir, snapshotsRetained, logger)
	if err != nil {
		bolt.Close()
		return nil, fmt.Errorf("opening raft snapshots in %s: %w", filepath.Join(dataDir, snapshotDir), err)
	}
	return &stores{logs: cached, stable: bolt, snaps: snaps, close: bolt.Close}, nil
}

func openBolt(dataDir string) (*raftboltdb.BoltStore, error) {
	path := filepath.Join(dataDir, boltFileName)
	bolt, err := raftboltdb.New(raftboltdb.Options{
		Path:        path,
		BoltOptions: &bbolt.Options{Timeout: boltOpenTimeout},
	})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, fmt.Errorf("opening raft log %s: it is locked by another process (is another daemon using this data dir?)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening raft log %s: %w", path, err)
	}
	return bolt, nil
}

// HasState reports whether dataDir holds raft state (a term, log entries or
// a snapshot): a manager with state restarts into its cluster, one without
// bootstraps or waits to be added. Call it before New on that dir; while a
// Node runs there, bolt's lock makes it fail. An empty or missing dir (or "")
// has no state.
func HasState(dataDir string) (bool, error) {
	if dataDir == "" {
		return false, nil
	}
	var logs hraft.LogStore
	var stable hraft.StableStore
	switch _, err := os.Stat(filepath.Join(dataDir, boltFileName)); {
	case errors.Is(err, fs.ErrNotExist):
		mem := hraft.NewInmemStore()
		logs, stable = mem, mem
	case err != nil:
		return false, fmt.Errorf("checking raft state: %w", err)
	default:
		bolt, err := openBolt(dataDir)
		if err != nil {
			return false, err
		}
		defer bolt.Close()
		logs, stable = bolt, bolt
	}

	var snaps hraft.SnapshotStore = hraft.NewInmemSnapshotStore()
	switch _, err := os.Stat(filepath.Join(dataDir, snapshotDir)); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return false, fmt.Errorf("checking raft snapshots: %w", err)
	default:
		fss, err := hraft.NewFileSnapshotStoreWithLogger(dataDir, snapshotsRetained, hclog.NewNullLogger())
		if err != nil {
			return false, fmt.Errorf("opening raft snapshots in %s: %w", dataDir, err)
		}
		snaps = fss
	}

	has, err := hraft.HasExistingState(logs, stable, snaps)
	if err != nil {
		return false, fmt.Errorf("checking raft state in %s: %w", dataDir, err)
	}
	return has, nil
}
