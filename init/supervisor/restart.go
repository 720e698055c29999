package supervisor

import (
	"fmt"
	"time"

	"github.com/minikit/minikit/internal/control"
)

// restartPolicy is a service's org.minikit.restart annotation.
type restartPolicy int

const (
	restartAlways    restartPolicy = iota // the default
	restartOnFailure                      // only after a non-zero exit
	restartNever
)

func (p restartPolicy) String() string {
	switch p {
	case restartOnFailure:
		return "on-failure"
	case restartNever:
		return "never"
	}
	return "always"
}

func parseRestartPolicy(s string) (restartPolicy, error) {
	switch s {
	case "", "always":
		return restartAlways, nil
	case "on-failure":
		return restartOnFailure, nil
	case "never":
		return restartNever, nil
	}
	return restartAlways, fmt.Errorf("%q is not a restart policy (always, on-failure or never)", s)
}

// wants reports whether the policy restarts a process that exited with
// exit.
func (p restartPolicy) wants(exit int) bool {
	switch p {
	case restartNever:
		return false
	case restartOnFailure:
		return exit != 0
	}
	return true
}

// restarter decides what happens when a service's process ends by itself.
// It is the policy; the supervisor is the mechanism.
type restarter struct {
	policy restartPolicy
	// The wait before restart n (from 1) is base·2^(n-1), at most max.
	base, max time.Duration
	// A run that lasted stable or longer resets the count of failures.
	stable time.Duration
	// After limit failed runs in a row the service is failed: a crash
	// loop. Failed starts count as failed runs.
	limit int
}

// CrashLoopLimit is how many failed runs in a row fail a service.
const CrashLoopLimit = 8

// Defaults of every service. A service that crashes at once is started 8
// times over about 11 s (0.1+0.2+…+3.2+5 s) before it is failed; one that
// ran for 10 s has proven it can, and starts again from a short wait.
var defaultRestarter = restarter{
	policy: restartAlways,
	base:   100 * time.Millisecond,
	max:    5 * time.Second,
	stable: 10 * time.Second,
	limit:  CrashLoopLimit,
}

// verdict is what to do after a process ended.
type verdict struct {
	state    string        // control.StateBackoff, StateExited or StateFailed
	wait     time.Duration // before the restart, in backoff
	failures int           // failed runs in a row, counting this one
	reason   string        // for a failed service: why
}

// next decides after a run that ended with exit (-1 for a failed start)
// after ran, following failures earlier failed runs in a row.
func (r restarter) next(failures, exit int, ran time.Duration) verdict {
	if ran >= r.stable {
		failures = 0
	}
	if !r.policy.wants(exit) {
		if exit == 0 {
			return verdict{state: control.StateExited, failures: failures}
		}
		reason := fmt.Sprintf("exited %d", exit)
		if exit < 0 {
			reason = "failed to start"
		}
		return verdict{state: control.StateFailed, failures: failures + 1, reason: reason + " (restart: " + r.policy.String() + ")"}
	}
	failures++
	if failures >= r.limit {
		return verdict{state: control.StateFailed, failures: failures,
			reason: fmt.Sprintf("crash loop: %d runs in a row ended within %s", failures, r.stable)}
	}
	return verdict{state: control.StateBackoff, wait: r.backoff(failures), failures: failures}
}

// backoff is the wait before restart number n (from 1).
func (r restarter) backoff(n int) time.Duration {
	d := r.base
	for i := 1; i < n && d < r.max; i++ {
		d *= 2
	}
	return min(d, r.max)
}
