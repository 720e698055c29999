package qemu

import (
	"strings"
	"testing"
)

func TestClassifyTellsHowTheVMStopped(t *testing.T) {
	tests := []struct {
		name     string
		shutdown *shutdownEvent
		killed   ExitReason
		code     int
		want     ExitReason
	}{
		{"poweroff from inside the guest", &shutdownEvent{Guest: true, Reason: "guest-shutdown"}, ExitUnknown, 0, ExitPoweroff},
		{"reboot under -no-reboot", &shutdownEvent{Guest: true, Reason: "guest-reset"}, ExitUnknown, 0, ExitReset},
		{"pvpanic", &shutdownEvent{Guest: true, Reason: "guest-panic"}, ExitUnknown, 0, ExitPanic},
		{"QMP quit", &shutdownEvent{Reason: "host-qmp-quit"}, ExitUnknown, 0, ExitHostQuit},
		{"SIGTERM to qemu", &shutdownEvent{Reason: "host-signal"}, ExitUnknown, 0, ExitHostQuit},
		{"QMP system_reset under -no-reboot", &shutdownEvent{Reason: "host-qmp-system-reset"}, ExitUnknown, 0, ExitReset},
		{"an unknown guest cause", &shutdownEvent{Guest: true, Reason: "guest-something-new"}, ExitUnknown, 0, ExitReset},
		{"an unknown host cause", &shutdownEvent{Reason: "host-something-new"}, ExitUnknown, 0, ExitHostQuit},
		{"killed before any shutdown", nil, ExitKilled, -1, ExitKilled},
		{"timed out", nil, ExitTimedOut, -1, ExitTimedOut},
		{"qemu died on its own", nil, ExitUnknown, 1, ExitFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.shutdown, tt.killed, tt.code)
			if got.Reason != tt.want {
				t.Errorf("classify = %v, want %v", got, tt.want)
			}
			if got.Clean() != (tt.want == ExitPoweroff) {
				t.Errorf("Clean() = %v for %v", got.Clean(), got)
			}
		})
	}
}

func TestExitStringNamesTheCause(t *testing.T) {
	tests := []struct {
		exit Exit
		want string
	}{
		{Exit{Reason: ExitPoweroff, Shutdown: "guest-shutdown", Guest: true}, "guest powered off (guest-shutdown)"},
		{Exit{Reason: ExitTimedOut, Code: -1}, "timed out and killed"},
		{Exit{Reason: ExitFailed, Code: 1}, "qemu failed: exit code 1"},
	}
	for _, tt := range tests {
		if got := tt.exit.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestAPanicOnTheConsoleIsHowTheVMStopped(t *testing.T) {
	const line = "[    2.1] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"
	tests := []struct {
		name     string
		exit     Exit
		panic    string
		panicked bool
	}{
		{"a reset after panic=-1", Exit{Reason: ExitReset}, line, true},
		{"a hang killed at the timeout", Exit{Reason: ExitTimedOut}, line, true},
		{"pvpanic", Exit{Reason: ExitPanic}, "", true},
		{"a clean poweroff despite the line", Exit{Reason: ExitPoweroff}, line, false},
		{"a reset without a panic", Exit{Reason: ExitReset}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := withPanic(tt.exit, tt.panic)
			if got.Panicked() != tt.panicked {
				t.Errorf("withPanic(%v).Panicked() = %v, want %v", tt.exit, got.Panicked(), tt.panicked)
			}
			if got.Reason != tt.exit.Reason {
				t.Errorf("the reason changed from %v to %v: it must stay what ended qemu", tt.exit.Reason, got.Reason)
			}
			if got.Panic != "" && !strings.Contains(got.String(), "Unable to mount root fs") {
				t.Errorf("String() = %q does not quote the panic", got.String())
			}
		})
	}
}
