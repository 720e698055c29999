package tests

import (
	"testing"
	"time"

	"github.com/minikit/minikit/tests/harness"
)

const bootTimeout = 90 * time.Second // TCG is slow; this bounds a hang, it measures nothing

// TestSmokeBoot boots the thinnest real system and checks, from its
// console, that every promise of the boot path holds.
func TestSmokeBoot(t *testing.T) {
	image := build(t, "smoke", "images/smoke.yml", "images/poweroff.yml")
	m := harness.Boot(t, image)

	// The root is the image, mounted through its verity device.
	m.Expect(`root image mounted device=/dev/mapper/minikit-root verified=true`, bootTimeout)
	initNS := m.Expect(`init namespaces pid:\[(\d+)\] mnt:\[(\d+)\]`, bootTimeout)
	m.Expect(`000-hello: check: / is read-only`, bootTimeout)
	m.Expect(`000-hello: check: /run is writable`, bootTimeout)
	onboot := m.Expect(`onboot 000-hello exited 0 in`, bootTimeout)
	started := m.Expect(`service reader started \(pid \d+\)`, bootTimeout)
	if started.Index < onboot.Index {
		t.Errorf("the service started (line %d) before onboot finished (line %d)", started.Index, onboot.Index)
	}

	ns := m.Expect(`reader: namespaces pid:\[(\d+)\] mnt:\[(\d+)\] pid-in-container=(\d+)`, bootTimeout)
	if ns.Groups[1] == initNS.Groups[1] {
		t.Errorf("the service shares init's PID namespace %s", ns.Groups[1])
	}
	if ns.Groups[2] == initNS.Groups[2] {
		t.Errorf("the service shares init's mount namespace %s", ns.Groups[2])
	}
	if ns.Groups[3] != "1" {
		t.Errorf("the service's shell is pid %s in its namespace, want 1", ns.Groups[3])
	}
	// Once up, init shows the init image's /etc/issue, as LinuxKit's does.
	m.ExpectAfter(onboot, `^Welcome to minikit$`, bootTimeout)
	says := m.ExpectAfter(started, `reader: reader says: written by onboot`, bootTimeout)
	m.ExpectAfter(says, `reader: reader says: written by onboot`, 10*time.Second) // still running

	// The stopper service asks for a poweroff through the control socket.
	m.Expect(`control: poweroff`, bootTimeout)
	m.Expect(`service reader exited 0`, bootTimeout) // stopped by its stop signal, not killed
	if exit := m.WaitExit(bootTimeout); !exit.Clean() {
		t.Fatalf("the system did not power off cleanly: %v", exit)
	}
}

// TestPowerButton checks that the ACPI power button (qemu's
// system_powerdown) shuts the system down cleanly.
func TestPowerButton(t *testing.T) {
	image := build(t, "smoke", "images/smoke.yml")
	m := harness.Boot(t, image)
	m.Expect(`reader: reader says: written by onboot`, bootTimeout)
	m.Shutdown(bootTimeout)
	m.Expect(`power button pressed`, time.Second)
	m.Expect(`shutdown: poweroff now`, time.Second)
}

// TestVolumes boots a system whose containers share volumes and checks
// that each kind behaves as in LinuxKit on minikit's read-only root.
func TestVolumes(t *testing.T) {
	image := build(t, "volumes", "images/volumes.yml", "images/poweroff.yml")
	m := harness.Boot(t, image)
	m.Expect(`000-writer: wrote`, bootTimeout)
	m.Expect(`reader: blank: from onboot`, bootTimeout)
	m.Expect(`reader: tree: changed`, bootTimeout)
	m.Expect(`reader: frozen: runs busybox`, bootTimeout)
	m.Expect(`reader: frozen: write refused`, bootTimeout)
	if exit := m.WaitExit(bootTimeout); !exit.Clean() {
		t.Fatalf("the system did not power off cleanly: %v", exit)
	}
}
