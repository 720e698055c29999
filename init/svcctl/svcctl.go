// Package svcctl is the svcctl command, which inspects and steers the
// services of a running minikit system through init's control socket.
// It is a binary of its own, apart from init (cmd/svcctl), which also
// carries the observer (init/observer): both write Prometheus' text, and
// init is leaner without it. It is static, so binding it and the
// socket's directory into a container is all a service (sshd, getty)
// needs to use it:
//
//	binds:
//	  - /run/minikit:/run/minikit
//	  - /usr/bin/svcctl:/usr/bin/svcctl
//
// Reading needs only root; a change needs a capability in svcctl's
// effective set, which a container gets from its spec's capabilities:
// CAP_SYS_ADMIN to start, stop or restart, CAP_SYS_BOOT to power off or
// reboot.
package svcctl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/minikit/minikit/init/metrics"
	"github.com/minikit/minikit/internal/control"
)

const usage = `svcctl inspects and steers the services of a minikit system.

Usage:
  svcctl list [--json]                    every service: state, pid, restarts, uptime, memory
  svcctl status [--json] NAME             one service in detail, and its last log lines
  svcctl start|stop|restart NAME          change a service's state
  svcctl logs [-f] [-n N] [--json] NAME   a log: a service's, an onboot container's, or init's
  svcctl analyze [--json]                 the boot timeline
  svcctl metrics                          every metric, in Prometheus' text format
  svcctl poweroff | reboot                shut the system down
  svcctl update [--reboot] FILE|-         write a signed update bundle (- for standard input)
                                          into the slot this boot does not run from; it is
                                          tried once at the next boot and kept once healthy
  svcctl update status [--json]           both slots: version and state
  svcctl rollback [--reboot]              boot the other slot (once, then kept once healthy),
                                          or call off an update staged or on trial
  svcctl notify KEY=VALUE...              from inside a notify service: tell init READY=1,
                                          STATUS=…, WATCHDOG=1 (sd_notify, to $NOTIFY_SOCKET)

Options anywhere: --socket PATH (default $MINIKIT_SOCKET or ` + control.Socket + `).

Reading needs root. start, stop and restart need CAP_SYS_ADMIN; poweroff,
reboot, update and rollback CAP_SYS_BOOT, in svcctl's effective
capabilities.

Exit status: 0 done, 1 the request failed, 2 bad usage, 3 no such service
or log, 4 init's control socket is not there, 5 refused: the caller may
not do that.
`

// Exit codes scripts can rely on.
const (
	exitOK       = 0
	exitFailed   = 1 // the request failed
	exitUsage    = 2
	exitNotFound = 3 // no such service or log
	exitNoSocket = 4 // init's control socket is not there
	exitRefused  = 5 // the caller lacks what the request needs
)

// Name is the name the binary runs under as svcctl: init's main runs
// Main when its argv[0] ends in it.
const Name = "svcctl"

// Main runs svcctl with the process's arguments and returns its exit
// status.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
}

// cli is one invocation.
type cli struct {
	out    *bufio.Writer
	errOut io.Writer
	client *control.Client
	env    func(string) string
}

// errUsage is a usage mistake, already explained.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, out, errOut io.Writer, env func(string) string) int {
	fs := flag.NewFlagSet("svcctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	socket := fs.String("socket", "", "init's control socket")
	asJSON := fs.Bool("json", false, "print JSON")
	follow := fs.Bool("f", false, "follow the log")
	lines := fs.Int("n", -1, "show the last N lines (all the ring holds if negative)")
	reboot := fs.Bool("reboot", false, "reboot once the update or rollback is done")
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) || len(pos) > 0 && pos[0] == "help" {
		// Asked for, the usage is the answer, not a mistake.
		fmt.Fprint(out, usage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(errOut, "svcctl: %v\n\n%s", err, usage)
		return exitUsage
	}
	if *socket == "" {
		*socket = env("MINIKIT_SOCKET")
	}
	if *socket == "" {
		*socket = control.Socket
	}
	// Written out at the end, or line by line when following a log: a
	// table written cell by cell costs a system call a cell.
	bw := bufio.NewWriter(out)
	defer bw.Flush()
	c := &cli{out: bw, errOut: errOut, client: control.NewClient(*socket), env: env}

	if len(pos) == 0 {
		fmt.Fprint(errOut, usage)
		return exitUsage
	}
	cmd, rest := pos[0], pos[1:]
	need := func(n int, what string) error {
		if len(rest) != n {
			fmt.Fprintf(errOut, "svcctl %s: takes %s\n\n%s", cmd, what, usage)
			return errUsage
		}
		return nil
	}
	switch cmd {
	case "list":
		if err = need(0, "no arguments"); err == nil {
			err = c.list(ctx, *asJSON)
		}
	case "status":
		if err = need(1, "one service name"); err == nil {
			err = c.status(ctx, rest[0], *asJSON)
		}
	case "start", "stop", "restart":
		if err = need(1, "one service name"); err == nil {
			err = c.act(ctx, rest[0], cmd)
		}
	case "logs":
		if err = need(1, "one name"); err == nil {
			err = c.logs(ctx, rest[0], *lines, *follow, *asJSON)
		}
	case "analyze":
		if err = need(0, "no arguments"); err == nil {
			err = c.analyze(ctx, *asJSON)
		}
	case "metrics":
		if err = need(0, "no arguments"); err == nil {
			err = c.metrics(ctx, out)
		}
	case "poweroff", "reboot":
		if err = need(0, "no arguments"); err == nil {
			if err = c.client.Power(ctx, cmd); err == nil {
				fmt.Fprintln(out, cmd, "requested")
			}
		}
	case "update":
		switch {
		case len(rest) == 1 && rest[0] == "status":
			err = c.updateStatus(ctx, *asJSON)
		case len(rest) == 1:
			err = c.update(ctx, rest[0], *reboot)
		default:
			err = need(1, "a bundle file, - for standard input, or status")
		}
	case "rollback":
		if err = need(0, "no arguments"); err == nil {
			err = c.rollback(ctx, *reboot)
		}
	case "notify":
		if len(rest) == 0 {
			err = need(1, "KEY=VALUE arguments, such as READY=1")
		} else {
			err = c.notify(rest)
		}
	default:
		fmt.Fprintf(errOut, "svcctl: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
	return c.exitCode(err)
}

// parseInterspersed parses flags wherever they are among the arguments,
// so that `svcctl status sshd --json` works as well as `svcctl --json
// status sshd`. It returns the other arguments in order.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// exitCode reports err and turns it into the exit status.
func (c *cli) exitCode(err error) int {
	c.out.Flush() // what was printed before the error comes before it
	var ae *control.APIError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitOK // interrupted while following a log
	case errors.Is(err, control.ErrNoSocket):
		fmt.Fprintln(c.errOut, "svcctl:", err)
		return exitNoSocket
	case errors.As(err, &ae):
		msg := ae.Body.Error
		if len(ae.Body.Suggestions) > 0 {
			msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(ae.Body.Suggestions, " or "))
		}
		if ae.Code == 403 {
			fmt.Fprintln(c.errOut, "svcctl: refused:", refusal(ae.Body))
			return exitRefused
		}
		fmt.Fprintln(c.errOut, "svcctl:", msg)
		if ae.Code == 404 {
			return exitNotFound
		}
		return exitFailed
	}
	fmt.Fprintln(c.errOut, "svcctl:", err)
	return exitFailed
}

