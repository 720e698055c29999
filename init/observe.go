package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/minikit/minikit/init/handoff"
	"github.com/minikit/minikit/internal/control"
	"github.com/minikit/minikit/internal/observe"
)

// observerProc is the observer (init/observer): the process that ships
// every log and serves the metrics, started only when the image's
// observe.json or the kernel command line ask for either. Init hands it
// the lines (init/handoff) and restarts it when it dies.
type observerProc struct {
	sender *handoff.Sender
	peer   *os.File // the observer's end, kept so that lines outlive it
	arg    string

	mu       sync.Mutex
	stopping bool
	exited   chan struct{} // of the process running now; nil when none
}

// startObserver starts the observer if anything is to leave the machine.
// A destination that is wrong is named on the console by the observer
// and left out; the others still go.
func (in *initSys) startObserver(cmdline string) {
	cfg, err := observe.Read(in.path(observe.File))
	if err != nil {
		slog.Error("the image's observe settings are unreadable; only the kernel command line's apply", "err", err)
	}
	cfg.Merge(observe.FromCmdline(cmdline))
	if len(cfg.Logs) == 0 && cfg.Metrics == "" {
		return
	}
	args := observe.ObserverArgs{Config: cfg, Control: in.path(ControlSocket),
		BootID: strings.TrimSpace(readFile("/proc/sys/kernel/random/boot_id"))}
	if cfg.LogCA != "" {
		// Unreadable, it is passed empty: the observer then trusts no
		// syslog+tls receiver and says so.
		pem, err := os.ReadFile(in.path(cfg.LogCA))
		if err != nil {
			slog.Error("the syslog+tls destinations' CA is unreadable", "err", err)
		}
		args.LogCA = string(pem)
	}
	arg, err := json.Marshal(args)
	if err != nil {
		slog.Error("no observer: its arguments", "err", err)
		return
	}
	sender, peer, err := handoff.Pair()
	if err != nil {
		slog.Error("no observer: no logs leave the machine and no metrics are served", "err", err)
		return
	}
	o := &observerProc{sender: sender, peer: peer, arg: string(arg)}
	in.observer = o
	in.goSafe("observer figures", sender.ReadStats)
	if len(cfg.Logs) > 0 {
		// Lines logged so far go first, from the logs' rings.
		in.outputs.ShipTo(sender.Send)
	}
	in.goSafe("observer", func() { o.supervise(in) })
}

// Restarts of an observer that keeps dying back off up to a bound; one
// that ran for a while starts again at once.
const (
	observerFirstRetry = time.Second
	observerMaxRetry   = 30 * time.Second
	observerRanLong    = time.Minute
)

func (o *observerProc) supervise(in *initSys) {
	wait := observerFirstRetry
	for {
		start := time.Now()
		err := o.run(in)
		if o.isStopping() {
			return
		}
		if time.Since(start) > observerRanLong {
			wait = observerFirstRetry
		}
		slog.Error("the observer ended; it starts again", "err", err, "in", wait)
		time.Sleep(wait)
		wait = min(2*wait, observerMaxRetry)
		if o.isStopping() {
			return
		}
	}
}

func (o *observerProc) isStopping() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.stopping
}

// run runs the observer once, its output in the log named after it.
func (o *observerProc) run(in *initSys) error {
	out, done := in.outputs.ForContainer(observe.ObserverName)
	defer done()
	cmd := &exec.Cmd{
		Path:       in.path(observe.ObserverBinary),
		Args:       []string{observe.ObserverName, o.arg},
		Stdout:     out,
		Stderr:     out,
		ExtraFiles: []*os.File{o.peer}, // observe.HandoffFD
	}
	// The reaper must not take the observer's exit status from Wait.
	release := in.reaper.holdStart()
	err := cmd.Start()
	if err == nil {
		in.reaper.own(cmd.Process.Pid)
	}
	release()
	if err != nil {
		return err
	}
	exited := make(chan struct{})
	o.mu.Lock()
	o.exited = exited
	o.mu.Unlock()
	// As for a container: no thread held in waitid(2) while it runs.
	if werr := awaitExit(cmd.Process.Pid); werr != nil {
		slog.Debug("waiting for the observer's exit with a thread of its own", "err", werr)
	}
	err = cmd.Wait()
	in.reaper.disown(cmd.Process.Pid)
	o.mu.Lock()
	o.exited = nil
	o.mu.Unlock()
	close(exited)
	return err
}

// shipDrainWait bounds how long a shutdown waits for the observer to
// send the lines it still holds.
const shipDrainWait = 3 * time.Second

// stopObserver tells the observer that nothing follows and gives it a
// last, bounded chance to send what it holds.
func (in *initSys) stopObserver() {
	o := in.observer
	if o == nil {
		return
	}
	o.mu.Lock()
	o.stopping = true
	exited := o.exited
	o.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), shipDrainWait)
	defer cancel()
	if err := o.sender.End(ctx); err != nil {
		slog.Warn("shutdown: log lines may be lost", "err", err)
		return
	}
	if exited == nil {
		return
	}
	select {
	case <-exited:
	case <-ctx.Done():
		slog.Warn("shutdown: the observer did not finish sending; log lines may be lost")
	}
}

// Metrics is what init knows of the system, for svcctl and the observer
// to write as Prometheus' text (init/metrics).
func (b controlBackend) Metrics() control.Metrics {
	m := control.Metrics{Services: b.sup.Statuses(), Phases: b.timeline.Phases(), Init: *initMemory()}
	for _, v := range b.outputs.Volumes() {
		m.Logs = append(m.Logs, control.LogVolume{Name: v.Name, Lines: v.Lines, Bytes: v.Bytes})
	}
	if b.observer != nil {
		m.Shipping = b.observer.sender.Stats()
	}
	return m
}
