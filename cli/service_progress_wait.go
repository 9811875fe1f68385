package cli

// The polling shell around progressTracker: it asks the daemon how a service is doing
// every serviceProgressInterval and draws the tracker's lines, in place on a terminal
// and as plain changed lines otherwise.

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// serviceProgressInterval is how often a wait polls the daemon.
var serviceProgressInterval = 200 * time.Millisecond

// minBarWidth is the narrowest terminal that gets progress bars, as in docker.
const minBarWidth = 111

type waitOptions struct {
	quiet    bool // poll, but show nothing
	rollback bool // the user asked for a rollback
}

// waitOnService polls the service ref until it converges, its update pauses or rolls
// back, or the user interrupts the wait (the operation then goes on without us).
func waitOnService(ctx context.Context, g *Globals, c *client.Client, ref string, opts waitOptions) error {
	terminal, width := terminalInfo(g.Out)
	out := g.Out
	if opts.quiet {
		out = io.Discard
	}
	printer := &progressPrinter{out: out, terminal: terminal}
	tracker := &progressTracker{rollbackRequested: opts.rollback, bars: width == 0 || width >= minBarWidth}

	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt)
	defer signal.Stop(interrupt)

	for {
		obs, err := observeService(ctx, c, ref)
		if err != nil {
			return err
		}
		obs.At = time.Now()
		lines, done, err := tracker.observe(obs)
		printer.show(lines)
		if done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-interrupt:
			fmt.Fprintf(out, "Operation continuing in background.\nUse `shoal service ps %s` to check progress.\n", ref)
			return nil
		case <-time.After(serviceProgressInterval):
		}
	}
}

// observeService reads the service, its up-to-date tasks and the nodes that are up.
func observeService(ctx context.Context, c *client.Client, ref string) (progressObservation, error) {
	svc, err := c.ServiceInspect(ctx, ref, client.ServiceInspectOptions{})
	if err != nil {
		return progressObservation{}, err
	}
	tasks, err := c.TaskList(ctx, client.TaskListOptions{
		Filters: make(client.Filters).Add("service", svc.Service.ID).Add("_up-to-date", "true"),
	})
	if err != nil {
		return progressObservation{}, err
	}
	nodes, err := c.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return progressObservation{}, err
	}
	active := make(map[string]bool, len(nodes.Items))
	for _, n := range nodes.Items {
		if n.Status.State != swarm.NodeStateDown {
			active[n.ID] = true
		}
	}
	return progressObservation{Service: svc.Service, Tasks: tasks.Items, ActiveNodes: active}, nil
}

// terminalInfo reports whether w is a terminal, and its width in columns (0 if unknown).
func terminalInfo(w io.Writer) (bool, int) {
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f) {
		return false, 0
	}
	return true, terminalWidth(f)
}

// progressPrinter draws successive blocks of progress lines. On a terminal it redraws
// the block in place; elsewhere it prints each line whose text changed, once, so logs
// and pipes get a readable history. A line's identity is the text before its first
// ": " ("overall progress", "2/3", "verify").
type progressPrinter struct {
	out      io.Writer
	terminal bool
	shown    []string          // terminal: the block on screen
	printed  map[string]string // plain: the last text printed for each line
}

// ANSI sequences for the in-place redraw.
const (
	ansiEraseLine = "\x1b[2K"
	ansiCursorUp  = "\x1b[%dA"
)

func (p *progressPrinter) show(lines []string) {
	if p.terminal {
		p.redraw(lines)
		return
	}
	if p.printed == nil {
		p.printed = map[string]string{}
	}
	for _, line := range lines {
		id, text, ok := strings.Cut(line, ": ")
		if !ok || strings.TrimSpace(text) == "" || p.printed[id] == line {
			continue
		}
		p.printed[id] = line
		fmt.Fprintln(p.out, line)
	}
}

func (p *progressPrinter) redraw(lines []string) {
	if slices.Equal(lines, p.shown) {
		return
	}
	var b strings.Builder
	if n := len(p.shown); n > 0 {
		fmt.Fprintf(&b, ansiCursorUp, n)
	}
	for _, line := range lines {
		b.WriteString(ansiEraseLine + line + "\n")
	}
	if extra := len(p.shown) - len(lines); extra > 0 {
		b.WriteString(strings.Repeat(ansiEraseLine+"\n", extra))
		fmt.Fprintf(&b, ansiCursorUp, extra)
	}
	io.WriteString(p.out, b.String())
	p.shown = append([]string(nil), lines...)
}
