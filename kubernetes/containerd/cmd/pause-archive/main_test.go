package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The archive must be an image containerd can import and run as the
// sandbox, and the same binary must give the same bytes (the recipe's hash
// depends on them).
func TestArchiveHoldsThePauseBinaryAndIsReproducible(t *testing.T) {
	tree := t.TempDir()
	if err := os.MkdirAll(filepath.Join(tree, "usr/libexec"), 0o755); err != nil {
		t.Fatal(err)
	}
	bin := []byte("\x7fELF not really")
	if err := os.WriteFile(filepath.Join(tree, "usr/libexec/pause"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	var archives [][]byte
	for range 2 {
		if err := run(tree, "/usr/libexec/pause", "localhost/minikit/pause:1", "/usr/share/images/pause.tar"); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(tree, "usr/share/images/pause.tar"))
		if err != nil {
			t.Fatal(err)
		}
		archives = append(archives, data)
	}
	if !bytes.Equal(archives[0], archives[1]) {
		t.Error("two archives of the same binary differ")
	}

	tag, _ := name.NewTag("localhost/minikit/pause:1")
	img, err := tarball.ImageFromPath(filepath.Join(tree, "usr/share/images/pause.tar"), &tag)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/pause" || cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("config: entrypoint %q, %s/%s; want /pause, linux/amd64", cfg.Config.Entrypoint, cfg.OS, cfg.Architecture)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v; want one", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(tr)
	if hdr.Name != "pause" || hdr.Mode != 0o755 || !bytes.Equal(got, bin) {
		t.Errorf("layer holds %s mode %o (%d bytes), want pause 755 with the binary", hdr.Name, hdr.Mode, len(got))
	}
}

func TestBadInputIsNamed(t *testing.T) {
	tree := t.TempDir()
	if err := run(tree, "/missing", "localhost/minikit/pause:1", "/a.tar"); err == nil {
		t.Error("a missing binary was accepted")
	}
	if err := run(tree, "/missing", "Not A Name", "/a.tar"); err == nil {
		t.Error("a bad image name was accepted")
	}
}
