package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// PID 1 must not die of a signal: the kernel panics when it exits. The
// kernel already drops, for a namespace's init, every signal left at its
// default action, but the Go runtime installs a handler for nearly all of
// them, and its default answer to SIGHUP, SIGTERM, SIGQUIT, SIGABRT,
// SIGILL, SIGTRAP, SIGSYS, SIGSTKFLT, and to a SIGSEGV, SIGBUS or SIGFPE
// that another process sent, is to end the program. A signal passed to
// signal.Notify is delivered to init's channel instead. For the fault
// signals the runtime tells a sent one (si_code SI_USER or SI_TKILL) from
// a real fault by the kernel, and only the sent one goes to the channel:
// a real fault still panics (and kills, past the guard, as it should).

// catchSignals routes every signal init may be sent to one channel.
func catchSignals() chan os.Signal {
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, caughtSignals()...)
	if err := presentSentFaultsAsSent(); err != nil {
		slog.Error("a fault signal sent with sigqueue can still end init: "+err.Error(), "err", err)
	}
	return sigs
}

// caughtSignals are the signals 1 to 64 but SIGKILL and SIGSTOP, which
// cannot be caught, and those the runtime and libc keep for themselves:
// SIGURG (goroutine preemption), SIGPROF (profiling) and 32 to 34
// (glibc's thread cancellation and setxid, musl's synccall): taking
// those from them would break the runtime, not protect it.
func caughtSignals() []os.Signal {
	var out []os.Signal
	for s := syscall.Signal(1); s <= 64; s++ {
		switch {
		case s == unix.SIGKILL, s == unix.SIGSTOP, s == unix.SIGURG, s == unix.SIGPROF:
		case s >= 32 && s <= 34:
		default:
			out = append(out, s)
		}
	}
	return out
}

// handleSignals has orphans reaped on SIGCHLD and turns the signals
// users expect of a container OS into shutdown requests; it ignores the
// others, saying so. It runs from the start of boot, so that orphans of
// onboot containers are reaped as they die.
func (in *initSys) handleSignals(sigs chan os.Signal) {
	tick := time.NewTicker(5 * time.Second) // a safety net for coalesced SIGCHLDs
	defer tick.Stop()
	for {
		select {
		case sig := <-sigs:
			in.handleSignal(sig)
		case <-tick.C:
			in.reaper.childExited()
		}
	}
}

func (in *initSys) handleSignal(sig os.Signal) {
	switch sig {
	case unix.SIGCHLD:
		in.reaper.childExited()
	case unix.SIGTERM, unix.SIGUSR2, unix.SIGPWR:
		in.requestShutdown("poweroff")
	case unix.SIGINT:
		in.requestShutdown("reboot")
	case unix.SIGPIPE:
		// Not a word: a log line written to a console that went away
		// raises SIGPIPE, and saying so would write another.
	default:
		name := fmt.Sprint(sig)
		if s, ok := sig.(syscall.Signal); ok {
			name = signalName(s)
		}
		slog.Info("ignored "+name+": it asks nothing of PID 1", "signal", name)
	}
}

// signalName names a signal as kill -l does, or by its number.
func signalName(s syscall.Signal) string {
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}
