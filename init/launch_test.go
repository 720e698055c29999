package main

import (
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestWithNotifySocketBindsTheSocketAndSetsTheEnvironment(t *testing.T) {
	spec := &specs.Spec{
		Process: &specs.Process{Env: []string{"PATH=/bin"}},
		Mounts:  []specs.Mount{{Destination: "/run/minikit", Type: "bind", Source: "/run/minikit"}},
	}
	withNotifySocket("/host/run/minikit/notify/db", "/run/minikit/notify/db")(spec)
	last := spec.Mounts[len(spec.Mounts)-1]
	if last.Source != "/host/run/minikit/notify/db" || last.Destination != "/run/minikit/notify/db" || last.Type != "bind" {
		t.Errorf("the notify mount is %+v; it must come last, over any bind of /run/minikit", last)
	}
	if env := spec.Process.Env; env[len(env)-1] != "NOTIFY_SOCKET=/run/minikit/notify/db" {
		t.Errorf("env = %v", env)
	}
}