// refusal explains a 403, and when a capability is missing, how a caller
// gets it.
func refusal(e control.Error) string {
	if e.Capability == "" {
		return e.Error
	}
	return fmt.Sprintf("%s.\nsvcctl must run with %s in its effective capabilities: as root with it, or in a container whose spec grants it (capabilities: [%s])",
		strings.TrimSuffix(e.Error, "."), e.Capability, e.Capability)
}

func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (c *cli) list(ctx context.Context, asJSON bool) error {
	list, err := c.client.Services(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return c.printJSON(list)
	}
	printList(c.out, list)
	return nil
}

func (c *cli) status(ctx context.Context, name string, asJSON bool) error {
	s, err := c.client.Service(ctx, name)
	if err != nil {
		return err
	}
	if asJSON {
		return c.printJSON(s)
	}
	printStatus(c.out, s)
	fmt.Fprintln(c.out)
	// The last lines tell most of why a service is in its state.
	return c.client.Logs(ctx, name, 10, false, func(l control.LogLine) error {
		fmt.Fprintln(c.out, formatLine(l))
		return nil
	})
}

func (c *cli) act(ctx context.Context, name, action string) error {
	s, err := c.client.Act(ctx, name, action)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.out, "%s: %s\n", s.Name, describeState(s))
	return nil
}

func (c *cli) logs(ctx context.Context, name string, n int, follow, asJSON bool) error {
	var last uint64
	enc := json.NewEncoder(c.out)
	return c.client.Logs(ctx, name, n, follow, func(l control.LogLine) error {
		if asJSON {
			if err := enc.Encode(l); err != nil || !follow {
				return err
			}
			return c.out.Flush()
		}
		if last != 0 && l.Seq > last+1 {
			fmt.Fprintf(c.out, "… %d lines missed: they left init's memory before they could be read (see /var/log/%s.log)\n",
				l.Seq-last-1, name)
		}
		last = l.Seq
		if _, err := fmt.Fprintln(c.out, formatLine(l)); err != nil {
			return err
		}
		if follow {
			return c.out.Flush()
		}
		return nil
	})
}

func (c *cli) analyze(ctx context.Context, asJSON bool) error {
	a, err := c.client.Analyze(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return c.printJSON(a)
	}
	printAnalysis(c.out, a)
	return nil
}

// notify sends an sd_notify message to $NOTIFY_SOCKET, for services
// written as shell scripts.
func (c *cli) notify(fields []string) error {
	path := c.env("NOTIFY_SOCKET")
	if path == "" {
		return errors.New("NOTIFY_SOCKET is not set: only a service with `notify: true` has one")
	}
	for _, f := range fields {
		if !strings.Contains(f, "=") {
			return fmt.Errorf("notify: %q is not KEY=VALUE", f)
		}
	}
	if strings.HasPrefix(path, "@") { // an abstract socket, as systemd allows
		path = "\x00" + path[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(fields, "\n"))); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// metrics writes init's metrics in Prometheus' text format, as a
// Prometheus server or a node exporter's textfile collector reads them.
func (c *cli) metrics(ctx context.Context, out io.Writer) error {
	m, err := c.client.Metrics(ctx)
	if err != nil {
		return err
	}
	return metrics.Write(out, m)
}
