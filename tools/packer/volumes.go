package packer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	imagespec "github.com/minikit/minikit/image-spec"
	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/tools/images"
)

// volumes writes each volume of the spec where init mounts it from
// (bundle.VolumesDir): an empty lower directory for a blank volume, the
// image's root for format filesystem, or an OCI layout holding the image
// for format oci (for containerd to import, as LinuxKit's users do).
func (b *build) volumes() error {
	for _, v := range b.Spec.Volumes {
		if err := b.volume(v); err != nil {
			if v.Image == "" {
				return fmt.Errorf("volume %s: %w", v.Name, err)
			}
			return fmt.Errorf("volume %s (%s): %w", v.Name, v.Image, err)
		}
	}
	return nil
}

func (b *build) volume(v imagespec.Volume) error {
	lower, merged := bundle.VolumePaths(b.staging, v.Name)
	for _, d := range []string{lower, merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	rel := filepath.Join("containers/volumes", v.Name)
	b.owners.containers[rel] = "volume " + v.Name
	if v.Image != "" {
		b.owners.containers[rel] += " (" + v.Image + ")"
		if len(v.Platforms) > 0 {
			b.Log.Warn("volume platforms are not supported; the image is taken for linux/amd64",
				"volume", v.Name, "platforms", v.Platforms)
		}
		img, err := b.Store.Resolve(b.ctx, v.Image)
		if err != nil {
			return err
		}
		switch v.Format {
		case "", "filesystem":
			if err := images.Unpack(img, lower, b.unpackOptions()); err != nil {
				return err
			}
			if err := b.record("volume "+v.Name, v.Image, img, lower, false); err != nil {
				return err
			}
		case "oci":
			p, err := layout.Write(lower, empty.Index)
			if err != nil {
				return err
			}
			if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{images.RefNameAnnotation: v.Image})); err != nil {
				return fmt.Errorf("write OCI layout: %w", err)
			}
			if err := b.record("volume "+v.Name, v.Image, img, "", false); err != nil {
				return err
			}
		default:
			return fmt.Errorf("format %q is neither filesystem nor oci", v.Format)
		}
	}
	data, err := json.Marshal(bundle.VolumeConfig{Readonly: v.Readonly})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(filepath.Dir(lower), bundle.VolumeFile), append(data, '\n'), 0o644)
}
