package manager

import (
	"sync"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/manager/store"
)

// clusterView is one read of everything the nodes' assignments are made from, indexed
// for them. Every node's long-poll wakes at each store change; they share one view per
// store generation instead of each reading (and deep-copying) the whole store.
type clusterView struct {
	gen            uint64
	nodes          []*swarm.Node // sorted by ID
	services       []*swarm.Service
	serviceByID    map[string]*swarm.Service
	networks       []*swarm.Network
	networkByName  map[string]*swarm.Network
	tasks          []*swarm.Task // sorted by ID
	tasksByNode    map[string][]*swarm.Task
	tasksByService map[string][]*swarm.Task
	nodeAtts       []*store.NodeAttachment
}

// viewCache keeps the newest view. The views are shared: nobody may modify them.
type viewCache struct {
	mu   sync.Mutex
	view *clusterView
}

// get returns a view at least as new as the store's generation when called.
func (c *viewCache) get(st *store.Store) *clusterView {
	gen := st.Generation()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.view != nil && c.view.gen >= gen {
		return c.view
	}
	c.view = readClusterView(st, gen)
	return c.view
}

func readClusterView(st *store.Store, gen uint64) *clusterView {
	v := &clusterView{
		gen:            gen,
		nodes:          st.Nodes(),
		services:       st.Services(),
		serviceByID:    map[string]*swarm.Service{},
		networks:       st.Networks(),
		networkByName:  map[string]*swarm.Network{},
		tasks:          st.Tasks(),
		tasksByNode:    map[string][]*swarm.Task{},
		tasksByService: map[string][]*swarm.Task{},
		nodeAtts:       st.NodeAttachments(),
	}
	for _, s := range v.services {
		v.serviceByID[s.ID] = s
	}
	for _, n := range v.networks {
		v.networkByName[n.Spec.Name] = n
	}
	for _, t := range v.tasks {
		if t.NodeID != "" {
			v.tasksByNode[t.NodeID] = append(v.tasksByNode[t.NodeID], t)
		}
		v.tasksByService[t.ServiceID] = append(v.tasksByService[t.ServiceID], t)
	}
	return v
}

// network finds a network by ID or name, as a service's spec may name it either way.
func (v *clusterView) network(ref string) *swarm.Network {
	for _, n := range v.networks {
		if n.ID == ref {
			return n
		}
	}
	return v.networkByName[ref]
}
