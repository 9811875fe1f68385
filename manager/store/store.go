// Package store owns the managers' replicated cluster state: an in-memory indexed
// database (go-memdb) whose writes are proposed through a Proposer (Raft, in the daemon)
// and applied, in log order, on every manager by Apply. Reads are local and never block
// on consensus. Every object carries a version; an update whose version is stale is
// refused when it is applied, so concurrent writers on different managers cannot lose
// each other's changes.
package store

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/internal/apierr"
)

// Proposer carries an encoded proposal to every manager. Raft implements it: the call
// returns once the proposal is committed and applied (and then returns Apply's error) or
// when it cannot be (no quorum, timeout).
type Proposer interface {
	Propose(ctx context.Context, cmd []byte) error
}

// Cluster is the one cluster object: the swarm as Docker shows it plus the secrets only
// managers hold (the root CA key), replicated so any manager can sign certificates.
type Cluster struct {
	swarm.Swarm
	RootCACertPEM []byte
	RootCAKeyPEM  []byte
}

// RemovedNode remembers a node that was removed, so its certificate is refused forever.
type RemovedNode struct {
	ID        string
	RemovedAt time.Time
}

// NodeAttachment is a node's own address on a network: its ingress endpoint, through
// which the routing mesh reaches tasks on any node.
type NodeAttachment struct {
	ID        string // the node ID
	NetworkID string
	Addr      netip.Prefix
}

// Op is what an Action does to its object.
type Op string

const (
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
)

// Action is one change in a proposal; exactly one object field is set.
// For OpUpdate and OpDelete the object's Version must be the one stored.
type Action struct {
	Op          Op
	Cluster     *Cluster       `json:",omitempty"`
	Node        *swarm.Node    `json:",omitempty"`
	RemovedNode *RemovedNode   `json:",omitempty"`
	Service     *swarm.Service `json:",omitempty"`
	Task        *swarm.Task    `json:",omitempty"`
	Network     *swarm.Network `json:",omitempty"`
	// NodeAttachment is written without versions: only the leader's allocator writes it.
	NodeAttachment *NodeAttachment `json:",omitempty"`
}

// proposal is what travels through Raft: a batch of actions applied atomically, stamped
// with the proposer's clock so every manager records the same times.
type proposal struct {
	Actions []Action
	Time    time.Time
}

const (
	tableCluster  = "cluster"
	tableNodes    = "nodes"
	tableRemoved  = "removed"
	tableServices = "services"
	tableTasks    = "tasks"
	tableNetworks = "networks"
	tableNodeAtt  = "nodeattachments"
)

func schema() *memdb.DBSchema {
	byID := func() map[string]*memdb.IndexSchema {
		return map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
		}
	}
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableCluster: {Name: tableCluster, Indexes: byID()},
		tableNodes:   {Name: tableNodes, Indexes: byID()},
		tableRemoved: {Name: tableRemoved, Indexes: byID()},
		tableNodeAtt: {Name: tableNodeAtt, Indexes: byID()},
		tableServices: {Name: tableServices, Indexes: map[string]*memdb.IndexSchema{
			"id":   {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
			"name": {Name: "name", Unique: true, Indexer: &nameIndex{}},
		}},
		tableNetworks: {Name: tableNetworks, Indexes: map[string]*memdb.IndexSchema{
			"id":   {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
			"name": {Name: "name", Unique: true, Indexer: &nameIndex{}},
		}},
		tableTasks: {Name: tableTasks, Indexes: map[string]*memdb.IndexSchema{
			"id":      {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
			"service": {Name: "service", AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "ServiceID"}},
			"node":    {Name: "node", AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "NodeID"}},
		}},
	}}
}

// Store is the replicated state of one manager.
type Store struct {
	proposer Proposer
	now      func() time.Time

	mu      sync.Mutex // guards db swaps (Restore) and changed
	db      *memdb.MemDB
	changed chan struct{} // closed and replaced after every applied change
	gen     atomic.Uint64 // counts applied changes (and restores)
}

// New returns an empty store that proposes writes through p.
func New(p Proposer, now func() time.Time) *Store {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		panic(fmt.Sprintf("store schema is invalid: %v", err)) // a programming error
	}
	if now == nil {
		now = time.Now
	}
	return &Store{proposer: p, now: now, db: db, changed: make(chan struct{})}
}

// SetProposer sets the proposer after construction (Raft needs the store as its FSM first).
func (s *Store) SetProposer(p Proposer) { s.proposer = p }

// Changed returns a channel closed at the next applied change.
func (s *Store) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Generation counts the changes applied so far: equal generations mean equal contents,
// so a reader may keep what it derived from the store until the generation moves.
func (s *Store) Generation() uint64 { return s.gen.Load() }

