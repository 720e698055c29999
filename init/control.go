package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/minikit/minikit/init/boottime"
	"github.com/minikit/minikit/init/logs"
	"github.com/minikit/minikit/init/supervisor"
	"github.com/minikit/minikit/internal/control"
	"golang.org/x/sys/unix"
)

// ControlSocket is where init serves its control API (HTTP with JSON).
const ControlSocket = control.Socket

// serveControl serves the control API (internal/control) on a unix
// socket at path, and makes the socket again if it is removed.
func (in *initSys) serveControl(path string) error {
	b := controlBackend{sup: in.sup, outputs: in.outputs, timeline: in.timeline, shutdown: in.requestShutdown, updates: in.updates, observer: in.observer,
		goSafe: in.goSafe, callerGrace: callerGrace}
	srv, err := control.NewServer(b, control.DefaultLimits)
	if err != nil {
		return err
	}
	if err := srv.Serve(path, in.goSafe); err != nil {
		return err
	}
	return nil
}

// controlBackend is what the control API serves: the services of the
// supervisor, the logs, the boot timeline and the power requests.
type controlBackend struct {
	sup      *supervisor.Supervisor
	outputs  *logs.Outputs
	timeline *timeline
	shutdown func(action string) // "poweroff" or "reboot"
	updates  *updater            // the slots, for control.Updater (update.go)
	observer *observerProc       // nil when there is none
	goSafe   func(what string, fn func())
	// callerGrace bounds the wait for the caller of a power request to
	// exit before the shutdown begins.
	callerGrace time.Duration
}

func (b controlBackend) Services() []control.Service { return b.sup.Statuses() }

func (b controlBackend) Service(name string) (control.Service, bool) { return b.sup.Status(name) }

func (b controlBackend) Act(ctx context.Context, name, action string) error {
	return b.sup.Act(ctx, name, action)
}

// Log finds the log called name; a service has one even before it
// writes anything.
func (b controlBackend) Log(name string) (control.Log, bool) {
	if sink := b.outputs.Lookup(name); sink != nil {
		return sink, true
	}
	if _, isService := b.sup.Status(name); isService {
		return b.outputs.Sink(name), true
	}
	return nil, false
}

func (b controlBackend) LogNames() []string { return b.outputs.Names() }

func (b controlBackend) Analysis() control.Analysis {
	return control.Analysis{Now: boottime.Now(), Phases: b.timeline.Phases(), Services: b.sup.BootTimes(), Init: initMemory()}
}

// callerGrace is how long a shutdown asked for through the control API
// waits for its caller to exit.
const callerGrace = 3 * time.Second

// Power refuses starts from now on, so that nothing starts behind the
// shutdown's back, and asks the main loop to shut down once the caller
// has exited, or callerGrace has passed. svcctl run over ssh
// (`svcctl update --reboot`, `svcctl reboot`) prints the answer as it
// exits, and sshd relays it then: a shutdown that stopped sshd first
// lost it. The wait never holds PID 1: it has a goroutine of its own,
// and a caller that lingers only delays the shutdown by the grace.
func (b controlBackend) Power(action string, caller *control.Caller) {
	b.sup.RefuseStarts()
	gone, ok := callerExit(caller)
	if !ok {
		b.shutdown(action)
		return
	}
	b.goSafe("shutdown after its caller", func() {
		if err := gone(b.callerGrace); err != nil {
			slog.Info("shutdown: its caller is still there; going on", "pid", caller.PID, "err", err)
		}
		b.shutdown(action)
	})
}

// callerExit returns a function that waits, at most a given time, for
// the caller's process to exit; ok is false when there is none to wait
// for. The process is taken now, while it still waits for its answer,
// so that its pid cannot be another's by the time the wait begins.
func callerExit(caller *control.Caller) (wait func(time.Duration) error, ok bool) {
	if caller == nil || caller.Err != nil || caller.PID <= 1 {
		return nil, false // PID 0: outside init's PID namespace
	}
	f, err := openPidfd(caller.PID)
	if err != nil {
		return nil, false
	}
	return func(limit time.Duration) error {
		defer f.Close()
		if err := f.SetReadDeadline(time.Now().Add(limit)); err != nil {
			return err
		}
		// A pidfd is readable once its process has exited. The caller
		// is not init's child: waitid, as awaitExit asks, would not
		// answer for it.
		return pollPidfd(f, func(fd int) bool {
			n, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
			return n > 0
		})
	}, true
}
