package substitute

import (
	"path/filepath"
	"strings"
	"testing"

	imagespec "github.com/minikit/minikit/image-spec"
	"github.com/minikit/minikit/internal/testenv"
)

func TestSubstitute(t *testing.T) {
	tests := []struct {
		name, ref, want string
		ok              bool
	}{
		{"a pinned getty becomes minikit's", "linuxkit/getty:a86d74c8f89be8956330c3b115b0b1f2e09ef6e0", "minikit/getty:dev", true},
		{"any tag of the kernel becomes Debian's", "linuxkit/kernel:6.12.59", "minikit/kernel:6.1", true},
		{"Docker Hub spelled out is the same", "docker.io/linuxkit/sshd:08e5d4a46603eff485d5d1b14001cc932a530858", "minikit/sshd:dev", true},
		{"a digest is accepted", "linuxkit/rngd@sha256:" + strings.Repeat("a", 64), "minikit/rngd:dev", true},
		{"no tag at all", "linuxkit/ca-certificates", "minikit/ca-certificates:dev", true},
		{"containerd as a service is minikit's containerd", "linuxkit/containerd:v1", "minikit/containerd:dev", true},
		{"a package minikit lacks is left alone", "linuxkit/vpnkit-forwarder:d0bc6500a9dc97b4556bb4bda20160a294cc61a3", "", false},
		{"metadata", "linuxkit/metadata:4bbf406678d376e1ae9c9efae6ca2421f63fb4ff", "minikit/metadata:dev", true},
		{"poweroff, last onboot entry of LinuxKit's tests", "linuxkit/poweroff:4059858a555bed90c2280fa9b060b7a8f8de6d45", "minikit/poweroff:dev", true},
		{"sysfs", "linuxkit/sysfs:6d5bd933762f6b216744c711c6e876756cee9600", "minikit/sysfs:dev", true},
		{"binfmt", "linuxkit/binfmt:4924dc6b9aa7e0bcc6fe8825c24471eac4684108", "minikit/binfmt:dev", true},
		{"losetup", "linuxkit/losetup:ba1b84df18e666b4b860c4c39fd4aedb228bee96", "minikit/losetup:dev", true},
		{"dm-crypt", "linuxkit/dm-crypt:27e016fa7c12d6cfce0d045a65b112c787f6dc3c", "minikit/dm-crypt:dev", true},
		{"swap", "linuxkit/swap:7e19e5e69370e82b90a110093441abbf5e70638b", "minikit/swap:dev", true},
		{"extend", "linuxkit/extend:4bbf406678d376e1ae9c9efae6ca2421f63fb4ff", "minikit/extend:dev", true},
		{"ip", "linuxkit/ip:3c0676ee83a0dc739685be1253b8326f08581ef7", "minikit/ip:dev", true},
		{"kmsg", "linuxkit/kmsg:c4d8d509cf496faa21c184ae7fdff6fddc6e186d", "minikit/kmsg:dev", true},
		{"logwrite", "linuxkit/logwrite:24e6a76c2d45a7679d4f53db9ea377373b543dc7", "minikit/logwrite:dev", true},
		{"acpid", "linuxkit/acpid:dbd30b25903bf17042c22171b729f94c4bd3d98d", "minikit/acpid:dev", true},
		{"openntpd", "linuxkit/openntpd:2508f1d040441457a0b3e75744878afdf61bc473", "minikit/openntpd:dev", true},
		{"node_exporter", "linuxkit/node_exporter:f334791f344bdf477317840e14cee57904fee95a", "minikit/node_exporter:dev", true},
		{"firmware", "linuxkit/firmware:68c2b29f28f2639020b9f8d55254d333498a30aa", "minikit/firmware:dev", true},
		{"another registry's linuxkit is not LinuxKit's", "ghcr.io/linuxkit/getty:v1", "", false},
		{"other images are left alone", "nginx:1.19.5-alpine", "", false},
		{"runc as a service has nothing to offer", "linuxkit/runc:v1", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, note, ok := Substitute(tt.ref)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("Substitute(%q) = %q, %v; want %q, %v", tt.ref, got, ok, tt.want, tt.ok)
			}
			if ok && !strings.Contains(note, tt.ref) || ok && !strings.Contains(note, tt.want) {
				t.Errorf("note %q does not name %q and %q", note, tt.ref, tt.want)
			}
		})
	}
}

