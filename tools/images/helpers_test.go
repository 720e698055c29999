package images

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/minikit/minikit/internal/testenv"
)

// testTime is the mtime the test layers give their entries.
var testTime = time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)

func dirEntry(name string, mode int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: testTime}
}

func symlinkEntry(name, target string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: testTime}
}

func hardLinkEntry(name, target string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, ModTime: testTime}
}

// fileEntry is a header for a regular file; tarBytes fills in its size
// from the content that follows it.
func fileEntry(name string, mode int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, ModTime: testTime}
}

// tarBytes builds a tar stream from headers, each regular file followed by
// its content as a string.
func tarBytes(t testing.TB, items ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < len(items); i++ {
		hdr := *items[i].(*tar.Header)
		var content string
		if hdr.Typeflag == tar.TypeReg {
			if i+1 < len(items) {
				if s, ok := items[i+1].(string); ok {
					content = s
					i++
				}
			}
			hdr.Size = int64(len(content))
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatalf("write header %s: %v", hdr.Name, err)
		}
		if _, err := io.WriteString(tw, content); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tarLayer(t testing.TB, items ...any) v1.Layer {
	t.Helper()
	b := tarBytes(t, items...)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func imageOf(t testing.TB, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// randomImage is an image with one small layer whose content is seed, so
// different seeds give different digests.
func randomImage(t testing.TB, seed string) v1.Image {
	t.Helper()
	return imageOf(t, tarLayer(t, fileEntry("seed", 0o644), seed))
}

func digestOf(t testing.TB, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func openStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.Progress = nil
	return s
}

func requireRoot(t testing.TB) {
	t.Helper()
	testenv.Root(t) // to chown and make device nodes
}

// snapshot lists every path under dir with its size and mode, to show that
// nothing outside a destination changed.
func snapshot(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, p+" "+fi.Mode().String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
