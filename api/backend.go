// Package api serves the Docker Engine API (the swarm, service, task, image, network and
// container-exec subset Shoal implements) over HTTP.
// It owns routing, version negotiation, request decoding and Docker's error form; every
// decision is made by a Backend.
package api

import (
	"context"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
)

// NodeListFilters are the filters `GET /nodes` accepts, already parsed.
// Each field holds the values given for that filter name; an empty field means "any".
type NodeListFilters struct {
	ID         []string
	Label      []string // "key" or "key=value"
	Membership []string // accepted|pending
	Name       []string
	NodeLabel  []string // "key" or "key=value"
	Role       []string // manager|worker
}

// SwarmUpdateFlags are the query flags of `POST /swarm/update`.
type SwarmUpdateFlags struct {
	RotateWorkerToken      bool
	RotateManagerToken     bool
	RotateManagerUnlockKey bool
}

// Backend is what the API needs from the daemon. Errors should be *apierr.Error so the
// right status code reaches the client; anything else is a 500.
type Backend interface {
	Info(ctx context.Context) (system.Info, error)
	Version(ctx context.Context) (system.VersionResponse, error)

	SwarmInit(ctx context.Context, req swarm.InitRequest) (nodeID string, err error)
	SwarmJoin(ctx context.Context, req swarm.JoinRequest) error
	SwarmLeave(ctx context.Context, force bool) error
	SwarmInspect(ctx context.Context) (swarm.Swarm, error)
	SwarmUpdate(ctx context.Context, version uint64, spec swarm.Spec, flags SwarmUpdateFlags) error
	SwarmUnlockKey(ctx context.Context) (swarm.UnlockKeyResponse, error)
	SwarmUnlock(ctx context.Context, req swarm.UnlockRequest) error

	NodeList(ctx context.Context, filters NodeListFilters) ([]swarm.Node, error)
	NodeInspect(ctx context.Context, idOrName string) (swarm.Node, error)
	NodeUpdate(ctx context.Context, idOrName string, version uint64, spec swarm.NodeSpec) error
	NodeRemove(ctx context.Context, idOrName string, force bool) error
}

// SwarmStatusReporter may be implemented by a Backend that can say cheaply what swarm
// state this node is in; `/_ping` reports it in its Swarm header, which clients use to
// decide which commands to offer. A Backend without it is asked for Info instead.
type SwarmStatusReporter interface {
	SwarmStatus(ctx context.Context) (state swarm.LocalNodeState, controlAvailable bool)
}
