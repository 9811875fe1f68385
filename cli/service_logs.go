package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type serviceLogsOptions struct {
	noResolve  bool
	noTrunc    bool
	noTaskIDs  bool
	raw        bool
	follow     bool
	since      string
	timestamps bool
	details    bool
	tail       string
}

func newServiceLogsCommand(g *Globals) *cobra.Command {
	var opts serviceLogsOptions
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] SERVICE|TASK",
		Short: "Fetch the logs of a service or task",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServiceLogs(cmd.Context(), g, &opts, args[0])
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.BoolVar(&opts.noResolve, "no-resolve", false, "Do not map IDs to Names in output")
	flags.BoolVar(&opts.noTrunc, "no-trunc", false, "Do not truncate output")
	flags.BoolVar(&opts.raw, "raw", false, "Do not neatly format logs")
	flags.BoolVar(&opts.noTaskIDs, "no-task-ids", false, "Do not include task IDs in output")
	flags.BoolVarP(&opts.follow, "follow", "f", false, "Follow log output")
	flags.StringVar(&opts.since, "since", "", `Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	flags.BoolVarP(&opts.timestamps, "timestamps", "t", false, "Show timestamps")
	flags.BoolVar(&opts.details, "details", false, "Show extra details provided to logs")
	opts.tail = "all"
	flags.VarP(&tailValue{&opts.tail}, "tail", "n", "Number of lines to show from the end of the logs")
	return cmd
}

func runServiceLogs(ctx context.Context, g *Globals, opts *serviceLogsOptions, target string) error {
	c, err := g.Client()
	if err != nil {
		return err
	}
	var (
		tty    bool
		digits = 1 // width of the widest slot number, to line up the output
		stream io.ReadCloser
	)
	// Details carry the task of each line, which the neat format needs.
	logOpts := client.ServiceLogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Since:      opts.since,
		Timestamps: opts.timestamps,
		Follow:     opts.follow,
		Tail:       opts.tail,
		Details:    opts.details || !opts.raw,
	}
	svc, err := c.ServiceInspect(ctx, target, client.ServiceInspectOptions{})
	switch {
	case err == nil:
		if cs := svc.Service.Spec.TaskTemplate.ContainerSpec; cs != nil {
			tty = cs.TTY
		}
		if r := svc.Service.Spec.Mode.Replicated; r != nil && r.Replicas != nil {
			digits = len(strconv.FormatUint(*r.Replicas, 10))
		}
		if tty && !opts.raw {
			return errors.New("tty service logs only supported with --raw")
		}
		stream, err = c.ServiceLogs(ctx, target, logOpts)
	case cerrdefs.IsNotFound(err):
		task, terr := c.TaskInspect(ctx, target, client.TaskInspectOptions{})
		if cerrdefs.IsNotFound(terr) {
			return fmt.Errorf("no such task or service: %s", target)
		}
		if terr != nil {
			return terr
		}
		if cs := task.Task.Spec.ContainerSpec; cs != nil {
			tty = cs.TTY
		}
		digits = len(strconv.Itoa(task.Task.Slot))
		if tty && !opts.raw {
			return errors.New("tty service logs only supported with --raw")
		}
		stream, err = c.TaskLogs(ctx, target, client.TaskLogsOptions(logOpts))
	}
	if err != nil {
		return err
	}
	defer stream.Close()

	if tty {
		// A terminal's output is one raw stream, not multiplexed.
		_, err = io.Copy(g.Out, stream)
		return err
	}
	stdout, stderr := g.Out, g.Err
	if !opts.raw {
		f := &logLineFormatter{c: c, opts: opts, digits: digits, names: newNameResolver(c, opts.noResolve), cache: map[logContext]string{}}
		stdout = &logWriter{ctx: ctx, f: f, out: g.Out}
		stderr = &logWriter{ctx: ctx, f: f, out: g.Err}
	}
	_, err = stdcopy.StdCopy(stdout, stderr, stream)
	return err
}

// logContext is the task a log line came from, as its details say.
type logContext struct {
	nodeID, serviceID, taskID string
}

// logLineFormatter writes the prefix of a neat log line: "web.1.4bq0e1u0ia4u@worker-1".
type logLineFormatter struct {
	c      *client.Client
	opts   *serviceLogsOptions
	digits int
	names  *nameResolver
	cache  map[logContext]string
}

func (f *logLineFormatter) prefix(ctx context.Context, lc logContext) (string, error) {
	if p, ok := f.cache[lc]; ok {
		return p, nil
	}
	task, err := f.c.TaskInspect(ctx, lc.taskID, client.TaskInspectOptions{})
	if err != nil {
		return "", err
	}
	name := fmt.Sprintf("%s.%d", f.names.serviceName(ctx, lc.serviceID), task.Task.Slot)
	if !f.opts.noTaskIDs {
		if f.opts.noTrunc {
			name += "." + task.Task.ID
		} else {
			name += "." + truncateID(task.Task.ID)
		}
	}
	padding := max(f.digits-len(strconv.Itoa(task.Task.Slot)), 0)
	p := name + "@" + f.names.nodeName(ctx, lc.nodeID) + strings.Repeat(" ", padding)
	f.cache[lc] = p
	return p, nil
}

// logWriter rewrites the lines of a log stream, "[timestamp ]details message", into
// docker's neat form, "[timestamp ]web.1.<task>@node    | [details ]message".
type logWriter struct {
	ctx context.Context
	f   *logLineFormatter
	out io.Writer
}

func (w *logWriter) Write(buf []byte) (int, error) {
	for rest := buf; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i+1]
		}
		rest = rest[len(line):]
		if err := w.writeLine(line); err != nil {
			return 0, err
		}
	}
	return len(buf), nil
}

func (w *logWriter) writeLine(line []byte) error {
	detailsAt, parts := 0, 2
	if w.f.opts.timestamps {
		detailsAt, parts = 1, 3
	}
	fields := bytes.SplitN(line, []byte(" "), parts)
	if len(fields) != parts {
		return fmt.Errorf("invalid context in log message: %s", line)
	}
	details, err := parseLogDetails(string(fields[detailsAt]))
	if err != nil {
		return err
	}
	lc, err := takeLogContext(details)
	if err != nil {
		return err
	}
	prefix, err := w.f.prefix(w.ctx, lc)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if w.f.opts.timestamps {
		out.Write(fields[0])
		out.WriteByte(' ')
	}
	out.WriteString(prefix + "    | ")
	if w.f.opts.details {
		pairs := make([]string, 0, len(details))
		for k, v := range details {
			pairs = append(pairs, k+"="+v)
		}
		sort.Strings(pairs)
		out.WriteString(strings.Join(pairs, ",") + " ")
	}
	out.Write(fields[detailsAt+1])
	_, err = out.WriteTo(w.out)
	return err
}

// parseLogDetails reads "k1=v1,k2=v2", keys and values URL-encoded.
func parseLogDetails(s string) (map[string]string, error) {
	details := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k == "" {
			return nil, errors.New("invalid details format")
		}
		var err error
		if k, err = url.QueryUnescape(k); err != nil {
			return nil, err
		}
		if v, err = url.QueryUnescape(v); err != nil {
			return nil, err
		}
		details[k] = v
	}
	return details, nil
}

// takeLogContext takes the task's identity out of a line's details.
func takeLogContext(details map[string]string) (logContext, error) {
	var lc logContext
	for key, field := range map[string]*string{
		"com.docker.swarm.node.id":    &lc.nodeID,
		"com.docker.swarm.service.id": &lc.serviceID,
		"com.docker.swarm.task.id":    &lc.taskID,
	} {
		v, ok := details[key]
		if !ok {
			return lc, fmt.Errorf("missing %s in log details: %v", key, details)
		}
		*field = v
		delete(details, key)
	}
	return lc, nil
}
