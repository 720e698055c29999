package images

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/minikit/minikit/internal/dirtar"
	"github.com/minikit/minikit/internal/sourcedate"
)

// FromDir makes a single-layer linux/amd64 image of the tree under dir,
// with cfg as its runtime configuration.
//
// The layer is the tree as package dirtar archives it (owners, modes,
// hard links and file capabilities kept; sockets left out), and every
// timestamp, in the layer and in the config, is $SOURCE_DATE_EPOCH (or 0
// when unset), so the same tree always gives the same digest whatever its
// mtimes and whatever the caller's umask. Modes are taken as they are on disk: a tree
// checked out under another umask is a different tree.
//
// The compressed layer is kept in memory; FromDir is meant for the small
// trees minikit builds its own images from.
func FromDir(dir string, cfg v1.Config) (v1.Image, error) {
	epoch, err := sourcedate.Epoch()
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("image from %s: %w", dir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("image from %s: not a directory", dir)
	}
	var compressed bytes.Buffer
	zw := gzip.NewWriter(&compressed)
	if err := writeTree(zw, dir, epoch); err != nil {
		return nil, fmt.Errorf("image from %s: %w", dir, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("image from %s: compress: %w", dir, err)
	}
	blob := compressed.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blob)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("image from %s: layer: %w", dir, err)
	}

	created := v1.Time{Time: epoch}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: targetPlatform.Architecture,
		OS:           targetPlatform.OS,
		Created:      created,
		Config:       cfg,
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, fmt.Errorf("image from %s: %w", dir, err)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: created, CreatedBy: "minikit image-import"},
	})
	if err != nil {
		return nil, fmt.Errorf("image from %s: %w", dir, err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	return img, nil
}

// writeTree writes dir's tree as a tar stream to w.
func writeTree(w io.Writer, dir string, mtime time.Time) error {
	tw := tar.NewWriter(w)
	if err := dirtar.Write(tw, dir, dirtar.Options{ModTime: mtime}); err != nil {
		return err
	}
	return tw.Close()
}
