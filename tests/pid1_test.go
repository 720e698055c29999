package tests

import (
	"testing"

	"github.com/minikit/minikit/tests/harness"
	"github.com/minikit/minikit/tools/qemu"
)

// An onboot container that fails and one that hangs past its timeout are
// logged with how they ended, and boot goes on; SIGTERM to PID 1 powers
// the system off cleanly.
func TestFailingOnbootDoesNotStopBootAndSIGTERMPowersOff(t *testing.T) {
	image := build(t, "failures", "images/smoke.yml", "images/failures.yml")
	m := harness.Boot(t, image)

	m.Expect(`001-fails: about to fail`, bootTimeout)
	m.Expect(`onboot 001-fails exited 3 in`, bootTimeout)
	m.Expect(`002-hangs: hanging`, bootTimeout)
	m.Expect(`onboot 002-hangs timed out`, bootTimeout)
	m.Expect(`onboot 002-hangs exited 137 in`, bootTimeout)
	m.Expect(`003-after: boot went on`, bootTimeout)
	m.Expect(`service reader started`, bootTimeout)

	sent := m.Expect(`terminator: sending SIGTERM to init`, bootTimeout)
	m.ExpectAfter(sent, `shutdown: poweroff`, bootTimeout)
	if exit := m.WaitExit(bootTimeout); !exit.Clean() {
		t.Fatalf("SIGTERM to init did not power off cleanly: %v", exit)
	}
}

// Ctrl-Alt-Del reboots: the kernel hands it to init as SIGINT (its own
// hard reboot is disabled), and init shuts down cleanly before rebooting.
func TestCtrlAltDelReboots(t *testing.T) {
	image := build(t, "smoke", "images/smoke.yml")
	m := harness.Boot(t, image)
	m.Expect(`reader: reader says: written by onboot`, bootTimeout)
	if err := m.VM().CtrlAltDel(); err != nil {
		t.Fatal(err)
	}
	m.Expect(`shutdown: reboot`, bootTimeout)
	m.Expect(`service reader exited 0`, bootTimeout)
	exit := m.WaitExit(bootTimeout)
	if exit.Reason != qemu.ExitReset {
		t.Fatalf("Ctrl-Alt-Del ended the machine with %v, want a reset (reboot)", exit)
	}
}
