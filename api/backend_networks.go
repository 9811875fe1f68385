package api

import (
	"context"

	"github.com/moby/moby/api/types/network"
)

// NetworkListFilters are the filters `GET /networks` accepts, already parsed.
type NetworkListFilters struct {
	ID     []string
	Name   []string
	Driver []string
	Label  []string // "key" or "key=value"
	Scope  []string // swarm|local|global
	Type   []string // custom|builtin
}

// NetworkBackend is what the network endpoints need. A Backend that does not implement it
// answers those endpoints with 501 "networks are not implemented yet".
type NetworkBackend interface {
	NetworkCreate(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error)
	NetworkList(ctx context.Context, filters NetworkListFilters) ([]network.Summary, error)
	// NetworkInspect describes a network; verbose adds its services and their tasks
	// (`docker network inspect -v`).
	NetworkInspect(ctx context.Context, idOrName string, verbose bool) (network.Inspect, error)
	NetworkRemove(ctx context.Context, idOrName string) error
}
