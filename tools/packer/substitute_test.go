package packer

import (
	"io"
	"log/slog"
	"testing"

	imagespec "github.com/minikit/minikit/image-spec"
)

func TestSubstituteLinuxKitReplacesPackagesAndKeepsTheCallersSpec(t *testing.T) {
	spec := &imagespec.Spec{
		Kernel: imagespec.Kernel{Image: "linuxkit/kernel:6.12.59"},
		Init:   []string{"linuxkit/init:abc", "linuxkit/runc:abc", "example.com/mine:1"},
		Services: []*imagespec.Container{
			{Name: "getty", Image: "linuxkit/getty:abc"},
			{Name: "web", Image: "nginx:1.27"},
		},
	}
	got := substituteLinuxKit(spec, slog.New(slog.NewTextHandler(io.Discard, nil)))

	if got.Kernel.Image != "minikit/kernel:6.1" || len(got.Kernel.Modules) == 0 || len(got.Kernel.Coldplug) == 0 {
		t.Errorf("kernel = %+v, want minikit's kernel with LinuxKit's built-in drivers as modules", got.Kernel)
	}
	if want := []string{"minikit/init:dev", "example.com/mine:1"}; len(got.Init) != 2 || got.Init[0] != want[0] || got.Init[1] != want[1] {
		t.Errorf("init = %v, want %v (runc dropped, other images kept)", got.Init, want)
	}
	if got.Services[0].Image != "minikit/getty:dev" || got.Services[1].Image != "nginx:1.27" {
		t.Errorf("services = %s, %s", got.Services[0].Image, got.Services[1].Image)
	}
	if spec.Services[0].Image != "linuxkit/getty:abc" || spec.Kernel.Image != "linuxkit/kernel:6.12.59" || len(spec.Init) != 3 {
		t.Errorf("the caller's spec was changed: %+v", spec)
	}
}
