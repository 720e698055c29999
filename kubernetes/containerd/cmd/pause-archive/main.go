// Command pause-archive is a build hook of the containerd recipe. It wraps
// the pause binary the recipe built into a one-layer image and writes it
// as an image archive (docker save's format, which `ctr images import`
// reads) into the tree, so that a node has its sandbox image without a
// registry:
//
//	pause-archive TREE BINARY NAME ARCHIVE
//
// BINARY and ARCHIVE are paths inside TREE; the binary becomes /pause in
// the image, its entrypoint. Every time stamp is the epoch and the layer's
// owner is root, so the archive, and the recipe's hash, only change with
// the binary.
package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: pause-archive TREE BINARY NAME ARCHIVE")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3], os.Args[4]); err != nil {
		fmt.Fprintln(os.Stderr, "pause-archive:", err)
		os.Exit(1)
	}
}

func run(tree, binary, imageName, archive string) error {
	ref, err := name.NewTag(imageName)
	if err != nil {
		return fmt.Errorf("image name %q: %w", imageName, err)
	}
	bin, err := os.ReadFile(filepath.Join(tree, binary))
	if err != nil {
		return err
	}
	img, err := pauseImage(bin)
	if err != nil {
		return err
	}
	out := filepath.Join(tree, archive)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := tarball.WriteToFile(out, ref, img); err != nil {
		return fmt.Errorf("write %s: %w", archive, err)
	}
	return os.Chmod(out, 0o644)
}

// pauseImage is an image of one layer holding bin as /pause.
func pauseImage(bin []byte) (v1.Image, error) {
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	hdr := &tar.Header{
		Name:     "pause",
		Mode:     0o755,
		Size:     int64(len(bin)),
		Typeflag: tar.TypeReg,
		ModTime:  time.Unix(0, 0),
		Format:   tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := layer.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Config.Entrypoint = []string{"/pause"}
	cfg.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	return mutate.ConfigFile(img, cfg)
}
