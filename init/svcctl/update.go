package svcctl

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/minikit/minikit/internal/control"
)

// stdin is where `svcctl update -` reads the bundle; tests replace it.
var stdin io.Reader = os.Stdin

// update sends the bundle in file ("-" for standard input) to init.
func (c *cli) update(ctx context.Context, file string, reboot bool) error {
	var body io.Reader = stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		body = f
	}
	return c.tellResult(c.client.Update(ctx, body, reboot))
}

func (c *cli) rollback(ctx context.Context, reboot bool) error {
	return c.tellResult(c.client.Rollback(ctx, reboot))
}

// tellResult prints what an update or a rollback did.
func (c *cli) tellResult(res control.UpdateResult, err error) error {
	if err != nil {
		return err
	}
	fmt.Fprintln(c.out, res.Message)
	if res.Rebooting {
		fmt.Fprintln(c.out, "rebooting")
	}
	return nil
}

func (c *cli) updateStatus(ctx context.Context, asJSON bool) error {
	st, err := c.client.UpdateStatus(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return c.printJSON(st)
	}
	printUpdateStatus(c.out, st)
	return nil
}

// printUpdateStatus prints the slots as a table, after a line on the
// running system and whether it takes updates.
func printUpdateStatus(out io.Writer, st control.UpdateStatus) {
	if st.Running != "" {
		fmt.Fprintf(out, "running: slot %s, %s\n", st.Running, versionText(st.Version))
	}
	switch {
	case st.Updatable:
		fmt.Fprintf(out, "takes updates signed by key %s; an update is good once healthy for %ds\n", st.Key, st.GraceSeconds)
	case st.Why != "":
		fmt.Fprintf(out, "takes no update now: %s\n", st.Why)
	}
	if len(st.Slots) == 0 {
		return
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLOT\tVERSION\tSTATE\tNOTE")
	for _, s := range st.Slots {
		version := s.Version
		if version == "" {
			version = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Slot, version, s.State, strings.TrimSpace(s.Note))
	}
	tw.Flush()
}

func versionText(v string) string {
	if v == "" {
		return "no version"
	}
	return "version " + v
}
