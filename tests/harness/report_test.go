package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/tools/qemu"
)

// These tests check that the harness explains failures: each runs a test
// body against a recorder and reads what it reported.

// runHarness is runRecorded, skipping the real test when the recorded one
// skipped (no qemu, no kernel).
func runHarness(t *testing.T, body func(tb testing.TB)) *recorder {
	t.Helper()
	r := runRecorded(t, body)
	if r.Skipped() {
		t.Skip(r.logText())
	}
	return r
}

func TestBootWithoutABuiltImage(t *testing.T) {
	tests := []struct {
		name     string
		require  string
		wantSkip bool
	}{
		{"skips and says what is missing", "", true},
		{"fails when CI requires qemu", "1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(RequireQEMUEnv, tt.require)
			prefix := filepath.Join(t.TempDir(), "never-built")
			r := runRecorded(t, func(tb testing.TB) {
				Boot(tb, prefix)
				tb.Errorf("Boot returned a machine for an image that does not exist")
			})
			if r.Skipped() != tt.wantSkip || r.Failed() == tt.wantSkip {
				t.Errorf("skipped = %v, failed = %v; want skipped = %v", r.Skipped(), r.Failed(), tt.wantSkip)
			}
			said := r.logText() + r.errorText()
			if !strings.Contains(said, prefix) && !strings.Contains(said, "qemu-system-x86_64 not found") {
				t.Errorf("the report does not name the image %s or qemu:\n%s", prefix, said)
			}
		})
	}
}

func TestKernelPanicFailsTheTestAtOnce(t *testing.T) {
	// init exiting makes the kernel panic; without panic=N it then hangs,
	// so only the harness can end the machine.
	prefix := BusyboxImage(t, "echo selftest up\nexit 3\n", "quiet")
	var exit qemu.Exit
	r := runHarness(t, func(tb testing.TB) {
		m := Boot(tb, prefix, small...)
		defer func() { exit = m.WaitExit(exitTimeout) }()
		m.Expect("a line that never comes", bootTimeout)
	})
	errs := r.errorText()
	if !strings.Contains(errs, "kernel panic on console line") {
		t.Errorf("the always-on check did not report the panic:\n%s", errs)
	}
	if !strings.Contains(errs, "Attempted to kill init") {
		t.Errorf("Expect's failure does not quote the panic line:\n%s", errs)
	}
	if exit.Reason != qemu.ExitKilled {
		t.Errorf("exit = %v, want the harness to have killed the hung machine", exit)
	}
}

func TestExpectTimeoutShowsTheConsoleAndKeepsTheLog(t *testing.T) {
	logs := t.TempDir()
	t.Setenv(LogsEnv, logs)
	prefix := BusyboxImage(t, "echo selftest up\nwhile true; do sleep 1; done\n", "quiet")
	r := runHarness(t, func(tb testing.TB) {
		m := Boot(tb, prefix, small...)
		m.Expect("selftest up", bootTimeout)
		m.Expect("a line that never comes", time.Second)
		tb.Errorf("Expect returned for a line that never came")
	})
	errs := r.errorText()
	for _, want := range []string{`no console line matching "a line that never comes"`, "timed out after 1s", "selftest up"} {
		if !strings.Contains(errs, want) {
			t.Errorf("the failure does not contain %q:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, "still running") {
		t.Errorf("the never-waited guard piled onto a test that had already failed:\n%s", errs)
	}
	logPath := filepath.Join(logs, logFileBase(t.Name())+".console.log")
	said := r.logText()
	for _, want := range []string{"console log: " + logPath, "qemu command: qemu-system-x86_64 "} {
		if !strings.Contains(said, want) {
			t.Errorf("the cleanup did not log %q:\n%s", want, said)
		}
	}
	saved, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("console log: %v", err)
	}
	if !strings.Contains(string(saved), "selftest up") {
		t.Errorf("the saved console log lacks the console's lines:\n%s", saved)
	}
}

func TestAMachineNeverWaitedForFailsTheTest(t *testing.T) {
	prefix := BusyboxImage(t, "echo selftest up\nwhile true; do sleep 1; done\n", "quiet")
	r := runHarness(t, func(tb testing.TB) {
		m := Boot(tb, prefix, small...)
		m.Expect("selftest up", bootTimeout)
	})
	if !r.Failed() || !strings.Contains(r.errorText(), "still running when the test ended") {
		t.Errorf("failed = %v, errors:\n%s\nwant the guard to fail the test", r.Failed(), r.errorText())
	}
}

func TestLogFileBaseIsASafeFileName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"TestBoot", "TestBoot"},
		{"TestBoot/with disk", "TestBoot_with_disk"},
		{"TestX/a:b*c", "TestX_a_b_c"},
		{"TestY/v1.2-rc", "TestY_v1.2-rc"},
	}
	for _, tt := range tests {
		if got := logFileBase(tt.in); got != tt.want {
			t.Errorf("logFileBase(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
