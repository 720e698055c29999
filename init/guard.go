package main

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

// Every goroutine of init runs under the panic guard. A panic must not
// end PID 1 (the kernel would panic), nor leave a loop silently gone (a
// service no longer supervised, signals no longer handled): the guard
// logs it and runs the function again after a backoff, and when it keeps
// panicking, gives up the way minikit.onfail says a failed boot does.

// Bounds of the guard.
const (
	guardFirstWait = 100 * time.Millisecond
	guardMaxWait   = 5 * time.Second
	guardLimit     = 5           // panics in a row before the guard gives up
	guardForgive   = time.Minute // a run this long before its panic starts the count again
)

// guard runs functions again after they panic.
type guard struct {
	now    func() time.Time
	sleep  func(time.Duration)
	giveUp func(what string, err error) // past guardLimit
}

func newGuard(giveUp func(what string, err error)) *guard {
	return &guard{now: time.Now, sleep: time.Sleep, giveUp: giveUp}
}

// run calls fn until it returns without a panic; past guardLimit panics
// in a row it gives up instead. fn must be safe to run again after it
// panicked: whatever it must do once at its end it does without defer.
func (g *guard) run(what string, fn func()) {
	panics := 0
	for {
		started := g.now()
		p, stack := callRecovering(fn)
		if p == nil {
			return
		}
		if g.now().Sub(started) >= guardForgive {
			panics = 0
		}
		panics++
		slog.Error(fmt.Sprintf("panic in %s: %v", what, p), "panics", panics, "stack", stack)
		if panics >= guardLimit {
			g.giveUp(what, fmt.Errorf("%s panicked %d times in a row, last: %v", what, panics, p))
			return
		}
		wait := guardWait(panics)
		slog.Warn(fmt.Sprintf("%s runs again in %s", what, wait))
		g.sleep(wait)
	}
}

// guardWait is the wait after the n-th panic in a row: doubling from
// guardFirstWait up to guardMaxWait.
func guardWait(n int) time.Duration {
	wait := guardFirstWait
	for i := 1; i < n && wait < guardMaxWait; i++ {
		wait *= 2
	}
	return min(wait, guardMaxWait)
}

// callRecovering calls fn and returns what it panicked with, if it did,
// and where.
func callRecovering(fn func()) (p any, stack string) {
	panicked := true
	defer func() {
		if panicked {
			p = recover()
			if p == nil {
				p = "panic(nil) or runtime.Goexit"
			}
			stack = string(debug.Stack())
		}
	}()
	fn()
	panicked = false
	return nil, ""
}

// goSafe runs fn in a goroutine under init's guard.
func (in *initSys) goSafe(what string, fn func()) {
	go in.guard.run(what, fn)
}

// giveUp is what the guard does when a part of init keeps panicking: as
// minikit.onfail says, a clean poweroff or reboot, or a shell on the
// console and then a poweroff. The shutdown is the main loop's, so that
// it is the only one.
func (in *initSys) giveUp(what string, err error) {
	slog.Error("init cannot go on: "+err.Error(), "part", what, "onfail", in.opts.onfail)
	in.recordTrialFailure("init cannot go on: " + err.Error())
	switch in.opts.onfail {
	case "reboot":
		in.requestShutdown("reboot")
	case "shell":
		in.flushConsole()
		emergencyShell()
		in.requestShutdown("poweroff")
	default:
		in.requestShutdown("poweroff")
	}
}