func (s *Store) notify() {
	s.gen.Add(1)
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *Store) memdb() *memdb.MemDB {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db
}

// Write proposes actions and waits until they are applied on this cluster.
func (s *Store) Write(ctx context.Context, actions ...Action) error {
	if s.proposer == nil {
		return apierr.Unavailablef("this node is not a swarm manager")
	}
	cmd, err := json.Marshal(proposal{Actions: actions, Time: s.now().UTC()})
	if err != nil {
		return fmt.Errorf("encoding proposal: %w", err)
	}
	return s.proposer.Propose(ctx, cmd)
}

// Apply applies one committed proposal at log index. It is deterministic: every
// manager gets the same result. The error, if any, is the proposer's answer; nothing
// of a refused proposal is applied.
func (s *Store) Apply(index uint64, cmd []byte) error {
	var p proposal
	if err := json.Unmarshal(cmd, &p); err != nil {
		return fmt.Errorf("decoding proposal at index %d: %w", index, err)
	}
	txn := s.memdb().Txn(true)
	defer txn.Abort()
	for _, a := range p.Actions {
		if err := applyAction(txn, index, p.Time, a); err != nil {
			return err
		}
	}
	txn.Commit()
	s.notify()
	return nil
}

func applyAction(txn *memdb.Txn, index uint64, at time.Time, a Action) error {
	var (
		table string
		id    string
		meta  *swarm.Meta
		obj   any
	)
	switch {
	case a.Cluster != nil:
		table, id, meta, obj = tableCluster, a.Cluster.ID, &a.Cluster.Meta, a.Cluster
	case a.Node != nil:
		table, id, meta, obj = tableNodes, a.Node.ID, &a.Node.Meta, a.Node
	case a.RemovedNode != nil:
		table, id, obj = tableRemoved, a.RemovedNode.ID, a.RemovedNode
	case a.NodeAttachment != nil:
		table, id, obj = tableNodeAtt, a.NodeAttachment.ID, a.NodeAttachment
	case a.Service != nil:
		table, id, meta, obj = tableServices, a.Service.ID, &a.Service.Meta, a.Service
		if a.Op == OpCreate {
			if other, _ := txn.First(tableServices, "name", a.Service.Spec.Name); other != nil {
				return apierr.Conflictf("service %s already exists", a.Service.Spec.Name)
			}
		}
	case a.Task != nil:
		table, id, meta, obj = tableTasks, a.Task.ID, &a.Task.Meta, a.Task
	case a.Network != nil:
		table, id, meta, obj = tableNetworks, a.Network.ID, &a.Network.Meta, a.Network
		if a.Op == OpCreate {
			if other, _ := txn.First(tableNetworks, "name", a.Network.Spec.Name); other != nil {
				return apierr.Conflictf("network with name %s already exists", a.Network.Spec.Name)
			}
		}
	default:
		return apierr.Invalidf("proposal action %q names no object", a.Op)
	}
	existing, err := txn.First(table, "id", id)
	if err != nil {
		return fmt.Errorf("looking up %s %s: %w", table, id, err)
	}
	if meta != nil && existing != nil && a.Op != OpCreate {
		if stored := metaOf(existing); stored.Version.Index != meta.Version.Index {
			return apierr.Conflictf("update out of sequence: %s %s is at version %d, the change was made against version %d; read it again and retry",
				kindName(table), id, stored.Version.Index, meta.Version.Index)
		}
	}
	switch a.Op {
	case OpCreate:
		if existing != nil {
			return apierr.Conflictf("%s %s already exists", kindName(table), id)
		}
		if meta != nil {
			meta.CreatedAt, meta.UpdatedAt, meta.Version.Index = at, at, index
		}
		return txn.Insert(table, obj)
	case OpUpdate:
		if existing == nil {
			return apierr.NotFoundf("No such %s: %s", kindName(table), id)
		}
		if meta != nil {
			meta.CreatedAt = metaOf(existing).CreatedAt
			meta.UpdatedAt, meta.Version.Index = at, index
		}
		return txn.Insert(table, obj)
	case OpDelete:
		if existing == nil {
			return apierr.NotFoundf("No such %s: %s", kindName(table), id)
		}
		return txn.Delete(table, existing)
	}
	return apierr.Invalidf("unknown proposal op %q", a.Op)
}

func metaOf(obj any) swarm.Meta {
	switch o := obj.(type) {
	case *Cluster:
		return o.Meta
	case *swarm.Node:
		return o.Meta
	case *swarm.Service:
		return o.Meta
	case *swarm.Task:
		return o.Meta
	case *swarm.Network:
		return o.Meta
	}
	return swarm.Meta{}
}

