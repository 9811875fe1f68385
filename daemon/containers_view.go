package daemon

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"

	"github.com/shoal/shoal/agent/exec"
	"github.com/shoal/shoal/internal/apierr"
)

// The pure half of the container view: names, lookup and Docker's shapes, from what the
// executor reported.

// containerName is Docker's name for a task's container: "<service>.<slot>.<task id>", or
// "<service>.<node id>.<task id>" for a global service's task. The service's ID stands in for
// its name where the node does not know the name (a container whose task is gone from a
// worker); a container tied to no task is named by its ID.
func containerName(v containerView) string {
	if v.TaskID == "" {
		return v.ID
	}
	service := v.ServiceName
	if service == "" {
		service = v.ServiceID
	}
	if v.Slot > 0 {
		return service + "." + strconv.Itoa(v.Slot) + "." + v.TaskID
	}
	return service + "." + v.NodeID + "." + v.TaskID
}

// resolveContainer finds ref among the containers as Docker does: a full ID, a full name
// (with or without its leading "/") or, here, a task's ID first, then a unique prefix of a
// container's or task's ID.
func resolveContainer(list []containerView, ref string) (containerView, error) {
	name := strings.TrimPrefix(ref, "/")
	for _, c := range list {
		if ref != "" && (c.ID == ref || c.Name == name || c.TaskID == ref) {
			return c, nil
		}
	}
	var found []containerView
	for _, c := range list {
		if ref != "" && (strings.HasPrefix(c.ID, ref) || c.TaskID != "" && strings.HasPrefix(c.TaskID, ref)) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return containerView{}, apierr.NotFoundf("No such container: %s", ref)
	case 1:
		return found[0], nil
	}
	return containerView{}, apierr.Invalidf("multiple IDs found with provided prefix: %s", ref)
}

// containerStatus is Docker's state word for an executor's container state.
func containerStatus(s exec.ContainerState) container.ContainerState {
	switch s {
	case exec.ContainerPrepared:
		return container.StateCreated
	case exec.ContainerRunning:
		return container.StateRunning
	case exec.ContainerExited:
		return container.StateExited
	}
	return container.StateDead
}

// containerLabels are the container's spec labels with the swarm labels Docker adds to a
// task's container.
func containerLabels(c containerView) map[string]string {
	labels := map[string]string{}
	for k, v := range c.Labels {
		labels[k] = v
	}
	if c.TaskID == "" {
		return labels
	}
	labels["com.docker.swarm.task.id"] = c.TaskID
	labels["com.docker.swarm.task.name"] = strings.TrimSuffix(c.Name, "."+c.TaskID)
	labels["com.docker.swarm.service.id"] = c.ServiceID
	if c.ServiceName != "" {
		labels["com.docker.swarm.service.name"] = c.ServiceName
	}
	if c.NodeID != "" {
		labels["com.docker.swarm.node.id"] = c.NodeID
	}
	return labels
}

// containerSummary is c as `docker ps` lists it, with its status said as Docker says it
// ("Up 5 minutes", "Exited (0) 3 seconds ago").
func containerSummary(c containerView, now time.Time) container.Summary {
	s := container.Summary{
		ID:      c.ID,
		Names:   []string{"/" + c.Name},
		Image:   c.Image,
		Command: strings.Join(c.Args, " "),
		Labels:  containerLabels(c),
		State:   containerStatus(c.State),
		Ports:   []container.PortSummary{},
		Mounts:  []container.MountPoint{},
	}
	if !c.CreatedAt.IsZero() {
		s.Created = c.CreatedAt.Unix()
	}
	switch c.State {
	case exec.ContainerPrepared:
		s.Status = "Created"
	case exec.ContainerRunning:
		s.Status = "Up " + units.HumanDuration(now.Sub(c.StartedAt))
	case exec.ContainerExited:
		s.Status = "Exited"
		if c.Exit != nil {
			s.Status = fmt.Sprintf("Exited (%d) %s ago", c.Exit.Code, units.HumanDuration(now.Sub(c.Exit.At)))
		}
	default:
		s.Status = "Dead"
	}
	return s
}

// containerInspect is c as `docker inspect` shows it: what the executor knows, no more.
func containerInspect(c containerView) container.InspectResponse {
	state := &container.State{
		Status:  containerStatus(c.State),
		Running: c.State == exec.ContainerRunning,
		Dead:    c.State == exec.ContainerBroken,
		Pid:     c.PID,
		Error:   c.Error,
	}
	if !c.StartedAt.IsZero() {
		state.StartedAt = c.StartedAt.UTC().Format(time.RFC3339Nano)
	}
	if c.Exit != nil {
		state.ExitCode = c.Exit.Code
		state.FinishedAt = c.Exit.At.UTC().Format(time.RFC3339Nano)
	}
	resp := container.InspectResponse{
		ID:    c.ID,
		Name:  "/" + c.Name,
		State: state,
		Image: c.Image,
		Config: &container.Config{
			Image:      c.Image,
			Cmd:        c.Args,
			Env:        c.Env,
			User:       c.User,
			WorkingDir: c.WorkingDir,
			Labels:     containerLabels(c),
		},
		HostConfig: &container.HostConfig{},
		Mounts:     []container.MountPoint{},
	}
	if !c.CreatedAt.IsZero() {
		resp.Created = c.CreatedAt.UTC().Format(time.RFC3339Nano)
	}
	if len(c.Args) > 0 {
		resp.Path, resp.Args = c.Args[0], c.Args[1:]
	}
	return resp
}
