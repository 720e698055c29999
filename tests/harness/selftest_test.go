package harness

import (
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/tools/qemu"
)

// The self-tests boot the real kernel with a busybox initrd, so they check
// the harness and the qemu package against a real guest without needing a
// minikit image. They keep the machine small to be light on a shared CI
// host.
var small = []Option{WithCPUs(1), WithMemory(256)}

// Generous, because TCG on a loaded host is slow; these bound a failure,
// they are not performance goals.
const (
	bootTimeout = 2 * time.Minute
	exitTimeout = time.Minute
)

func TestMachineShowsConsoleAndPowersOffCleanly(t *testing.T) {
	prefix := BusyboxImage(t, `
echo "selftest first"
echo "selftest answer=42"
poweroff -f
`, "quiet")
	m := Boot(t, prefix, append(small, WithForward(22))...)

	// The forward is on the command line with the port HostAddr names.
	_, port, _ := strings.Cut(m.HostAddr(22), "127.0.0.1:")
	if want := "hostfwd=tcp:127.0.0.1:" + port + "-:22"; port == "" || !strings.Contains(m.VM().CommandLine(), want) {
		t.Errorf("HostAddr(22) = %s, but the command line lacks %s:\n%s", m.HostAddr(22), want, m.VM().CommandLine())
	}

	answer := m.Expect(`selftest answer=(\d+)`, bootTimeout)
	if got := answer.Groups[1]; got != "42" {
		t.Errorf("submatch = %q, want 42 (line %q)", got, answer.Line)
	}
	first := m.Expect(`selftest first`, bootTimeout)
	if first.Index >= answer.Index {
		t.Errorf("first line has index %d, not before the answer's %d", first.Index, answer.Index)
	}
	if exit := m.WaitExit(exitTimeout); !exit.Clean() {
		t.Errorf("exit = %v, want a clean poweroff", exit)
	}
}

func TestMachineExitsWithTheWayTheGuestStopped(t *testing.T) {
	tests := []struct {
		name   string
		script string
		// stop does what the test's host side does once the guest is up.
		stop func(t *testing.T, m *Machine)
		want qemu.ExitReason
	}{
		{
			name:   "a guest reboot ends qemu as a reset",
			script: "echo selftest up\nreboot -f\n",
			stop:   func(*testing.T, *Machine) {},
			want:   qemu.ExitReset,
		},
		{
			name:   "qmp quit is the host quitting",
			script: "echo selftest up\nwhile true; do sleep 1; done\n",
			stop: func(t *testing.T, m *Machine) {
				if err := m.VM().Quit(); err != nil {
					t.Errorf("quit: %v", err)
				}
			},
			want: qemu.ExitHostQuit,
		},
		{
			name:   "kill is reported as killed",
			script: "echo selftest up\nwhile true; do sleep 1; done\n",
			stop:   func(_ *testing.T, m *Machine) { m.VM().Kill() },
			want:   qemu.ExitKilled,
		},
		{
			// Without the acpi button driver nobody hears the button, so
			// only the timeout ends the machine.
			name:   "a guest ignoring the power button times out",
			script: "echo selftest up\nwhile true; do sleep 1; done\n",
			stop:   func(_ *testing.T, m *Machine) { m.Powerdown() },
			want:   qemu.ExitTimedOut,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := Boot(t, BusyboxImage(t, tt.script, "quiet"), small...)
			m.Expect("selftest up", bootTimeout)
			tt.stop(t, m)
			timeout := exitTimeout
			if tt.want == qemu.ExitTimedOut {
				timeout = 3 * time.Second
			}
			if exit := m.WaitExit(timeout); exit.Reason != tt.want {
				t.Errorf("exit = %v, want %v", exit, tt.want)
			}
		})
	}
}

// BenchmarkBusyboxBootToPoweroff is the cost of one VM in a test: qemu's
// start, the kernel's boot to /init, and a clean poweroff. It is the floor
// under every test that boots an image.
func BenchmarkBusyboxBootToPoweroff(b *testing.B) {
	prefix := BusyboxImage(b, "poweroff -f\n", "quiet")
	for b.Loop() {
		m := Boot(b, prefix, small...)
		if exit := m.WaitExit(exitTimeout); !exit.Clean() {
			b.Fatalf("exit = %v, want a clean poweroff", exit)
		}
	}
}
