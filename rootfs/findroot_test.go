package rootfs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/testenv"
	"github.com/minikit/minikit/tools/diskimage"
)

// TestCheckTopTellsTheImageTheRootHashNames: of two root images, as the
// two slots of a disk hold them, the root hash of one passes its own
// image and passes over the other, without a verity device.
func TestCheckTopTellsTheImageTheRootHashNames(t *testing.T) {
	if err := diskimage.CheckRootImage(true); err != nil {
		testenv.Unavailable(t, testenv.RequireQEMUEnv, "%v", err)
	}
	dir := t.TempDir()
	var imgs []*diskimage.RootImage
	for _, v := range []string{"v1", "v2"} {
		tree := filepath.Join(dir, v)
		if err := os.MkdirAll(tree, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, "version"), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
		img, err := diskimage.WriteRootImage(context.Background(), tree, filepath.Join(dir, v+".img"), time.Unix(0, 0), true)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	if err := checkTop(imgs[0].Path, imgs[0].Verity); err != nil {
		t.Errorf("v1's root hash on v1's image: %v", err)
	}
	if err := checkTop(imgs[1].Path, imgs[0].Verity); !errors.Is(err, errOtherImage) {
		t.Errorf("v1's root hash on v2's image: %v, want it passed over", err)
	}
	if err := checkTop(imgs[1].Path, nil); err != nil {
		t.Errorf("no root hash (an unverified boot): %v", err)
	}
}
