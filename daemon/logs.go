package daemon

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoal/shoal/api"
	"github.com/shoal/shoal/clusterapi"
	"github.com/shoal/shoal/internal/apierr"
	"github.com/shoal/shoal/manager"
)

// ServiceLogs streams the output of a service's tasks from every node that ran them.
func (d *Daemon) ServiceLogs(ctx context.Context, ref string, opts api.LogsOptions, w io.Writer) error {
	m, err := d.manager()
	if err != nil {
		return err
	}
	svc, err := m.Control().ResolveService(ref)
	if err != nil {
		return err
	}
	tasks := m.Store().TasksOfService(svc.ID)
	sort.Slice(tasks, func(i, j int) bool { return tasks[i].CreatedAt.Before(tasks[j].CreatedAt) })
	return d.streamLogs(ctx, m, tasks, opts, w)
}

// TaskLogs streams one task's output.
func (d *Daemon) TaskLogs(ctx context.Context, taskID string, opts api.LogsOptions, w io.Writer) error {
	m, err := d.manager()
	if err != nil {
		return err
	}
	t, err := d.TaskInspect(ctx, taskID)
	if err != nil {
		return err
	}
	return d.streamLogs(ctx, m, []*swarm.Task{&t}, opts, w)
}

// logWriter writes Docker's multiplexed stream frames, one line each, from several
// goroutines.
type logWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (lw *logWriter) frame(stream byte, payload []byte) error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	var hdr [8]byte
	hdr[0] = stream
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(payload)))
	if _, err := lw.w.Write(append(hdr[:], payload...)); err != nil {
		return err
	}
	if f, ok := lw.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

// streamLogs fetches each task's output from its node (this one directly) and writes it
// as Docker's stream, with the details prefix the docker CLI expects when asked.
func (d *Daemon) streamLogs(ctx context.Context, m *manager.Manager, tasks []*swarm.Task, opts api.LogsOptions, w io.Writer) error {
	out := &logWriter{w: w}
	if f, ok := w.(http.Flusher); ok {
		f.Flush() // open the stream before the first line, so followers see it start
	}
	client := clusterapi.NewClient(d.creds.NodeClientTLSConfig(clusterapi.ProtoAPI))
	defer client.Close()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, t := range tasks {
		if t.NodeID == "" {
			continue
		}
		addr, err := d.nodeAPIAddr(m, t.NodeID)
		if err != nil {
			d.logger.Debug("no address for the node of a task", "task", t.ID, "err", err)
			continue
		}
		run := func(t *swarm.Task, addr string) {
			d.copyTaskLogs(ctx, client, addr, t, opts, out)
		}
		if !opts.Follow {
			run(t, addr)
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(t *swarm.Task, addr string) {
			defer wg.Done()
			defer func() { <-sem }()
			run(t, addr)
		}(t, addr)
	}
	wg.Wait()
	return nil
}

func (d *Daemon) copyTaskLogs(ctx context.Context, client *clusterapi.Client, addr string, t *swarm.Task, opts api.LogsOptions, out *logWriter) {
	tail := opts.Tail
	req := clusterapi.NodeLogsRequest{TaskID: t.ID, Follow: opts.Follow, Tail: tail, Since: opts.Since}
	body, err := client.Stream(ctx, addr, clusterapi.PathNodeLogs, req)
	if err != nil {
		if ctx.Err() == nil {
			d.logger.Debug("reading task output", "task", t.ID, "node", addr, "err", err)
		}
		return
	}
	defer body.Close()
	details := "com.docker.swarm.node.id=" + t.NodeID + ",com.docker.swarm.service.id=" + t.ServiceID + ",com.docker.swarm.task.id=" + t.ID + " "
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		var line clusterapi.LogLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			continue
		}
		stream := byte(1)
		if line.Stream == "stderr" {
			if !opts.Stderr {
				continue
			}
			stream = 2
		} else if !opts.Stdout {
			continue
		}
		var payload []byte
		if opts.Timestamps {
			payload = append(payload, line.Time.UTC().Format(time.RFC3339Nano)+" "...)
		}
		if opts.Details {
			payload = append(payload, details...)
		}
		payload = append(payload, line.Line...)
		if err := out.frame(stream, payload); err != nil {
			return
		}
	}
}

// nodeAPIAddr is where a node serves the node API.
func (d *Daemon) nodeAPIAddr(m *manager.Manager, nodeID string) (string, error) {
	n, err := m.Store().Node(nodeID)
	if err != nil {
		return "", err
	}
	if addr := clusterapi.NodeAPIAddr(n); addr != "" {
		return addr, nil
	}
	return "", apierr.Unavailablef("node %s publishes no address for its task output", nodeID)
}