func kindName(table string) string {
	switch table {
	case tableNodes:
		return "node"
	case tableRemoved:
		return "removed node"
	case tableServices:
		return "service"
	case tableTasks:
		return "task"
	case tableNetworks:
		return "network"
	}
	return table
}

// snapshot is the serialized form of the whole store.
type snapshot struct {
	Clusters []*Cluster
	Nodes    []*swarm.Node
	Removed  []*RemovedNode
	Services []*swarm.Service
	Tasks    []*swarm.Task
	Networks []*swarm.Network
	NodeAtts []*NodeAttachment
}

// Snapshot serializes the whole store (for Raft snapshots).
func (s *Store) Snapshot() ([]byte, error) {
	tx := s.memdb().Txn(false)
	var snap snapshot
	snap.Clusters = all[*Cluster](tx, tableCluster)
	snap.Nodes = all[*swarm.Node](tx, tableNodes)
	snap.Removed = all[*RemovedNode](tx, tableRemoved)
	snap.Services = all[*swarm.Service](tx, tableServices)
	snap.Tasks = all[*swarm.Task](tx, tableTasks)
	snap.Networks = all[*swarm.Network](tx, tableNetworks)
	snap.NodeAtts = all[*NodeAttachment](tx, tableNodeAtt)
	return json.Marshal(snap)
}

// Restore replaces the whole store with a snapshot.
func (s *Store) Restore(data []byte) error {
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("decoding store snapshot: %w", err)
	}
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return err
	}
	txn := db.Txn(true)
	for _, c := range snap.Clusters {
		if err := txn.Insert(tableCluster, c); err != nil {
			return err
		}
	}
	for _, n := range snap.Nodes {
		if err := txn.Insert(tableNodes, n); err != nil {
			return err
		}
	}
	for _, r := range snap.Removed {
		if err := txn.Insert(tableRemoved, r); err != nil {
			return err
		}
	}
	for _, o := range snap.Services {
		if err := txn.Insert(tableServices, o); err != nil {
			return err
		}
	}
	for _, o := range snap.Tasks {
		if err := txn.Insert(tableTasks, o); err != nil {
			return err
		}
	}
	for _, o := range snap.Networks {
		if err := txn.Insert(tableNetworks, o); err != nil {
			return err
		}
	}
	for _, o := range snap.NodeAtts {
		if err := txn.Insert(tableNodeAtt, o); err != nil {
			return err
		}
	}
	txn.Commit()
	s.mu.Lock()
	s.db = db
	s.mu.Unlock()
	s.notify()
	return nil
}

func all[T any](tx *memdb.Txn, table string) []T {
	it, err := tx.Get(table, "id")
	if err != nil {
		return nil
	}
	var out []T
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, o.(T))
	}
	return out
}

// The read side. Objects returned are copies: callers may change them freely.

// Cluster returns the cluster object, or a NotFound error before swarm init completes.
func (s *Store) Cluster() (*Cluster, error) {
	tx := s.memdb().Txn(false)
	cs := all[*Cluster](tx, tableCluster)
	if len(cs) == 0 {
		return nil, apierr.Unavailablef("the swarm has no cluster object yet")
	}
	return clone(cs[0]), nil
}

// Nodes returns every node, sorted by ID.
func (s *Store) Nodes() []*swarm.Node {
	nodes := all[*swarm.Node](s.memdb().Txn(false), tableNodes)
	out := make([]*swarm.Node, len(nodes))
	for i, n := range nodes {
		out[i] = clone(n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Node returns the node with that exact ID.
func (s *Store) Node(id string) (*swarm.Node, error) {
	o, err := s.memdb().Txn(false).First(tableNodes, "id", id)
	if err != nil || o == nil {
		return nil, apierr.NotFoundf("No such node: %s", id)
	}
	return clone(o.(*swarm.Node)), nil
}

// IsRemoved says whether a node ID was removed from the swarm.
func (s *Store) IsRemoved(id string) bool {
	o, err := s.memdb().Txn(false).First(tableRemoved, "id", id)
	return err == nil && o != nil
}

// clone deep-copies through JSON: objects are small and this keeps stored values immutable.
func clone[T any](v *T) *T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("cloning %T: %v", v, err))
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		panic(fmt.Sprintf("cloning %T: %v", v, err))
	}
	return out
}

