package tests

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	imagespec "github.com/minikit/minikit/image-spec"
	"github.com/minikit/minikit/internal/testenv"
	"github.com/minikit/minikit/tools/substitute"
)

// unbuildableExamples are LinuxKit's examples that name images neither a
// minikit stand-in replaces nor the tests can pull (they reach no
// registry): other projects' images from Docker Hub, and LinuxKit
// packages without a stand-in (pkg/README.md says why for each). The
// test checks each still needs exactly these, so the list shrinks as
// stand-ins land.
var unbuildableExamples = map[string][]string{
	"cadvisor":                    {"docker", "linuxkit/cadvisor"},
	"containerd-debug":            {"busybox", "nginx"},
	"dm-crypt":                    {"busybox"},
	"dm-crypt-loop":               {"busybox"},
	"docker":                      {"docker"},
	"docker-for-mac":              {"alpine", "docker", "linuxkit/host-timesync-daemon", "linuxkit/trim-after-delete", "linuxkit/vpnkit-expose-port", "linuxkit/vpnkit-forwarder", "linuxkit/vsudd"},
	"hostmount-writeable-overlay": {"busybox", "nginx"},
	"influxdb-os":                 {"chronograf", "influxdb", "kapacitor", "telegraf"},
	"linuxkit":                    {"busybox", "nginx"},
	"logging":                     {"alpine"},
	"openstack":                   {"nginx"},
	"platform-aws":                {"nginx"},
	"platform-gcp":                {"nginx"},
	"platform-rt-for-vmware":      {"linuxkit/open-vm-tools", "nginx"},
	"platform-vmware":             {"nginx"},
	"platform-vultr":              {"nginx"},
	"redis-os":                    {"redis"},
	"tpm":                         {"linuxkit/tss"},
	"volumes":                     {"alpine", "busybox", "nginx"},
	"vpnkit-forwarder":            {"alpine", "linuxkit/vpnkit-forwarder"},
	"vsudd-containerd":            {"linuxkit/vsudd"},
	"wireguard":                   {"nginx"},
}

// otherExamples are not whole specs for the machines minikit builds for.
var otherExamples = map[string]string{
	"platform-equinixmetal.arm64": "an arm64 addition to platform-equinixmetal.yml; minikit builds for amd64",
}

// LinuxKit's own specs build unchanged: their package images are replaced
// by minikit's. Every example builds but those that need an image from a
// registry, which must need just what unbuildableExamples says.
func TestLinuxKitExamplesBuild(t *testing.T) {
	dir := testenv.LinuxKitExamples(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in %s: %v", dir, err)
	}
	seen := map[string]bool{}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yml")
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			if why, ok := otherExamples[name]; ok {
				t.Skip(why)
			}
			spec, _, err := imagespec.ParseFiles(file)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			missing := withoutStandIn(spec)
			if want, listed := unbuildableExamples[name]; listed {
				if !slices.Equal(missing, want) {
					t.Fatalf("%s needs %v with no stand-in, not %v: update unbuildableExamples (build it if nothing is left)", name, missing, want)
				}
				t.Skipf("needs %s from a registry", strings.Join(missing, ", "))
			}
			if len(missing) > 0 {
				t.Fatalf("%s names %v, which no stand-in replaces", name, missing)
			}
			prefix := build(t, name, file)
			for _, suffix := range []string{"-kernel", "-initrd.img", "-cmdline"} {
				if fi, err := os.Stat(prefix + suffix); err != nil || fi.Size() == 0 {
					t.Errorf("%s%s: %v", name, suffix, err)
				}
			}
		})
	}
	for _, names := range []map[string][]string{unbuildableExamples, toLists(otherExamples)} {
		for name := range names {
			if !seen[name] {
				t.Errorf("%s is listed, but is not among the examples", name)
			}
		}
	}
}

// withoutStandIn lists, sorted and once each, the repositories of the
// images spec names that minikit does not replace (nor drop from init:).
func withoutStandIn(spec *imagespec.Spec) []string {
	var missing []string
	add := func(ref string, sub func(string) (string, string, bool)) {
		if ref == "" {
			return
		}
		if _, _, ok := sub(ref); ok {
			return
		}
		repo, _, _ := strings.Cut(ref, "@")
		if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
			repo = repo[:i]
		}
		if !slices.Contains(missing, repo) {
			missing = append(missing, repo)
		}
	}
	add(spec.Kernel.Image, substitute.Substitute)
	for _, ref := range spec.Init {
		add(ref, substitute.SubstituteInit)
	}
	for _, list := range [][]*imagespec.Container{spec.Onboot, spec.Services, spec.Onshutdown} {
		for _, c := range list {
			add(c.Image, substitute.Substitute)
		}
	}
	for _, v := range spec.Volumes {
		add(v.Image, substitute.Substitute)
	}
	slices.Sort(missing)
	return missing
}

func toLists(m map[string]string) map[string][]string {
	out := map[string][]string{}
	for k, v := range m {
		out[k] = []string{v}
	}
	return out
}
