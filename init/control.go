package main

import (
	"context"

	"github.com/minikit/minikit/init/boottime"
	"github.com/minikit/minikit/init/logs"
	"github.com/minikit/minikit/init/supervisor"
	"github.com/minikit/minikit/internal/control"
)

// ControlSocket is where init serves its control API (HTTP with JSON).
const ControlSocket = control.Socket

// serveControl serves the control API (internal/control) on a unix
// socket at path, and makes the socket again if it is removed.
func (in *initSys) serveControl(path string) error {
	b := controlBackend{sup: in.sup, outputs: in.outputs, timeline: in.timeline, shutdown: in.requestShutdown, updates: in.updates, observer: in.observer}
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

// Power refuses starts from now on, so that nothing starts behind the
// shutdown's back, and asks the main loop to shut down.
func (b controlBackend) Power(action string) {
	b.sup.RefuseStarts()
	b.shutdown(action)
}
