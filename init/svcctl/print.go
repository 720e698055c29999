package svcctl

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/minikit/minikit/internal/control"
)

// printList prints services as a table.
func printList(out io.Writer, list []control.Service) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tPID\tRESTARTS\tUPTIME\tMEMORY")
	for _, s := range list {
		pid := "-"
		if s.Pid != 0 {
			pid = fmt.Sprint(s.Pid)
		}
		uptime, memory := "-", "-"
		if !s.Started.IsZero() {
			uptime = formatDuration(time.Duration(s.UptimeSeconds * float64(time.Second)))
		}
		if s.Usage != nil {
			memory = formatBytes(s.Usage.MemoryBytes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", s.Name, s.State, pid, s.Restarts, uptime, memory)
	}
	tw.Flush()
}

// describeState is the state with what qualifies it.
func describeState(s control.Service) string {
	d := s.State
	if s.Pid != 0 {
		d += fmt.Sprintf(" (pid %d)", s.Pid)
	}
	if s.Error != "" {
		d += ": " + s.Error
	}
	return d
}

// printStatus prints one service in detail.
func printStatus(out io.Writer, s control.Service) {
	fmt.Fprintf(out, "%s: %s\n", s.Name, describeState(s))
	tw := tabwriter.NewWriter(out, 0, 4, 1, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "  %s:\t%s\n", k, v) }
	since := "-"
	if !s.Since.IsZero() {
		since = s.Since.Format(time.RFC3339)
	}
	row("since", since)
	if !s.Started.IsZero() {
		row("uptime", formatDuration(time.Duration(s.UptimeSeconds*float64(time.Second))))
	}
	ready := "no"
	if s.Ready {
		ready = "yes"
	}
	if s.Notify {
		ready += " (it says so with READY=1)"
	}
	row("ready", ready)
	row("restarts", fmt.Sprint(s.Restarts))
	row("restart policy", s.Restart)
	if len(s.DependsOn) > 0 {
		row("depends on", strings.Join(s.DependsOn, ", "))
	}
	if s.Status != "" {
		row("status", s.Status)
	}
	if s.LastExit != nil {
		row("last exit", exitText(*s.LastExit))
	}
	if u := s.Usage; u != nil {
		row("cgroup", u.Cgroup)
		row("memory", withLimit(formatBytes(u.MemoryBytes), u.MemoryLimit, formatBytes))
		row("cpu", formatDuration(time.Duration(u.CPUMicros)*time.Microsecond))
		row("pids", withLimit(fmt.Sprint(u.Pids), u.PidsLimit, func(v uint64) string { return fmt.Sprint(v) }))
	}
	tw.Flush()
}

func withLimit(v string, limit uint64, format func(uint64) string) string {
	if limit == 0 {
		return v
	}
	return v + " (limit " + format(limit) + ")"
}

func exitText(code int) string {
	if code > 128 && code < 128+65 {
		return fmt.Sprintf("%d (killed by signal %d)", code, code-128)
	}
	return fmt.Sprint(code)
}

// formatLine shows a log line as the console and /var/log show it.
func formatLine(l control.LogLine) string {
	return fmt.Sprintf("[%9.3f] %s", l.Boot.Seconds(), l.Line)
}

// printAnalysis prints the boot timeline: init's phases, then when each
// service began waiting, started and was ready, slowest last.
func printAnalysis(out io.Writer, a control.Analysis) {
	var end time.Duration
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tSTART\tEND\tTOOK")
	for _, p := range a.Phases {
		fmt.Fprintf(tw, "%s\t%.3fs\t%.3fs\t%s\n", p.Name, p.Start.Seconds(), p.End.Seconds(), formatDuration(p.End-p.Start))
		end = max(end, p.End)
	}
	tw.Flush()
	fmt.Fprintln(out)
	services := slices.Clone(a.Services)
	slices.SortStableFunc(services, func(x, y control.ServiceTimes) int { return cmpTimes(x.Ready, y.Ready) })
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tWAITING\tSTARTED\tREADY\tSTART TO READY")
	for _, s := range services {
		took := "-"
		if s.Ready != 0 && s.Started != 0 {
			took = formatDuration(s.Ready - s.Started)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, seconds(s.Waiting), seconds(s.Started), seconds(s.Ready), took)
		end = max(end, s.Ready)
	}
	tw.Flush()
	fmt.Fprintf(out, "\nthe last service was ready %s after the kernel started (now %s)\n", seconds(end), seconds(a.Now))
}

// cmpTimes orders times, zero (never reached) last.
func cmpTimes(a, b time.Duration) int {
	switch {
	case a == b:
		return 0
	case a == 0:
		return 1
	case b == 0:
		return -1
	case a < b:
		return -1
	}
	return 1
}

// seconds shows a moment a service reached, "-" for one it did not.
func seconds(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3fs", d.Seconds())
}

// formatDuration rounds a duration to what a person reads.
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < 24*time.Hour:
		return d.Round(time.Second).String()
	}
	return fmt.Sprintf("%dd%s", d/(24*time.Hour), (d % (24 * time.Hour)).Round(time.Minute))
}

// formatBytes prints a size in binary units: 12.3M.
func formatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	v, i := float64(n), 0
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f%c", v, "BKMGTP"[i])
}
