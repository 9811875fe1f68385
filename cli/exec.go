package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/shoal/shoal/internal/term"
)

type execOptions struct {
	interactive bool
	tty         bool
	detach      bool
	env         []string
	user        string
	workdir     string
}

func newExecCommand(g *Globals) *cobra.Command {
	var opts execOptions
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER|TASK COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Long: "Execute a command in a running container of this node: the container's ID or name\n" +
			"(web.1.<task id>), or its task's ID. The command exits with the command's exit code.",
		Args: requiresMinArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExec(cmd.Context(), g, &opts, args[0], args[1:])
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.SetInterspersed(false) // flags after CONTAINER are the command's own
	flags.BoolVarP(&opts.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	flags.BoolVarP(&opts.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	flags.BoolVarP(&opts.detach, "detach", "d", false, "Detached mode: run command in the background")
	flags.StringArrayVarP(&opts.env, "env", "e", nil, "Set environment variables")
	flags.StringVarP(&opts.user, "user", "u", "", "Username or UID (format: \"<name|uid>[:<group|gid>]\")")
	flags.StringVarP(&opts.workdir, "workdir", "w", "", "Working directory inside the container")
	return cmd
}

// runExec does what `docker exec` does: inspect the container first (so "No such
// container" comes before anything else), create the exec, then start it detached or
// attach to it, and exit with the command's exit code.
func runExec(ctx context.Context, g *Globals, opts *execOptions, target string, command []string) error {
	c, err := g.Client()
	if err != nil {
		return err
	}
	if _, err := c.ContainerInspect(ctx, target, client.ContainerInspectOptions{}); err != nil {
		return err
	}
	stdin, stdinIsTerminal := terminalFile(g.In)
	if !opts.detach && opts.interactive && opts.tty && !stdinIsTerminal {
		return errors.New("the input device is not a TTY")
	}
	create := client.ExecCreateOptions{
		User:         opts.user,
		TTY:          opts.tty,
		AttachStdin:  opts.interactive && !opts.detach,
		AttachStdout: !opts.detach,
		AttachStderr: !opts.detach,
		Env:          opts.env,
		WorkingDir:   opts.workdir,
		Cmd:          command,
	}
	out, outIsTerminal := terminalFile(g.Out)
	var size client.ConsoleSize
	if opts.tty && outIsTerminal {
		if s, err := term.GetSize(out.Fd()); err == nil {
			size = client.ConsoleSize{Height: uint(s.Height), Width: uint(s.Width)}
		}
	}
	create.ConsoleSize = size
	created, err := c.ExecCreate(ctx, target, create)
	if err != nil {
		return err
	}
	if opts.detach {
		_, err := c.ExecStart(ctx, created.ID, client.ExecStartOptions{Detach: true, TTY: opts.tty, ConsoleSize: size})
		return err
	}
	att, err := c.ExecAttach(ctx, created.ID, client.ExecAttachOptions{TTY: opts.tty, ConsoleSize: size})
	if err != nil {
		return err
	}
	defer att.Close()
	if opts.tty && opts.interactive && stdinIsTerminal {
		restore, err := term.MakeRaw(stdin.Fd())
		if err != nil {
			return err
		}
		defer restore()
	}
	if opts.tty && outIsTerminal {
		stop := followTerminalSize(ctx, c, created.ID, out)
		defer stop()
	}
	if err := copyExecStreams(g, opts, att.HijackedResponse); err != nil {
		return err
	}
	insp, err := c.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
	if err != nil {
		return err
	}
	if insp.ExitCode != 0 {
		return statusError{code: insp.ExitCode}
	}
	return nil
}

// copyExecStreams copies the user's input to the exec (with -i) and the exec's output to
// the user's until the daemon ends the stream: raw with a terminal, demultiplexed into
// stdout and stderr without.
func copyExecStreams(g *Globals, opts *execOptions, resp client.HijackedResponse) error {
	if opts.interactive {
		stop := forwardInput(g.In, resp)
		defer stop()
	}
	var err error
	if opts.tty {
		_, err = io.Copy(g.Out, resp.Reader)
	} else {
		_, err = stdcopy.StdCopy(g.Out, g.Err, resp.Reader)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the exec's output: %w", err)
	}
	return nil
}

// followTerminalSize sends the exec the size of the user's terminal now and whenever it
// changes (SIGWINCH), until stop.
func followTerminalSize(ctx context.Context, c *client.Client, execID string, out *os.File) (stop func()) {
	resize := func() {
		if s, err := term.GetSize(out.Fd()); err == nil {
			_, _ = c.ExecResize(ctx, execID, client.ExecResizeOptions{Height: uint(s.Height), Width: uint(s.Width)})
		}
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		resize()
		for {
			select {
			case <-winch:
				resize()
			case <-done:
				return
			}
		}
	})
	return func() {
		signal.Stop(winch)
		close(done)
		wg.Wait()
	}
}

// terminalFile is f as a file, and whether it is a terminal.
func terminalFile(f any) (*os.File, bool) {
	file, ok := f.(*os.File)
	if !ok {
		return nil, false
	}
	return file, term.IsTerminal(file.Fd())
}
