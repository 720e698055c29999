package main

import (
	"context"
	"log/slog"
	"os/exec"
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
	b := controlBackend{sup: sup, outputs: outputs, timeline: newTimeline(), shutdown: func(a string) { asked <- a },
		goSafe: func(_ string, fn func()) { go fn() }, callerGrace: callerGrace}
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
	b.Power("reboot", nil)
	if a := <-asked; a != "reboot" {
		t.Errorf("asked for %s, want reboot", a)
	}
	if err := b.Act(context.Background(), "web", control.ActionRestart); err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("a restart after the power request: %v; want it refused", err)
	}
}

// A shutdown asked through the API waits for its caller to exit, so that
// the answer reaches whoever the caller passes it on to (svcctl over
// ssh), but no longer than the grace: a caller that lingers cannot hold
// the shutdown back.
func TestPowerWaitsForItsCallerToExit(t *testing.T) {
	b, asked := backendOver(t, "web")
	b.callerGrace = time.Minute
	caller := exec.Command("sleep", "0.5")
	if err := caller.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = caller.Wait() })
	began := time.Now()
	b.Power("reboot", &control.Caller{PID: caller.Process.Pid})
	if a := <-asked; a != "reboot" {
		t.Errorf("asked for %s, want reboot", a)
	}
	// The caller exits half a second after it started, a little before
	// Power was called; the grace is a minute.
	if took := time.Since(began); took < 400*time.Millisecond || took > 30*time.Second {
		t.Errorf("the shutdown began %v after it was asked, want once its caller exited, 0.5 s", took)
	}

	b, asked = backendOver(t, "web")
	b.callerGrace = 200 * time.Millisecond
	lingerer := exec.Command("sleep", "60")
	if err := lingerer.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lingerer.Process.Kill(); _ = lingerer.Wait() })
	b.Power("poweroff", &control.Caller{PID: lingerer.Process.Pid})
	select {
	case a := <-asked:
		if a != "poweroff" {
			t.Errorf("asked for %s, want poweroff", a)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a caller that does not exit held the shutdown back past the grace")
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
