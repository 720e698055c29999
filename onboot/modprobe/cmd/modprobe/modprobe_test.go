package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestModulePathsNormaliseNames(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"kernel/fs/overlayfs/overlay.ko", "kernel/drivers/net/virtio-net.ko.xz", "modules.builtin"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, nil, 0o644)
	}
	got, err := modulePaths(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"overlay":    filepath.Join(dir, "kernel/fs/overlayfs/overlay.ko"),
		"virtio_net": filepath.Join(dir, "kernel/drivers/net/virtio-net.ko.xz"),
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
}
