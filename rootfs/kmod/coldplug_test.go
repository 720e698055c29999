package kmod

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A tree with two NIC drivers sharing a dependency, a bus driver, and a
// module that answers to no device.
func coldplugTree(t *testing.T) *Index {
	t.Helper()
	dir := writeTree(t, []fakeModule{
		mod("e1000", "alias=pci:v00008086d0000100Esv*sd*bc*sc*i*", "alias=pci:v00008086d0000100Fsv*sd*bc*sc*i*"),
		mod("virtio_net", "depends=net_failover", "alias=virtio:d00000001v*"),
		mod("net_failover", "depends=failover"),
		mod("failover"),
		mod("virtio_pci", "alias=pci:v00001AF4d*sv*sd*bc*sc*i*"),
		mod("overlay", "alias=fs-overlay"),
	}, nil, nil)
	ix, err := NewIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func imagePaths(names ...string) map[string]string {
	m := map[string]string{}
	for _, n := range names {
		m[n] = "/lib/modules/x/" + n + ".ko"
	}
	return m
}

func TestColdplugRulesCarryEachModulesLoadOrder(t *testing.T) {
	ix := coldplugTree(t)
	rules, err := ix.ColdplugRules([]string{"e1000", "virtio-net"}, imagePaths("e1000", "virtio_net", "net_failover", "failover"))
	if err != nil {
		t.Fatal(err)
	}
	got := string(FormatColdplug(rules))
	want := "pci:v00008086d0000100Esv*sd*bc*sc*i* /lib/modules/x/e1000.ko\n" +
		"pci:v00008086d0000100Fsv*sd*bc*sc*i* /lib/modules/x/e1000.ko\n" +
		"virtio:d00000001v* /lib/modules/x/failover.ko /lib/modules/x/net_failover.ko /lib/modules/x/virtio_net.ko\n"
	if got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
	file := filepath.Join(t.TempDir(), "coldplug")
	os.WriteFile(file, []byte("# made by a test\n\n"+got), 0o644)
	back, err := ReadColdplug(file)
	if err != nil || !slices.EqualFunc(back, rules, func(a, b ColdplugRule) bool {
		return a.Pattern == b.Pattern && slices.Equal(a.Paths, b.Paths)
	}) {
		t.Errorf("read back %v, %v; want %v", back, err, rules)
	}
}

func TestColdplugRulesRefuse(t *testing.T) {
	ix := coldplugTree(t)
	for _, tt := range []struct{ name, want string }{
		{"overlay", "answers to no device"},
		{"e1001", "e1000"}, // a suggestion
	} {
		_, err := ix.ColdplugRules([]string{tt.name}, imagePaths("overlay", "e1000"))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ColdplugRules(%s) = %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
}

func TestReadColdplugRejectsMalformedLines(t *testing.T) {
	for _, text := range []string{"pci:v*\n", "pci:[ /x.ko\n"} {
		file := filepath.Join(t.TempDir(), "coldplug")
		os.WriteFile(file, []byte(text), 0o644)
		if _, err := ReadColdplug(file); err == nil || !strings.Contains(err.Error(), file+":1:") {
			t.Errorf("ReadColdplug(%q) = %v, want an error naming the file and line", text, err)
		}
	}
}

func TestMatchLoadsWhatThePresentDevicesNeed(t *testing.T) {
	rules := []ColdplugRule{
		{"pci:v00008086d0000100Esv*sd*bc*sc*i*", []string{"/e1000.ko"}},
		{"virtio:d00000001v*", []string{"/failover.ko", "/net_failover.ko", "/virtio_net.ko"}},
		{"virtio:d00000002v*", []string{"/virtio_blk.ko"}},
		{"pci:v00001AF4d*sv*sd*bc*sc*i*", []string{"/virtio_pci.ko"}},
	}
	devices := []string{
		"pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00",
		"pci:v00001AF4d00001005sv00001AF4sd00000004bc00scFFi00",
		"virtio:d00000001v00001AF4",
		"acpi:PNP0C0C:",
	}
	paths, why := Match(rules, devices, map[string]bool{"/failover.ko": true})
	want := []string{"/e1000.ko", "/net_failover.ko", "/virtio_net.ko", "/virtio_pci.ko"}
	if !slices.Equal(paths, want) {
		t.Errorf("Match = %v, want %v", paths, want)
	}
	if why["/virtio_net.ko"] != "virtio:d00000001v00001AF4" {
		t.Errorf("why virtio_net: %q", why["/virtio_net.ko"])
	}
	if paths, _ := Match(rules, []string{"acpi:PNP0C0C:"}, nil); len(paths) != 0 {
		t.Errorf("no device of the table is present, yet Match = %v", paths)
	}
}

func TestModaliasesReadsSysfsWithoutFollowingLinks(t *testing.T) {
	sys := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(sys, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o444)
	}
	write("pci0000:00/0000:00:02.0/modalias", "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00\n")
	write("pci0000:00/0000:00:03.0/virtio0/modalias", "virtio:d00000001v00001AF4\n")
	write("pci0000:00/0000:00:04.0/modalias", "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00\n")
	write("platform/empty/modalias", "\n")
	// sysfs links back up the tree: following them would loop.
	os.Symlink("../..", filepath.Join(sys, "pci0000:00/0000:00:02.0/subsystem"))
	got, err := Modaliases(sys)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00", "virtio:d00000001v00001AF4"}
	if !slices.Equal(got, want) {
		t.Errorf("Modaliases = %q, want %q", got, want)
	}
}
