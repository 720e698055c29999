package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// fakePackage lays out what Debian's linux-image package unpacks to, its
// files stamped with mtime.
func fakePackage(t *testing.T, mtime time.Time) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"boot/vmlinuz-6.1.0-9-amd64":                                   "bzImage",
		"boot/System.map-6.1.0-9-amd64":                                "map",
		"boot/config-6.1.0-9-amd64":                                    "CONFIG_X=y",
		"lib/modules/6.1.0-9-amd64/modules.builtin":                    "kernel/fs/ext4/ext4.ko\n",
		"lib/modules/6.1.0-9-amd64/kernel/drivers/net/virtio_net.ko":   "\x7fELF virtio_net",
		"lib/modules/6.1.0-9-amd64/kernel/drivers/net/net_failover.ko": "\x7fELF net_failover",
		"usr/share/doc/linux-image-6.1.0-9-amd64/copyright":            "GPL-2",
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestLayoutMakesAKernelImage(t *testing.T) {
	root := fakePackage(t, time.Now())
	version, err := layout(root)
	if err != nil {
		t.Fatal(err)
	}
	if version != "6.1.0-9-amd64" {
		t.Errorf("version = %q", version)
	}
	for name, want := range map[string]string{"kernel": "bzImage", "System.map": "map", "config": "CONFIG_X=y"} {
		if got, err := os.ReadFile(filepath.Join(root, name)); err != nil || string(got) != want {
			t.Errorf("/%s = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, gone := range []string{"boot", "lib"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("/%s is still there: %v", gone, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "usr/share/doc/linux-image-6.1.0-9-amd64/copyright")); err != nil {
		t.Errorf("the package's copyright went: %v", err)
	}
	var names []string
	data, _ := os.ReadFile(filepath.Join(root, "kernel.tar"))
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(epoch) {
			t.Errorf("%s: owner %d:%d, time %v", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		names = append(names, h.Name)
	}
	want := []string{
		"lib/", "lib/modules/", "lib/modules/6.1.0-9-amd64/",
		"lib/modules/6.1.0-9-amd64/kernel/", "lib/modules/6.1.0-9-amd64/kernel/drivers/",
		"lib/modules/6.1.0-9-amd64/kernel/drivers/net/",
		"lib/modules/6.1.0-9-amd64/kernel/drivers/net/net_failover.ko",
		"lib/modules/6.1.0-9-amd64/kernel/drivers/net/virtio_net.ko",
		"lib/modules/6.1.0-9-amd64/modules.builtin",
	}
	if !slices.Equal(names, want) {
		t.Errorf("kernel.tar holds\n%q\nwant\n%q", names, want)
	}
}

// The same package unpacked at another time gives the same tarball.
func TestLayoutIsReproducible(t *testing.T) {
	var tars [][]byte
	for _, mtime := range []time.Time{time.Unix(1e9, 0), time.Now()} {
		root := fakePackage(t, mtime)
		if _, err := layout(root); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(root, "kernel.tar"))
		if err != nil {
			t.Fatal(err)
		}
		tars = append(tars, data)
	}
	if !bytes.Equal(tars[0], tars[1]) {
		t.Error("two layouts of the same package differ")
	}
}

func TestLayoutRefusesATreeWithoutOneKernel(t *testing.T) {
	root := fakePackage(t, time.Now())
	os.WriteFile(filepath.Join(root, "boot/vmlinuz-6.1.0-10-amd64"), []byte("x"), 0o644)
	if _, err := layout(root); err == nil {
		t.Error("two kernels were accepted")
	}
	if _, err := layout(t.TempDir()); err == nil {
		t.Error("an empty tree was accepted")
	}
}
