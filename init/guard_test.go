package main

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// testGuard is a guard whose waits are recorded instead of slept, and
// whose clock a test moves.
type testGuard struct {
	*guard
	now    time.Time
	waits  []time.Duration
	gaveUp []error
}

func newTestGuard(t *testing.T) *testGuard {
	t.Helper()
	old := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	t.Cleanup(func() { slog.SetDefault(old) })
	g := &testGuard{now: time.Unix(1e9, 0)}
	g.guard = &guard{
		now:    func() time.Time { return g.now },
		sleep:  func(d time.Duration) { g.waits = append(g.waits, d) },
		giveUp: func(_ string, err error) { g.gaveUp = append(g.gaveUp, err) },
	}
	return g
}

func TestAGuardedLoopThatPanicsRunsAgainAfterABackoff(t *testing.T) {
	g := newTestGuard(t)
	runs := 0
	g.run("the loop", func() {
		runs++
		if runs <= 3 {
			panic("injected")
		}
	})
	if runs != 4 {
		t.Errorf("the loop ran %d times, want 4: three panics, then a clean end", runs)
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
	if len(g.waits) != len(want) || g.waits[0] != want[0] || g.waits[1] != want[1] || g.waits[2] != want[2] {
		t.Errorf("waits %v, want %v", g.waits, want)
	}
	if len(g.gaveUp) != 0 {
		t.Errorf("the guard gave up: %v", g.gaveUp)
	}
}

func TestAGuardedLoopThatKeepsPanickingFailsTheSystem(t *testing.T) {
	g := newTestGuard(t)
	runs := 0
	g.run("the loop", func() {
		runs++
		var m map[string]int
		m["x"]++ // a nil map: a runtime error, as a real bug would be
	})
	if runs != guardLimit {
		t.Errorf("the loop ran %d times, want %d", runs, guardLimit)
	}
	if len(g.gaveUp) != 1 || !strings.Contains(g.gaveUp[0].Error(), "the loop panicked 5 times in a row") {
		t.Fatalf("gave up %v, want once, naming the loop", g.gaveUp)
	}
	if len(g.waits) != guardLimit-1 {
		t.Errorf("waits %v", g.waits)
	}
}

// A loop that ran well for long before it panicked is not counted
// toward the limit with the panics of long ago.
func TestAGuardForgivesPanicsFarApart(t *testing.T) {
	g := newTestGuard(t)
	runs := 0
	g.run("the loop", func() {
		runs++
		if runs > 2*guardLimit {
			return
		}
		g.now = g.now.Add(guardForgive) // ran for a minute, then panicked
		panic("injected")
	})
	if len(g.gaveUp) != 0 {
		t.Errorf("the guard gave up on panics a minute apart: %v", g.gaveUp)
	}
	for _, w := range g.waits {
		if w != guardFirstWait {
			t.Errorf("waits %v, want each the first", g.waits)
			break
		}
	}
}

func TestGivingUpShutsDownAsOnfailSays(t *testing.T) {
	for onfail, want := range map[string]string{"poweroff": "poweroff", "reboot": "reboot"} {
		in := &initSys{shutdownReq: make(chan string, 1), opts: cmdline{onfail: onfail}}
		newTestGuard(t) // for its quiet log
		in.giveUp("the loop", errors.New("the loop panicked 5 times in a row"))
		select {
		case got := <-in.shutdownReq:
			if got != want {
				t.Errorf("onfail=%s: %s requested, want %s", onfail, got, want)
			}
		default:
			t.Errorf("onfail=%s: no shutdown requested", onfail)
		}
	}
}
