package api

import (
	"io"
	"net/http"

	"github.com/moby/moby/api/types/swarm"
)

// taskRoutes are served by the ServiceBackend, as tasks exist only as parts of services.
func (s *server) taskRoutes() []route {
	routes := []route{
		{http.MethodGet, "/tasks", s.taskList},
		{http.MethodGet, "/tasks/{id}", s.taskInspect},
		{http.MethodGet, "/tasks/{id}/logs", s.taskLogs},
	}
	if s.services == nil {
		return unimplemented(routes, "services are not implemented yet")
	}
	return routes
}

func (s *server) taskList(w http.ResponseWriter, r *http.Request) error {
	filters, err := parseTaskFilters(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	tasks, err := s.services.TaskList(r.Context(), filters)
	if err != nil {
		return err
	}
	if tasks == nil {
		tasks = []swarm.Task{} // clients expect [], not null
	}
	return writeJSON(w, http.StatusOK, tasks)
}

func (s *server) taskInspect(w http.ResponseWriter, r *http.Request) error {
	task, err := s.services.TaskInspect(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, task)
}

func (s *server) taskLogs(w http.ResponseWriter, r *http.Request) error {
	opts, err := parseLogsOptions(r.URL.Query())
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	return streamLogs(w, r, func(out io.Writer) error {
		return s.services.TaskLogs(r.Context(), id, opts, out)
	})
}
