package qemu

import (
	"fmt"
	"strings"
)

// ExitReason says why a VM stopped.
type ExitReason int

// The ways a VM can stop. Only ExitPoweroff is a clean end.
const (
	// ExitUnknown is the zero value; Wait never returns it.
	ExitUnknown ExitReason = iota
	// ExitPoweroff: the guest powered itself off (ACPI, reboot(2) with
	// RB_POWER_OFF).
	ExitPoweroff
	// ExitReset: the guest rebooted or reset (triple fault, panic=N), which
	// ends qemu because it runs with -no-reboot.
	ExitReset
	// ExitPanic: the guest reported a panic through a pvpanic device. A
	// kernel without the driver panics on the console only: see
	// Exit.Panic.
	ExitPanic
	// ExitHostQuit: qemu was told to quit from the host side: a QMP quit, a
	// signal to the qemu process, or its user interface.
	ExitHostQuit
	// ExitKilled: VM.Kill or the end of Start's context stopped qemu.
	ExitKilled
	// ExitTimedOut: WaitTimeout or Start's context deadline ran out and
	// qemu was killed.
	ExitTimedOut
	// ExitFailed: qemu ended without the guest shutting down, for example
	// because of a bad option or a crash; Wait's error says more.
	ExitFailed
)

var exitReasonNames = map[ExitReason]string{
	ExitUnknown:  "unknown",
	ExitPoweroff: "guest powered off",
	ExitReset:    "guest reset",
	ExitPanic:    "guest panicked",
	ExitHostQuit: "qemu quit on the host's request",
	ExitKilled:   "killed",
	ExitTimedOut: "timed out and killed",
	ExitFailed:   "qemu failed",
}

func (r ExitReason) String() string {
	if s, ok := exitReasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("ExitReason(%d)", int(r))
}

// Exit tells how a VM stopped.
type Exit struct {
	Reason ExitReason
	// Shutdown is the reason qemu gave in its SHUTDOWN event, such as
	// "guest-shutdown" or "guest-reset"; empty when there was none.
	Shutdown string
	// Guest is true when the SHUTDOWN event says the guest caused it.
	Guest bool
	// Code is qemu's exit status, or -1 when a signal ended it.
	Code int
	// Panic is the console line where the kernel said it panicked, if it
	// did and the guest did not power off cleanly after all. The Reason
	// stays what ended qemu (a reset for panic=N, a kill after a hang).
	Panic string
}

// Panicked reports whether the guest's kernel panicked, by pvpanic or on
// the console.
func (e Exit) Panicked() bool { return e.Reason == ExitPanic || e.Panic != "" }

// Clean reports whether the guest powered itself off: the one ending that
// means every service stopped and every disk was synced.
func (e Exit) Clean() bool { return e.Reason == ExitPoweroff }

func (e Exit) String() string {
	s := e.Reason.String()
	if e.Shutdown != "" {
		s += " (" + e.Shutdown + ")"
	}
	if e.Reason == ExitFailed {
		s += fmt.Sprintf(": exit code %d", e.Code)
	}
	if e.Panic != "" {
		s += ": " + strings.TrimSpace(e.Panic)
	}
	return s
}

// shutdownEvent is the data of QMP's SHUTDOWN event.
type shutdownEvent struct {
	Guest  bool   `json:"guest"`
	Reason string `json:"reason"`
}

// classify decides how a VM stopped from what was observed: the SHUTDOWN
// event if one came, whether (and why) we killed qemu first, and qemu's
// exit code.
func classify(shutdown *shutdownEvent, killed ExitReason, code int) Exit {
	e := Exit{Code: code}
	if shutdown != nil {
		e.Shutdown, e.Guest = shutdown.Reason, shutdown.Guest
	}
	switch {
	case killed != ExitUnknown:
		// Killing only counts when the guest had not already shut down;
		// VM.kill does not record a reason after a SHUTDOWN event.
		e.Reason = killed
	case shutdown == nil:
		e.Reason = ExitFailed
	default:
		e.Reason = shutdownReason(*shutdown)
	}
	return e
}

// shutdownReason maps the reasons of qemu's ShutdownCause enum.
func shutdownReason(s shutdownEvent) ExitReason {
	switch s.Reason {
	case "guest-shutdown":
		return ExitPoweroff
	case "guest-reset", "host-qmp-system-reset", "subsystem-reset":
		return ExitReset
	case "guest-panic":
		return ExitPanic
	case "host-qmp-quit", "host-signal", "host-ui":
		return ExitHostQuit
	}
	if s.Guest {
		return ExitReset
	}
	return ExitHostQuit
}

// withPanic records a kernel panic seen on the console line panicLine
// ("" when none). A guest that still powered off cleanly did not panic
// for good.
func withPanic(e Exit, panicLine string) Exit {
	if panicLine == "" || e.Reason == ExitPoweroff {
		return e
	}
	e.Panic = panicLine
	return e
}