// UpdateNode reads node id, lets change modify it, and writes it back, retrying when
// another writer got there first. change may return an error to abandon the update.
func (s *Store) UpdateNode(ctx context.Context, id string, change func(*swarm.Node) error) error {
	for attempt := 0; ; attempt++ {
		n, err := s.Node(id)
		if err != nil {
			return err
		}
		if err := change(n); err != nil {
			return err
		}
		err = s.Write(ctx, Action{Op: OpUpdate, Node: n})
		if apierr.KindOf(err) != apierr.KindConflict || attempt >= 5 {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// nameIndex indexes services and networks by Spec.Name (unique cluster-wide).
type nameIndex struct{}

func (nameIndex) FromObject(obj any) (bool, []byte, error) {
	var name string
	switch o := obj.(type) {
	case *swarm.Service:
		name = o.Spec.Name
	case *swarm.Network:
		name = o.Spec.Name
	}
	if name == "" {
		return false, nil, nil
	}
	return true, []byte(name + "\x00"), nil
}

func (nameIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("name index takes one argument")
	}
	name, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("name must be a string, not %T", args[0])
	}
	return []byte(name + "\x00"), nil
}

// Services returns every service, sorted by ID.
func (s *Store) Services() []*swarm.Service {
	return cloneAll(all[*swarm.Service](s.memdb().Txn(false), tableServices), func(v *swarm.Service) string { return v.ID })
}

// Service returns the service with that exact ID.
func (s *Store) Service(id string) (*swarm.Service, error) {
	o, err := s.memdb().Txn(false).First(tableServices, "id", id)
	if err != nil || o == nil {
		return nil, apierr.NotFoundf("service %s not found", id)
	}
	return clone(o.(*swarm.Service)), nil
}

// ServiceByName returns the service with that name.
func (s *Store) ServiceByName(name string) (*swarm.Service, error) {
	o, err := s.memdb().Txn(false).First(tableServices, "name", name)
	if err != nil || o == nil {
		return nil, apierr.NotFoundf("service %s not found", name)
	}
	return clone(o.(*swarm.Service)), nil
}

// Tasks returns every task, sorted by ID.
func (s *Store) Tasks() []*swarm.Task {
	return cloneAll(all[*swarm.Task](s.memdb().Txn(false), tableTasks), func(v *swarm.Task) string { return v.ID })
}

// TasksOfService returns a service's tasks, sorted by ID.
func (s *Store) TasksOfService(serviceID string) []*swarm.Task {
	return s.tasksBy("service", serviceID)
}

// TasksOfNode returns the tasks assigned to a node, sorted by ID.
func (s *Store) TasksOfNode(nodeID string) []*swarm.Task {
	return s.tasksBy("node", nodeID)
}

func (s *Store) tasksBy(index, value string) []*swarm.Task {
	it, err := s.memdb().Txn(false).Get(tableTasks, index, value)
	if err != nil {
		return nil
	}
	var out []*swarm.Task
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, o.(*swarm.Task))
	}
	return cloneAll(out, func(v *swarm.Task) string { return v.ID })
}

// Task returns the task with that exact ID.
func (s *Store) Task(id string) (*swarm.Task, error) {
	o, err := s.memdb().Txn(false).First(tableTasks, "id", id)
	if err != nil || o == nil {
		return nil, apierr.NotFoundf("task %s not found", id)
	}
	return clone(o.(*swarm.Task)), nil
}

func cloneAll[T any](in []*T, id func(*T) string) []*T {
	out := make([]*T, len(in))
	for i, v := range in {
		out[i] = clone(v)
	}
	sort.Slice(out, func(i, j int) bool { return id(out[i]) < id(out[j]) })
	return out
}

// Networks returns every network, sorted by ID.
func (s *Store) Networks() []*swarm.Network {
	return cloneAll(all[*swarm.Network](s.memdb().Txn(false), tableNetworks), func(v *swarm.Network) string { return v.ID })
}

// Network returns the network with that exact ID.
func (s *Store) Network(id string) (*swarm.Network, error) {
	o, err := s.memdb().Txn(false).First(tableNetworks, "id", id)
	if err != nil || o == nil {
		return nil, apierr.NotFoundf("network %s not found", id)
	}
	return clone(o.(*swarm.Network)), nil
}

// NetworkByName returns the network with that name.
func (s *Store) NetworkByName(name string) (*swarm.Network, error) {
	o, err := s.memdb().Txn(false).First(tableNetworks, "name", name)
	if err != nil || o == nil {
		return nil, apierr.NotFoundf("network %s not found", name)
	}
	return clone(o.(*swarm.Network)), nil
}

// NodeAttachments returns every node's network attachment, sorted by node ID.
func (s *Store) NodeAttachments() []*NodeAttachment {
	return cloneAll(all[*NodeAttachment](s.memdb().Txn(false), tableNodeAtt), func(v *NodeAttachment) string { return v.ID })
}
