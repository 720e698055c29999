// Command svcctl inspects and steers the system containers of a running
// minikit system through init's control socket.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

const usage = `svcctl inspects and steers the system containers of a minikit system.

Usage:
  svcctl [-json] list              every service with its state
  svcctl [-json] status NAME       one service
  svcctl start|stop|restart NAME   change a service's state
  svcctl poweroff | reboot         shut the system down
`

// Exit codes scripts can rely on.
const (
	exitOK       = 0
	exitFailed   = 1 // the request failed
	exitUsage    = 2
	exitNotFound = 3 // no such service
	exitNoSocket = 4 // init's control socket is not there
)

type service struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	Pid      int    `json:"pid,omitempty"`
	Restarts int    `json:"restarts"`
	Uptime   string `json:"uptime,omitempty"`
}

func main() {
	fs := flag.NewFlagSet("svcctl", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	asJSON := fs.Bool("json", false, "print JSON")
	socket := fs.String("socket", envOr("MINIKIT_SOCKET", "/run/minikit/control.sock"), "init's control socket")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(exitUsage)
	}
	c := &client{socket: *socket}
	os.Exit(run(c, fs.Args(), *asJSON, os.Stdout))
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func run(c *client, args []string, asJSON bool, out io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return exitUsage
	}
	var err error
	switch cmd := args[0]; {
	case cmd == "list" && len(args) == 1:
		var list []service
		if err = c.do("GET", "/v1/services", &list); err == nil {
			if asJSON {
				err = json.NewEncoder(out).Encode(list)
			} else {
				printTable(out, list)
			}
		}
	case cmd == "status" && len(args) == 2:
		var s service
		if err = c.do("GET", "/v1/services/"+args[1], &s); err == nil {
			if asJSON {
				err = json.NewEncoder(out).Encode(s)
			} else {
				printTable(out, []service{s})
			}
		}
	case (cmd == "start" || cmd == "stop" || cmd == "restart") && len(args) == 2:
		var s service
		if err = c.do("POST", "/v1/services/"+args[1]+"/"+cmd, &s); err == nil {
			fmt.Fprintf(out, "%s: %s\n", s.Name, s.State)
		}
	case (cmd == "poweroff" || cmd == "reboot") && len(args) == 1:
		err = c.do("POST", "/v1/"+cmd, nil)
	default:
		fmt.Fprint(os.Stderr, usage)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "svcctl:", err)
		var ae *apiError
		switch {
		case errors.As(err, &ae) && ae.code == http.StatusNotFound:
			return exitNotFound
		case errors.Is(err, errNoSocket):
			return exitNoSocket
		}
		return exitFailed
	}
	return exitOK
}

func printTable(out io.Writer, list []service) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tPID\tRESTARTS\tUPTIME")
	for _, s := range list {
		pid := "-"
		if s.Pid != 0 {
			pid = fmt.Sprint(s.Pid)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", s.Name, s.State, pid, s.Restarts, orDash(s.Uptime))
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

var errNoSocket = errors.New("init's control socket is missing")

type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return e.msg }

type client struct{ socket string }

func (c *client) do(method, path string, v any) error {
	if _, err := os.Stat(c.socket); err != nil {
		return fmt.Errorf("%w: %s (is this a minikit system, and are you root?)", errNoSocket, c.socket)
	}
	hc := &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", c.socket)
		}},
	}
	req, err := http.NewRequest(method, "http://init"+path, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		var e struct{ Error string }
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(body))
		}
		return &apiError{code: resp.StatusCode, msg: e.Error}
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(body, v)
}
