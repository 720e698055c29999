package imagespec

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func hasCgroupNamespace(s *specs.Spec) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.CgroupNamespace {
			return true
		}
	}
	return false
}

// A container that binds the host's cgroup hierarchy stays in the host's
// cgroup namespace; every other one gets a namespace of its own.
func TestBindingTheCgroupHierarchyKeepsTheHostCgroupNamespace(t *testing.T) {
	engine := &Container{Name: "containerd", Image: "x", Binds: []string{"/sys/fs/cgroup:/sys/fs/cgroup"}}
	plain := &Container{Name: "web", Image: "x"}
	for _, tt := range []struct {
		c    *Container
		want bool
	}{{engine, false}, {plain, true}} {
		s, _, err := OCISpec(tt.c, v1.Config{Cmd: []string{"/bin/true"}}, KindService)
		if err != nil {
			t.Fatal(err)
		}
		if got := hasCgroupNamespace(s); got != tt.want {
			t.Errorf("%s: new cgroup namespace = %v, want %v", tt.c.Name, got, tt.want)
		}
	}
}
