package packer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	imagespec "github.com/minikit/minikit/image-spec"
	"github.com/minikit/minikit/internal/testenv"
	"github.com/minikit/minikit/tools/images"
)

// TestBuildRefusesImagesOverTheUnpackLimit builds with an image whose
// files pass MaxUnpackBytes: the build fails naming the spec entry, the
// image and the file, and leaves neither outputs nor a partial staging
// tree or kernel cache behind.
func TestBuildRefusesImagesOverTheUnpackLimit(t *testing.T) {
	testenv.Root(t)
	// The init image is the test binary: the cap lets it by, and not the
	// blob of the image under test.
	self, err := os.Stat(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	limit := self.Size() + 1<<20
	big := map[string]string{"data/blob": strings.Repeat("x", int(limit)+1)}
	tests := []struct {
		name, spec string
		named      []string // what the error must name
	}{
		{
			name:  "a service image",
			spec:  strings.Replace(testSpec, "image: test/svc:1", "image: test/big:1", 1),
			named: []string{"service svc (test/big:1)", `"data/blob"`},
		},
		{
			name:  "a kernel image",
			spec:  strings.Replace(testSpec, "image: test/kernel:1", "image: test/big:1", 1),
			named: []string{"kernel image test/big:1", `"data/blob"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := testStore(t)
			addImage(t, st, "test/big:1", big, v1.Config{})
			spec, _, err := imagespec.Parse("test.yml", []byte(tt.spec))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			out, cache := filepath.Join(dir, "out"), filepath.Join(dir, "cache")
			_, err = Build(context.Background(), Options{
				Spec: spec, Name: "test", OutDir: out, Store: st, CacheDir: cache,
				MaxUnpackBytes: limit,
				Log:            slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if !errors.Is(err, images.ErrTooLarge) {
				t.Fatalf("Build = %v, want ErrTooLarge", err)
			}
			for _, want := range tt.named {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
			if left := treeBelow(t, out); len(left) > 0 {
				t.Errorf("the failed build left %q in its output directory", left)
			}
			for _, p := range treeBelow(t, filepath.Join(cache, "kernels")) {
				if strings.HasPrefix(p, ".unpack-") {
					t.Errorf("the failed build left %s in the kernel cache", p)
				}
			}
		})
	}
}

// treeBelow lists what is in dir, which may not exist, as paths relative
// to it.
func treeBelow(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) && p == dir {
			return filepath.SkipAll
		}
		if err != nil {
			return err
		}
		if p != dir {
			found = append(found, strings.TrimPrefix(p, dir+"/"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}