func TestSubstituteInitDropsRuncContainerdAndMemlogd(t *testing.T) {
	for ref, why := range map[string]string{
		"linuxkit/runc:9442aa234715e751a16144f1d4ae3fd1a00fd492":       "runs containers itself",
		"linuxkit/containerd:ba19f64efd3331a8fd0a33e00eabd14f6ee1780e": "runs the services itself",
		"linuxkit/memlogd:19b0fdec83dded95e0a2f97a8ca6868f5e83c401":    "keeps every container's log",
	} {
		got, note, ok := SubstituteInit(ref)
		if !ok || got != "" {
			t.Errorf("SubstituteInit(%q) = %q, %v; want dropped", ref, got, ok)
		}
		if !strings.Contains(note, "not needed") || !strings.Contains(note, why) {
			t.Errorf("SubstituteInit(%q) note %q does not say it is not needed because init %s", ref, note, why)
		}
	}
	if got, _, ok := Substitute("linuxkit/memlogd:v1"); ok {
		t.Errorf("Substitute(linuxkit/memlogd) = %q; want nothing to offer outside init:", got)
	}
	if got, _, ok := SubstituteInit("linuxkit/init:b5506cc74a6812dc40982cacfd2f4328f8a4b12a"); !ok || got != "minikit/init:dev" {
		t.Errorf("SubstituteInit(linuxkit/init) = %q, %v; want minikit/init:dev", got, ok)
	}
	if got, _, ok := SubstituteInit("linuxkit/firmware:68c2b29f28f2639020b9f8d55254d333498a30aa"); !ok || got != "minikit/firmware:dev" {
		t.Errorf("SubstituteInit(linuxkit/firmware) = %q, %v; want minikit/firmware:dev", got, ok)
	}
}

// Every row says where its image is made or why it is not needed, and
// names only modules of a replacement.
func TestTableRowsExplainThemselves(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range Table {
		if seen[e.LinuxKit] {
			t.Errorf("%s has two rows", e.LinuxKit)
		}
		seen[e.LinuxKit] = true
		if e.Minikit != "" && e.Recipe == "" {
			t.Errorf("%s: replaced by %s, made by no recipe", e.LinuxKit, e.Minikit)
		}
		if (e.InitOnly || e.Minikit == "") && e.Unneeded == "" {
			t.Errorf("%s: dropped from init: without saying why", e.LinuxKit)
		}
		if e.Minikit == "" && len(e.Modules) > 0 {
			t.Errorf("%s: dropped, yet needs modules %v", e.LinuxKit, e.Modules)
		}
	}
}

func TestModulesOfAReplacement(t *testing.T) {
	Table = append(Table, Entry{LinuxKit: "linuxkit/test-loop", Minikit: "minikit/test-loop:dev", Recipe: "onboot/test-loop", Modules: []string{"loop"}})
	defer func() { Table = Table[:len(Table)-1] }()
	if got := Modules("linuxkit/test-loop:abc"); len(got) != 1 || got[0] != "loop" {
		t.Errorf("Modules(linuxkit/test-loop) = %v, want [loop]", got)
	}
	for _, ref := range []string{"linuxkit/getty:abc", "nginx:1.27", "linuxkit/runc:abc"} {
		if got := Modules(ref); got != nil {
			t.Errorf("Modules(%s) = %v, want none", ref, got)
		}
	}
}

// The examples that must build unchanged name only images the table
// replaces.
func TestExamplesNeedNoOtherLinuxKitImage(t *testing.T) {
	dir := testenv.LinuxKitExamples(t)
	for _, name := range []string{"minimal.yml", "getty.yml", "sshd.yml", "node_exporter.yml", "static-ip.yml", "swap.yml", "platform-hetzner.yml", "platform-equinixmetal.yml"} {
		spec, _, err := imagespec.ParseFiles(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		check := func(ref string, sub func(string) (string, string, bool)) {
			if _, _, ok := sub(ref); !ok {
				t.Errorf("%s: no substitute for %s", name, ref)
			}
		}
		check(spec.Kernel.Image, Substitute)
		for _, ref := range spec.Init {
			check(ref, SubstituteInit)
		}
		for _, list := range [][]*imagespec.Container{spec.Onboot, spec.Services, spec.Onshutdown} {
			for _, c := range list {
				check(c.Image, Substitute)
			}
		}
	}
}
