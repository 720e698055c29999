package main

import (
	"testing"
	"time"

	"github.com/minikit/minikit/internal/control"
)

func TestServicesSettleOnceEachHasLeftItsFirstStartBehind(t *testing.T) {
	running := control.Service{Name: "a", State: control.StateRunning, Started: time.Now()}
	for _, tt := range []struct {
		name string
		list []control.Service
		want bool
	}{
		{"no services", nil, true},
		{"all running", []control.Service{running}, true},
		{"one still waits for its dependencies", []control.Service{running, {Name: "b", State: control.StateStarting}}, false},
		{"one backs off before its restart", []control.Service{running, {Name: "b", State: control.StateBackoff}}, false},
		{"one gave up, one ran to its end", []control.Service{running, {Name: "b", State: control.StateFailed}, {Name: "c", State: control.StateExited}}, true},
	} {
		if got := servicesSettled(tt.list); got != tt.want {
			t.Errorf("%s: settled = %v, want %v", tt.name, got, tt.want)
		}
	}
}
