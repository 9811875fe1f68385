package api

import (
	"context"
	"io"
	"time"

	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/swarm"
)

// ServiceListFilters are the filters `GET /services` accepts, already parsed: values sorted
// and without duplicates; an empty field means "any".
type ServiceListFilters struct {
	ID    []string
	Label []string // "key" or "key=value"
	Mode  []string // replicated|global, lower case
	Name  []string
}

// TaskListFilters are the filters `GET /tasks` accepts, already parsed as ServiceListFilters.
type TaskListFilters struct {
	ID           []string
	Label        []string // "key" or "key=value"
	Name         []string
	Node         []string // node ID or hostname
	Service      []string // service ID or name
	DesiredState []string // running|shutdown|accepted, lower case
	// UpToDate keeps only tasks running the service's current spec (the docker CLI's
	// internal "_up-to-date" filter, used to show update progress).
	UpToDate bool
}

// ServiceUpdateOptions are the query options of `POST /services/{id}/update`, normalised:
// the API refuses any other value.
type ServiceUpdateOptions struct {
	Rollback         string // "previous" to roll back to PreviousSpec (the body is then ignored); "" otherwise
	RegistryAuthFrom string // "spec" (the default) or "previous-spec"; accepted, unused
}

// LogsOptions are the query options of the logs endpoints. At least one of Stdout and
// Stderr is set; the API refuses a request that asks for neither.
type LogsOptions struct {
	Follow     bool
	Stdout     bool
	Stderr     bool
	Timestamps bool
	Details    bool
	Since      time.Time // zero: from the start
	Tail       int       // -1: all; otherwise >= 0
}

// ServiceBackend is what the service and task endpoints need. A Backend that does not
// implement it answers those endpoints with 501 "services are not implemented yet".
//
// The logs methods write to a w that sends each Write to the client at once (a follower
// sees lines as they come) and that may be written from several goroutines, each Write
// arriving whole. The response starts with the first Write, or with a Flush (w is an
// http.Flusher) for a follower with nothing to say yet; until then a returned error is
// answered with its status (404 for an unknown service), after it the API ends the
// stream with the error in a stdcopy system-error frame. They must return once ctx is
// done (the client went away) and must not touch w after returning.
type ServiceBackend interface {
	ServiceCreate(ctx context.Context, spec swarm.ServiceSpec) (swarm.ServiceCreateResponse, error)
	ServiceList(ctx context.Context, filters ServiceListFilters, withStatus bool) ([]swarm.Service, error)
	// ServiceInspect with insertDefaults fills the spec's empty fields with the values the
	// cluster would use, as `docker service inspect` and `docker service update` ask for.
	ServiceInspect(ctx context.Context, idOrName string, insertDefaults bool) (swarm.Service, error)
	ServiceUpdate(ctx context.Context, idOrName string, version uint64, spec swarm.ServiceSpec, opts ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error)
	ServiceRemove(ctx context.Context, idOrName string) error
	// ServiceLogs writes the service's output to w in Docker's multiplexed stream format
	// (stdcopy), each line prefixed with its details when opts.Details is set, as the
	// docker CLI expects.
	ServiceLogs(ctx context.Context, idOrName string, opts LogsOptions, w io.Writer) error
	// TaskLogs is ServiceLogs for one task.
	TaskLogs(ctx context.Context, taskID string, opts LogsOptions, w io.Writer) error
	TaskList(ctx context.Context, filters TaskListFilters) ([]swarm.Task, error)
	TaskInspect(ctx context.Context, id string) (swarm.Task, error)
}

// ImageImportOptions are the query options of `POST /images/create?fromSrc=`.
type ImageImportOptions struct {
	FromSrc string // "-" for the request body, or a URL
	Repo    string // may include a tag ("sleepy:1")
	Tag     string
	Changes []string // Dockerfile instructions, in the order given
	Message string
}

// ImageBackend is what the image endpoints need. A Backend that does not implement it
// answers those endpoints with 501 "images are not implemented yet".
//
// ImageImport and ImageLoad read the request body as it arrives (it is neither buffered
// nor size-limited) and write Docker's JSON progress messages (a jsonmessage stream) to a
// writer that behaves as the logs writer of ServiceBackend: each Write is flushed, the
// response starts with the first Write, an error returned before it gets its status and
// one returned after it is sent as a final {"errorDetail":...} message.
type ImageBackend interface {
	// ImageImport reads a root filesystem tarball and writes progress, ending with
	// {"status":"sha256:<id>"}.
	ImageImport(ctx context.Context, src io.Reader, opts ImageImportOptions, progress io.Writer) error
	// ImageLoad reads a docker-save or OCI archive and writes jsonmessage lines
	// ({"stream":"Loaded image: sleepy:1\n"}) to out.
	ImageLoad(ctx context.Context, archive io.Reader, quiet bool, out io.Writer) error
	ImageList(ctx context.Context, all bool) ([]image.Summary, error)
	// ImageRemove takes a reference as the client gave it: an ID, a name, name:tag or
	// name@digest, possibly with slashes ("library/sleepy:1").
	ImageRemove(ctx context.Context, ref string, force, noPrune bool) ([]image.DeleteResponse, error)
	DistributionInspect(ctx context.Context, ref string) (registry.DistributionInspect, error)
	// ImageInspect describes one image (`docker image inspect`).
	ImageInspect(ctx context.Context, ref string) (image.InspectResponse, error)
}
