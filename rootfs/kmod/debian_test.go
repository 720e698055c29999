package kmod

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// debianTree returns the modules tree of the kernel scripts/kernel.sh
// unpacked, or skips: MINIKIT_KERNEL_DIR, else build/kernel at the top of
// the repository, holding version and lib/modules/VERSION.
func debianTree(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("MINIKIT_KERNEL_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "build", "kernel")
	}
	version, err := os.ReadFile(filepath.Join(dir, "version"))
	if err != nil {
		tb.Skipf("no kernel tree in %s (run make kernel or set MINIKIT_KERNEL_DIR): %v", dir, err)
	}
	tree := filepath.Join(dir, "lib", "modules", strings.TrimSpace(string(version)))
	if _, err := os.Stat(tree); err != nil {
		tb.Skipf("kernel tree incomplete: %v", err)
	}
	return tree
}

// bootModules are the drivers a typical minikit image loads under qemu.
var bootModules = []string{"virtio_net", "virtio_blk", "overlay", "e1000", "virtio_pci", "ext4", "virtio_rng"}

func TestResolveDebianKernel(t *testing.T) {
	tree := debianTree(t)
	ix, err := NewIndex(tree)
	if err != nil {
		t.Fatal(err)
	}
	order, err := ix.Resolve(bootModules)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load order: %s", strings.Join(order, " "))

	pos := map[string]int{}
	for i, name := range order {
		if _, dup := pos[name]; dup {
			t.Errorf("%s listed twice", name)
		}
		pos[name] = i
	}
	for _, name := range bootModules {
		if _, ok := pos[name]; !ok {
			t.Errorf("%s asked for but not in the order", name)
		}
	}
	// Known facts about this kernel, and the general rule for every module.
	for _, want := range []struct{ before, after string }{
		{"failover", "net_failover"},
		{"net_failover", "virtio_net"},
		{"virtio_ring", "virtio_pci"},
		{"jbd2", "ext4"},
		{"mbcache", "ext4"},
		{"crc32c_generic", "ext4"}, // softdep pre: crypto-crc32c, an alias
	} {
		b, okb := pos[want.before]
		a, oka := pos[want.after]
		if !okb || !oka || b >= a {
			t.Errorf("%s (at %d, present %v) should come before %s (at %d, present %v)", want.before, b, okb, want.after, a, oka)
		}
	}
	for _, name := range order {
		info, err := ix.info(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, dep := range info.Depends {
			if p, ok := pos[dep]; ok && p > pos[name] {
				t.Errorf("%s comes after its user %s", dep, name)
			} else if !ok && !ix.builtin[dep] {
				t.Errorf("%s needs %s, which is missing", name, dep)
			}
		}
	}

	// The copied modules are plain, readable, and where the paths say.
	dest := t.TempDir()
	paths, err := ix.Copy(order, dest)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != len(order) {
		t.Fatalf("Copy returned %d paths for %d modules", len(paths), len(order))
	}
	for i, p := range paths {
		if !strings.HasPrefix(p, "/lib/modules/"+ix.Version()+"/kernel/") || !strings.HasSuffix(p, ".ko") {
			t.Errorf("in-image path %s is not /lib/modules/%s/kernel/....ko", p, ix.Version())
		}
		info, err := ReadInfo(filepath.Join(dest, p))
		if err != nil {
			t.Error(err)
		} else if info.Name != order[i] {
			t.Errorf("%s holds %s, want %s", p, info.Name, order[i])
		}
	}
}

func TestResolveDebianKernelSuggestsNames(t *testing.T) {
	ix, err := NewIndex(debianTree(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ix.Resolve([]string{"virtio-nett"})
	if err == nil || !strings.Contains(err.Error(), "virtio_net") {
		t.Errorf("Resolve(virtio-nett) error = %v, want a suggestion of virtio_net", err)
	}
}

// BenchmarkResolve measures what a build pays: indexing the tree and
// resolving the usual boot modules (cold), and resolving again on an
// index that has read them (warm).
func BenchmarkResolve(b *testing.B) {
	tree := debianTree(b)
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			ix, err := NewIndex(tree)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := ix.Resolve(bootModules); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		ix, err := NewIndex(tree)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ix.Resolve(bootModules); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := ix.Resolve(slices.Clone(bootModules)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Debian's drivers carry the device aliases coldplug needs, and a rule
// loads a driver's dependencies before it.
func TestColdplugRulesDebianKernel(t *testing.T) {
	tree := debianTree(t)
	ix, err := NewIndex(tree)
	if err != nil {
		t.Fatal(err)
	}
	order, err := ix.Resolve([]string{"e1000", "virtio_net"})
	if err != nil {
		t.Fatal(err)
	}
	pathOf := map[string]string{}
	for _, m := range order {
		pathOf[m] = "/" + m + ".ko"
	}
	rules, err := ix.ColdplugRules([]string{"e1000", "virtio_net"}, pathOf)
	if err != nil {
		t.Fatal(err)
	}
	// qemu's e1000 and a virtio network device, as sysfs names them.
	devices := []string{"pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00", "virtio:d00000001v00001AF4"}
	paths, _ := Match(rules, devices, nil)
	if len(paths) < 2 || paths[0] != "/e1000.ko" || paths[len(paths)-1] != "/virtio_net.ko" || !slices.Contains(paths, "/net_failover.ko") {
		t.Errorf("the devices load %v; want e1000, then virtio_net after its dependencies", paths)
	}
	if paths, _ := Match(rules, devices[:1], nil); !slices.Equal(paths, []string{"/e1000.ko"}) {
		t.Errorf("an e1000 alone loads %v", paths)
	}
}
