package packer

import (
	"io"
	"log/slog"
	"slices"
	"testing"

	imagespec "github.com/minikit/minikit/image-spec"
	"github.com/minikit/minikit/tools/substitute"
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

// A LinuxKit spec gets the modules its replaced packages need, since
// LinuxKit's kernels build them in; a spec that lists modules keeps its
// own list.
func TestSubstituteLinuxKitAddsTheModulesOfReplacedPackages(t *testing.T) {
	substitute.Table = append(substitute.Table, substitute.Entry{
		LinuxKit: "linuxkit/test-loop", Minikit: "minikit/test-loop:dev", Recipe: "onboot/test-loop", Modules: []string{"loop", "ext4"},
	})
	defer func() { substitute.Table = substitute.Table[:len(substitute.Table)-1] }()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	spec := &imagespec.Spec{
		Kernel: imagespec.Kernel{Image: "linuxkit/kernel:6.12.59"},
		Onboot: []*imagespec.Container{{Name: "loop", Image: "linuxkit/test-loop:abc"}},
	}
	got := substituteLinuxKit(spec, log).Kernel.Modules
	if !slices.Contains(got, "loop") || !slices.Contains(got, "button") {
		t.Errorf("modules = %v, want LinuxKit's defaults and loop", got)
	}
	if n := len(slices.DeleteFunc(slices.Clone(got), func(m string) bool { return m != "ext4" })); n != 1 {
		t.Errorf("modules = %v: ext4 %d times, want once", got, n)
	}
	if slices.Contains(linuxkitKernelModules, "loop") {
		t.Error("the defaults themselves were changed")
	}

	spec.Kernel.Modules = []string{"virtio_blk"}
	if got := substituteLinuxKit(spec, log).Kernel.Modules; !slices.Equal(got, []string{"virtio_blk"}) {
		t.Errorf("a spec's own modules became %v", got)
	}
}

// A LinuxKit format entry that makes xfs or btrfs gets its filesystem's
// module, which LinuxKit's kernels build in.
func TestSubstituteLinuxKitLoadsTheFilesystemsFormatMakes(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	spec := &imagespec.Spec{
		Kernel: imagespec.Kernel{Image: "linuxkit/kernel:6.12.59"},
		Onboot: []*imagespec.Container{
			{Name: "format", Image: "linuxkit/format:abc", Command: []string{"/usr/bin/format", "-type", "xfs", "/dev/sda"}},
			{Name: "format", Image: "linuxkit/format:abc", Command: []string{"/usr/bin/format", "--type=btrfs"}},
			{Name: "other", Image: "alpine:3.13", Command: []string{"-type", "zfs"}},
		},
	}
	got := substituteLinuxKit(spec, log).Kernel.Modules
	if !slices.Contains(got, "xfs") || !slices.Contains(got, "btrfs") || slices.Contains(got, "zfs") {
		t.Errorf("modules = %v, want xfs and btrfs added for format's entries alone", got)
	}
	spec.Onboot = spec.Onboot[2:]
	if got := substituteLinuxKit(spec, log).Kernel.Modules; slices.Contains(got, "xfs") {
		t.Errorf("modules = %v without a format entry asking for xfs", got)
	}
}
