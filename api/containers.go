package api

import (
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/shoal/shoal/internal/apierr"
)

// containerEndpoints serve the container and exec routes from a ContainerBackend. The
// server holds no ContainerBackend of its own, so the routes close over this instead.
type containerEndpoints struct {
	backend ContainerBackend
}

// containerRoutes are the parts of Docker's /containers and /exec endpoints that exist for
// a swarm node: listing and inspecting the containers of its tasks, and exec in them.
func (s *server) containerRoutes() []route {
	backend, ok := s.backend.(ContainerBackend)
	c := containerEndpoints{backend: backend}
	routes := []route{
		{http.MethodGet, "/containers/json", c.list},
		{http.MethodGet, "/containers/{id}/json", c.inspect},
		{http.MethodPost, "/containers/{id}/exec", c.execCreate},
		{http.MethodPost, "/exec/{id}/start", c.execStart},
		{http.MethodPost, "/exec/{id}/resize", c.execResize},
		{http.MethodGet, "/exec/{id}/json", c.execInspect},
	}
	if !ok {
		return unimplemented(routes, "containers are not implemented yet")
	}
	return routes
}

func (c containerEndpoints) list(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	all, err := parseQueryBool(q, "all")
	if err != nil {
		return err
	}
	filters, err := parseContainerFilters(q.Get("filters"))
	if err != nil {
		return err
	}
	// A status filter other than running reaches stopped containers, as in Docker.
	all = all || slices.ContainsFunc(filters.Status, func(s string) bool { return s != string(container.StateRunning) })
	list, err := c.backend.ContainerList(r.Context(), all)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, filterContainers(list, filters))
}

func (c containerEndpoints) inspect(w http.ResponseWriter, r *http.Request) error {
	resp, err := c.backend.ContainerInspect(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, resp)
}

// containerListFilters are the filters `GET /containers/json` accepts, already parsed.
type containerListFilters struct {
	ID     []string         // prefixes of the ID
	Name   []*regexp.Regexp // matched against each name
	Label  []string         // "key" or "key=value"
	Status []string
}

var containerFilterNames = []string{"id", "label", "name", "status"}

var containerStatuses = []string{
	string(container.StateCreated), string(container.StateRestarting), string(container.StateRunning),
	string(container.StateRemoving), string(container.StatePaused), string(container.StateExited),
	string(container.StateDead),
}

// parseContainerFilters parses the `filters` parameter of `GET /containers/json`: names are
// regular expressions, as in Docker.
func parseContainerFilters(raw string) (containerListFilters, error) {
	args, err := parseFilters(raw, containerFilterNames)
	if err != nil {
		return containerListFilters{}, err
	}
	status, err := enumFilter(args, "status", containerStatuses...)
	if err != nil {
		return containerListFilters{}, err
	}
	f := containerListFilters{ID: args["id"], Label: args["label"], Status: status}
	for _, n := range args["name"] {
		re, err := regexp.Compile(n)
		if err != nil {
			return containerListFilters{}, apierr.Invalidf("invalid filter 'name=%s': not a regular expression: %v", n, err)
		}
		f.Name = append(f.Name, re)
	}
	return f, nil
}

// filterContainers keeps the containers that pass every filter given (any value of a filter).
func filterContainers(list []container.Summary, f containerListFilters) []container.Summary {
	out := []container.Summary{} // clients expect [], not null
	for _, c := range list {
		if len(f.ID) > 0 && !slices.ContainsFunc(f.ID, func(p string) bool { return strings.HasPrefix(c.ID, p) }) {
			continue
		}
		if len(f.Name) > 0 && !slices.ContainsFunc(f.Name, func(re *regexp.Regexp) bool {
			return slices.ContainsFunc(c.Names, func(n string) bool { return re.MatchString(strings.TrimPrefix(n, "/")) })
		}) {
			continue
		}
		if len(f.Label) > 0 && !matchLabels(c.Labels, f.Label) {
			continue
		}
		if len(f.Status) > 0 && !slices.Contains(f.Status, string(c.State)) {
			continue
		}
		out = append(out, c)
	}
	return out
}
