package api

import (
	"context"
	"io"
	"time"

	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/swarm"
)

// ServiceListFilters are the filters `GET /services` accepts.
type ServiceListFilters struct {
	ID    []string
	Label []string // "key" or "key=value"
	Mode  []string // replicated|global
	Name  []string
}

// TaskListFilters are the filters `GET /tasks` accepts.
type TaskListFilters struct {
	ID           []string
	Label        []string
	Name         []string
	Node         []string // node ID or hostname
	Service      []string // service ID or name
	DesiredState []string // running|shutdown|accepted
}

// ServiceUpdateOptions are the query options of `POST /services/{id}/update`.
type ServiceUpdateOptions struct {
	Rollback         string // "previous" to roll back to PreviousSpec
	RegistryAuthFrom string // spec|previous-spec; accepted, unused
}

// LogsOptions are the query options of the logs endpoints.
type LogsOptions struct {
	Follow     bool
	Stdout     bool
	Stderr     bool
	Timestamps bool
	Details    bool
	Since      time.Time // zero: from the start
	Tail       int       // -1: all
}

// ServiceBackend is what the service and task endpoints need. A Backend that does not
// implement it answers those endpoints with 501 "not implemented yet".
type ServiceBackend interface {
	ServiceCreate(ctx context.Context, spec swarm.ServiceSpec) (swarm.ServiceCreateResponse, error)
	ServiceList(ctx context.Context, filters ServiceListFilters, withStatus bool) ([]swarm.Service, error)
	ServiceInspect(ctx context.Context, idOrName string) (swarm.Service, error)
	ServiceUpdate(ctx context.Context, idOrName string, version uint64, spec swarm.ServiceSpec, opts ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error)
	ServiceRemove(ctx context.Context, idOrName string) error
	// ServiceLogs writes the service's (or with a task ID, that task's) output to w in
	// Docker's multiplexed stream format (stdcopy), each line prefixed with its details
	// when opts.Details is set, as the docker CLI expects.
	ServiceLogs(ctx context.Context, idOrName string, opts LogsOptions, w io.Writer) error
	TaskLogs(ctx context.Context, taskID string, opts LogsOptions, w io.Writer) error
	TaskList(ctx context.Context, filters TaskListFilters) ([]swarm.Task, error)
	TaskInspect(ctx context.Context, id string) (swarm.Task, error)
}

// ImageImportOptions are the query options of `POST /images/create?fromSrc=`.
type ImageImportOptions struct {
	FromSrc string // "-" for the request body, or a URL
	Repo    string
	Tag     string
	Changes []string
	Message string
}

// ImageBackend is what the image endpoints need. A Backend that does not implement it
// answers those endpoints with 501 "not implemented yet".
type ImageBackend interface {
	// ImageImport reads a root filesystem tarball and writes Docker's JSON progress
	// messages (jsonmessage stream) to progress, ending with {"status":"sha256:<id>"}.
	ImageImport(ctx context.Context, src io.Reader, opts ImageImportOptions, progress io.Writer) error
	// ImageLoad reads a docker-save or OCI archive and writes jsonmessage lines
	// ({"stream":"Loaded image: sleepy:1\n"}) to out.
	ImageLoad(ctx context.Context, archive io.Reader, quiet bool, out io.Writer) error
	ImageList(ctx context.Context, all bool) ([]image.Summary, error)
	ImageRemove(ctx context.Context, ref string, force, noPrune bool) ([]image.DeleteResponse, error)
	DistributionInspect(ctx context.Context, ref string) (registry.DistributionInspect, error)
}
