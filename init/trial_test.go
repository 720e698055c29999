package main

import (
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/control"
	"github.com/minikit/minikit/internal/slots"
)

func lastExit(n int) *int { return &n }

func TestAssess(t *testing.T) {
	running := control.Service{Name: "web", State: control.StateRunning, Ready: true}
	tests := []struct {
		name     string
		services []control.Service
		healthy  bool
		failure  string
	}{
		{"every service runs", []control.Service{running, {Name: "db", State: control.StateReady, Ready: true, Notify: true}}, true, ""},
		{"a oneshot done", []control.Service{running, {Name: "job", State: control.StateExited, LastExit: lastExit(0)}}, true, ""},
		{"a notify service not ready yet", []control.Service{running, {Name: "db", State: control.StateRunning, Notify: true}}, false, ""},
		{"a service still starting", []control.Service{running, {Name: "db", State: control.StateStarting}}, false, ""},
		{"a service failed", []control.Service{running, {Name: "db", State: control.StateFailed, LastExit: lastExit(3), Error: "crash loop"}}, false, "service db failed (last exit 3): crash loop"},
		{"a service waits to restart", []control.Service{{Name: "web", State: control.StateBackoff, LastExit: lastExit(1)}}, false, "service web ended (last exit 1) and waits to restart"},
		{"a service exited non-zero", []control.Service{{Name: "web", State: control.StateExited, LastExit: lastExit(3)}}, false, "service web exited (last exit 3)"},
		{"a service restarted since", []control.Service{{Name: "web", State: control.StateRunning, Ready: true, Restarts: 1}}, false, "service web restarted 1 times"},
		{"no services", nil, true, ""},
	}
	for _, tt := range tests {
		healthy, failure := assess(tt.services)
		if healthy != tt.healthy || failure != tt.failure {
			t.Errorf("%s: assess = %v, %q; want %v, %q", tt.name, healthy, failure, tt.healthy, tt.failure)
		}
	}
}

// judge runs judgeTrial over the services states gives for each second,
// the last one repeated, and returns its verdict and how many seconds it
// took. The test is judgeTrial's clock: it hands over each state and
// each tick through channels.
func judge(grace, settle time.Duration, states ...[]control.Service) (ok bool, why string, seconds int) {
	stateCh, tick, done := make(chan []control.Service), make(chan time.Time), make(chan struct{})
	start := time.Unix(1000, 0)
	go func() {
		ok, why = judgeTrial(func() []control.Service { return <-stateCh }, grace, settle, start, tick)
		close(done)
	}()
	for t := start; ; {
		select {
		case stateCh <- states[min(seconds, len(states)-1)]:
		case tick <- t.Add(time.Second):
			t = t.Add(time.Second)
			seconds++
		case <-done:
			return ok, why, seconds
		}
	}
}

func TestJudgeTrial(t *testing.T) {
	up := []control.Service{{Name: "web", State: control.StateRunning, Ready: true}}
	starting := []control.Service{{Name: "web", State: control.StateStarting}}
	crashed := []control.Service{{Name: "web", State: control.StateBackoff, LastExit: lastExit(2)}}

	if ok, why, secs := judge(10*time.Second, time.Minute, starting, starting, up); !ok || secs != 12 {
		t.Errorf("services up from second 2, grace 10s: ok=%v %q after %ds, want kept at 12", ok, why, secs)
	}
	// A dip resets the grace period.
	if ok, _, secs := judge(5*time.Second, time.Minute, up, up, up, starting, up); !ok || secs != 9 {
		t.Errorf("a service restarting at second 3: kept after %ds (ok=%v), want 9", secs, ok)
	}
	if ok, why, _ := judge(10*time.Second, time.Minute, up, up, crashed); ok || !strings.Contains(why, "service web ended") {
		t.Errorf("a crash during the grace period: ok=%v %q", ok, why)
	}
	if ok, why, secs := judge(10*time.Second, 30*time.Second, starting); ok || !strings.Contains(why, "did not all come up within 30s") || secs != 31 {
		t.Errorf("a service that never comes up: ok=%v %q after %ds", ok, why, secs)
	}
}

// TestATrialIsDecidedOnce: kept, or failed, then nothing more changes the
// state, and a rollback during the trial ends it too.
func TestATrialIsDecidedOnce(t *testing.T) {
	d, u := newTestDisk(t, slots.State{Good: slots.A, Trying: slots.B}, slots.B)
	if !u.onTrial() {
		t.Fatal("a boot of B with B trying is not a trial")
	}
	u.confirm(time.Minute)
	if st := d.state(t); st.Good != slots.B || st.Trying != "" {
		t.Errorf("after confirm: %+v", st)
	}
	if u.fail("too late") || d.state(t).Failed != "" {
		t.Error("a trial already kept was failed after all")
	}

	d, u = newTestDisk(t, slots.State{Good: slots.A, Trying: slots.B}, slots.B)
	if !u.fail("service web exited 3") {
		t.Fatal("fail on a trial boot did nothing")
	}
	if st := d.state(t); st.Good != slots.A || st.Failed != slots.B || st.Reason != "service web exited 3" {
		t.Errorf("after fail: %+v", st)
	}
	u.confirm(time.Minute)
	if d.state(t).Good != slots.A {
		t.Error("a failed trial was kept after all")
	}

	d, u = newTestDisk(t, slots.State{Good: slots.A}, slots.A)
	if u.onTrial() || u.fail("boot failed") {
		t.Error("a boot that is no trial was failed")
	}
	if st := d.state(t); st.Failed != "" {
		t.Errorf("a fatal error outside a trial changed the state: %+v", st)
	}
}
