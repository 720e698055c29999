package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/init/logs"
	"github.com/minikit/minikit/init/supervisor"
	"github.com/minikit/minikit/internal/control"
)

// backendOver is init's control backend over services whose bundles are
// missing, so that they are listed, failed and never started, and a
// shutdown that only records what it was asked.
func backendOver(t *testing.T, names ...string) (controlBackend, <-chan string) {
	t.Helper()
	old := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler)) // "cannot start", for each
	t.Cleanup(func() { slog.SetDefault(old) })
	outputs := logs.New(nil, "", nil)
	sup := supervisor.New(supervisor.Options{Clock: systemClock{}, Logs: outputs})
	for _, name := range names {
		sup.Add(supervisor.LoadConfig(name, t.TempDir()))
	}
	sup.Run()
	asked := make(chan string, 1)
	b := controlBackend{sup: sup, outputs: outputs, timeline: newTimeline(), shutdown: func(a string) { asked <- a }}
	return b, asked
}

func TestAServiceHasALogBeforeItWritesAnything(t *testing.T) {
	b, _ := backendOver(t, "web")
	log, ok := b.Log("web")
	if !ok || len(log.Tail(-1)) != 0 {
		t.Errorf("the log of a service that never ran: %v, %v; want an empty log", log, ok)
	}
	if log, ok := b.Log("ghost"); ok {
		t.Errorf("a name that is no service has a log: %v", log)
	}
	if _, ok := b.Log("init"); !ok {
		t.Error("init has no log")
	}
}

func TestPowerRefusesEveryLaterStart(t *testing.T) {
	b, asked := backendOver(t, "web")
	b.Power("reboot")
	if a := <-asked; a != "reboot" {
		t.Errorf("asked for %s, want reboot", a)
	}
	if err := b.Act(context.Background(), "web", control.ActionRestart); err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("a restart after the power request: %v; want it refused", err)
	}
}

func TestTheAnalysisHoldsThePhasesAndTheServices(t *testing.T) {
	b, _ := backendOver(t, "db", "web")
	b.timeline.add(control.Phase{Name: "onboot", Start: time.Second, End: 2 * time.Second})
	a := b.Analysis()
	if len(a.Phases) != 1 || a.Phases[0].Name != "onboot" || len(a.Services) != 2 || a.Services[1].Name != "web" || a.Now == 0 {
		t.Errorf("analysis: %+v", a)
	}
	if list := b.Services(); len(list) != 2 || list[0].State != control.StateFailed {
		t.Errorf("services with broken bundles: %+v; want both listed, failed", list)
	}
}
