package supervisor

import (
	"testing"
	"time"

	"github.com/minikit/minikit/internal/control"
)

func TestRestarterDecisions(t *testing.T) {
	r := defaultRestarter
	quick := time.Second
	tests := []struct {
		name     string
		policy   restartPolicy
		failures int
		exit     int
		ran      time.Duration
		want     verdict
	}{
		{"a first crash waits the base", restartAlways, 0, 1, quick, verdict{state: control.StateBackoff, wait: 100 * time.Millisecond, failures: 1}},
		{"each crash in a row doubles the wait", restartAlways, 3, 1, quick, verdict{state: control.StateBackoff, wait: 800 * time.Millisecond, failures: 4}},
		{"the wait stops at the cap", restartAlways, 6, 1, quick, verdict{state: control.StateBackoff, wait: 5 * time.Second, failures: 7}},
		{"the limit-th crash in a row fails the service", restartAlways, 7, 1, quick, verdict{state: control.StateFailed, failures: 8}},
		{"a stable run forgives earlier crashes", restartAlways, 7, 1, 10 * time.Second, verdict{state: control.StateBackoff, wait: 100 * time.Millisecond, failures: 1}},
		{"always restarts a clean exit too", restartAlways, 0, 0, quick, verdict{state: control.StateBackoff, wait: 100 * time.Millisecond, failures: 1}},
		{"a failed start counts", restartAlways, 0, -1, 0, verdict{state: control.StateBackoff, wait: 100 * time.Millisecond, failures: 1}},
		{"on-failure leaves a clean exit", restartOnFailure, 2, 0, quick, verdict{state: control.StateExited, failures: 2}},
		{"on-failure restarts a signal death", restartOnFailure, 0, 137, quick, verdict{state: control.StateBackoff, wait: 100 * time.Millisecond, failures: 1}},
		{"never leaves a clean exit exited", restartNever, 0, 0, quick, verdict{state: control.StateExited}},
		{"never fails a failure", restartNever, 0, 2, quick, verdict{state: control.StateFailed, failures: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.policy = tt.policy
			got := r.next(tt.failures, tt.exit, tt.ran)
			got.reason = ""
			if got != tt.want {
				t.Errorf("next(%d failures, exit %d, ran %v) = %+v, want %+v", tt.failures, tt.exit, tt.ran, got, tt.want)
			}
		})
	}
}

func TestParseRestartPolicy(t *testing.T) {
	for _, s := range []string{"", "always", "on-failure", "never"} {
		p, err := parseRestartPolicy(s)
		if err != nil {
			t.Errorf("parseRestartPolicy(%q): %v", s, err)
		}
		if s != "" && p.String() != s {
			t.Errorf("parseRestartPolicy(%q).String() = %q", s, p)
		}
	}
	if _, err := parseRestartPolicy("sometimes"); err == nil {
		t.Error("parseRestartPolicy accepted \"sometimes\"")
	}
}
