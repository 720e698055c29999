package images

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnpackRefusesFilesOverTheLimit checks that an unpack stops at the
// file that would take it past MaxBytes, whether one sparse file does it
// or several files across layers, names that file and its layer, and
// writes nothing of it.
func TestUnpackRefusesFilesOverTheLimit(t *testing.T) {
	half := strings.Repeat("m", 600<<10)
	tests := []struct {
		name     string
		layers   [][]byte
		maxBytes int64
		entry    string // the entry the error must name, in the last layer
		kept     []string
	}{
		{
			name:     "a sparse file over the limit",
			layers:   [][]byte{concatTars(t, tarBytes(t, fileEntry("etc/ok", 0o644), "ok"), sparseTar(t, "big", 5<<30, "end"))},
			maxBytes: 1 << 30,
			entry:    "big",
			kept:     []string{"etc/ok"},
		},
		{
			name:   "a sparse file over the default limit",
			layers: [][]byte{sparseTar(t, "big", DefaultMaxBytes+holeBlock, "end")},
			entry:  "big",
		},
		{
			name: "files that pass the limit together, in two layers",
			layers: [][]byte{
				tarBytes(t, fileEntry("lower", 0o644), half),
				tarBytes(t, fileEntry("upper", 0o644), half),
			},
			maxBytes: 1 << 20,
			entry:    "upper",
			kept:     []string{"lower"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var digests []string
			img := imageOf(t)
			for _, b := range tt.layers {
				l := tarLayerOf(t, b)
				d, _ := l.Digest()
				digests = append(digests, d.String())
				img = appendLayer(t, img, l)
			}
			dest := t.TempDir()
			err := Unpack(img, dest, UnpackOptions{IgnoreOwners: true, MaxBytes: tt.maxBytes})
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Unpack = %v, want ErrTooLarge", err)
			}
			last := digests[len(digests)-1]
			if !strings.Contains(err.Error(), last) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.entry)) {
				t.Errorf("error %q does not name layer %s and entry %q", err, last, tt.entry)
			}
			assertMissing(t, filepath.Join(dest, tt.entry))
			for _, rel := range tt.kept {
				if _, err := os.Lstat(filepath.Join(dest, rel)); err != nil {
					t.Errorf("%s, unpacked before the refused file: %v", rel, err)
				}
			}
		})
	}
}

func TestUnpackTarRefusesFilesOverTheLimit(t *testing.T) {
	dest := t.TempDir()
	err := UnpackTar(bytes.NewReader(sparseTar(t, "lib/modules.tar", 1<<40, "end")), dest, UnpackOptions{IgnoreOwners: true, MaxBytes: 1 << 30})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), `"lib/modules.tar"`) || !strings.Contains(err.Error(), "tar stream") {
		t.Fatalf("UnpackTar = %v, want ErrTooLarge naming the tar stream and lib/modules.tar", err)
	}
	assertMissing(t, filepath.Join(dest, "lib/modules.tar"))
}

// TestUnpackAllowsFilesUpToTheLimit: the limit is on what an unpack
// writes, so a tree exactly its size passes.
func TestUnpackAllowsFilesUpToTheLimit(t *testing.T) {
	dest := t.TempDir()
	stream := tarBytes(t, fileEntry("a", 0o644), strings.Repeat("a", 512<<10), fileEntry("b", 0o644), strings.Repeat("b", 512<<10))
	if err := UnpackTar(bytes.NewReader(stream), dest, UnpackOptions{IgnoreOwners: true, MaxBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
}
