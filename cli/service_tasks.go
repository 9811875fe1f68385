package cli

// Task listings, shared by `service ps` and `node ps`: docker's columns, names (web.1,
// or web.<node ID> for a global service), history rows indented under the current task of
// their slot, newest first.

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/swarm"
	"github.com/spf13/pflag"
)

const (
	defaultTaskTableFormat = "table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}\t{{.Ports}}"
	// maxTaskErrorLength is how much of a task's error a truncated listing shows.
	maxTaskErrorLength = 30
	historyIndent      = ` \_ `
)

var taskListHeader = map[string]string{
	"ID":           "ID",
	"Name":         "NAME",
	"Image":        "IMAGE",
	"Node":         "NODE",
	"DesiredState": "DESIRED STATE",
	"CurrentState": "CURRENT STATE",
	"Error":        "ERROR",
	"Ports":        "PORTS",
}

// taskListOptions are the flags `service ps` and `node ps` share.
type taskListOptions struct {
	noTrunc   bool
	noResolve bool
	quiet     bool
	format    string
	filter    filterFlag
}

func addTaskListFlags(flags *pflag.FlagSet, o *taskListOptions) {
	o.filter = newFilterFlag()
	flags.BoolVar(&o.noTrunc, "no-trunc", false, "Do not truncate output")
	flags.BoolVar(&o.noResolve, "no-resolve", false, "Do not map IDs to Names")
	flags.VarP(&o.filter, "filter", "f", "Filter output based on conditions provided")
	flags.StringVar(&o.format, "format", "", "Pretty-print tasks using a Go template")
	flags.BoolVarP(&o.quiet, flagQuiet, "q", false, "Only display task IDs")
}

// taskListFormat picks the template for a task listing, as docker does.
func taskListFormat(format string, quiet bool) string {
	switch format {
	case "", formatKeyTable:
		if quiet {
			return quietFormat
		}
		return defaultTaskTableFormat
	case formatKeyRaw:
		if quiet {
			return `id: {{.ID}}`
		}
		return `id: {{.ID}}\nname: {{.Name}}\nimage: {{.Image}}\nnode: {{.Node}}\ndesired_state: {{.DesiredState}}\ncurrent_state: {{.CurrentState}}\nerror: {{.Error}}\nports: {{.Ports}}\n`
	}
	return format
}

// printTasks lists tasks in format. trunc shortens IDs, images and errors.
func printTasks(ctx context.Context, out io.Writer, tasks []swarm.Task, r *nameResolver, trunc bool, format string) error {
	rows := make([]*taskRow, len(tasks))
	for i, t := range tasks {
		owner := r.serviceName(ctx, t.ServiceID)
		name := fmt.Sprintf("%s.%s", owner, t.NodeID)
		if t.Slot != 0 {
			name = fmt.Sprintf("%s.%d", owner, t.Slot)
		}
		rows[i] = &taskRow{task: t, name: name, trunc: trunc}
	}
	// The tasks of one slot sit together, the current one first.
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].name != rows[j].name {
			return naturalLess(rows[i].name, rows[j].name)
		}
		return rows[j].task.CreatedAt.Before(rows[i].task.CreatedAt)
	})
	table := isTableFormat(format)
	items := make([]any, len(rows))
	for i, row := range rows {
		row.node = r.nodeName(ctx, row.task.NodeID)
		row.shownName = row.name
		if table && i > 0 && rows[i-1].name == row.name {
			row.shownName = historyIndent + row.name
		}
		items[i] = row
	}
	return writeList(out, format, taskListHeader, items)
}

// taskRow is one task as task listing templates see it.
type taskRow struct {
	task      swarm.Task
	name      string // web.1
	shownName string // web.1, or " \_ web.1" for an older task of the slot
	node      string
	trunc     bool
}

func (r *taskRow) MarshalJSON() ([]byte, error) { return marshalRow(r) }

func (r *taskRow) ID() string {
	if r.trunc {
		return truncateID(r.task.ID)
	}
	return r.task.ID
}

func (r *taskRow) Name() string { return r.shownName }

func (r *taskRow) Image() string {
	cs := r.task.Spec.ContainerSpec
	if cs == nil {
		return ""
	}
	if r.trunc {
		return displayImage(cs.Image)
	}
	return cs.Image
}

func (r *taskRow) Node() string { return r.node }

func (r *taskRow) DesiredState() string { return prettyPrint(string(r.task.DesiredState)) }

// CurrentState is the observed state and how long ago it was reached.
func (r *taskRow) CurrentState() string {
	return fmt.Sprintf("%s %s ago", prettyPrint(string(r.task.Status.State)),
		strings.ToLower(units.HumanDuration(now().Sub(r.task.Status.Timestamp))))
}

// Error is the task's error in quotes, shortened unless --no-trunc.
func (r *taskRow) Error() string {
	msg := r.task.Status.Err
	if r.trunc {
		msg = ellipsis(msg, maxTaskErrorLength)
	}
	if msg == "" {
		return ""
	}
	return `"` + msg + `"`
}

// Ports lists the ports the task publishes on its node (host mode).
func (r *taskRow) Ports() string {
	ports := r.task.Status.PortStatus.Ports
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = fmt.Sprintf("*:%d->%d/%s", p.PublishedPort, p.TargetPort, p.Protocol)
	}
	return strings.Join(parts, ",")
}
