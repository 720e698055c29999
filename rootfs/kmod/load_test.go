package kmod

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func TestLoaderLoadsInOrderAndGoesOnAfterFailures(t *testing.T) {
	root := t.TempDir()
	paths := []string{
		"/lib/modules/v/kernel/failover.ko",
		"/lib/modules/v/kernel/loaded-already.ko",
		"/lib/modules/v/kernel/missing.ko",
		"/lib/modules/v/kernel/refused.ko",
		"/lib/modules/v/kernel/virtio_net.ko",
	}
	for _, p := range paths {
		if strings.Contains(p, "missing") {
			continue
		}
		writeModule(t, filepath.Join(root, p), "name="+nameFromPath(p))
	}

	var inserted []string
	var logs bytes.Buffer
	l := &Loader{
		Root: root,
		Insert: func(f *os.File) error {
			name := nameFromPath(f.Name())
			inserted = append(inserted, name)
			switch name {
			case "loaded_already":
				return fmt.Errorf("finit_module: %w", syscall.EEXIST)
			case "refused":
				return syscall.ENOEXEC
			}
			return nil
		},
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	errs := l.Load(paths)

	if want := []string{"failover", "loaded_already", "refused", "virtio_net"}; !reflect.DeepEqual(inserted, want) {
		t.Errorf("inserted %q, want %q", inserted, want)
	}
	if len(errs) != 2 {
		t.Fatalf("Load returned %d errors, want 2 (missing, refused): %v", len(errs), errs)
	}
	if !errors.Is(errs[0], fs.ErrNotExist) || !strings.Contains(errs[0].Error(), "missing.ko") {
		t.Errorf("first error = %v, want missing.ko not found", errs[0])
	}
	if !errors.Is(errs[1], syscall.ENOEXEC) || !strings.Contains(errs[1].Error(), "refused.ko") {
		t.Errorf("second error = %v, want refused.ko with ENOEXEC", errs[1])
	}
	for _, want := range []string{
		`msg="module loaded" module=/lib/modules/v/kernel/failover.ko`,
		`msg="module already loaded" module=/lib/modules/v/kernel/loaded-already.ko`,
		`msg="module not loaded" module=/lib/modules/v/kernel/missing.ko`,
		`msg="module not loaded" module=/lib/modules/v/kernel/refused.ko`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s\nlog:\n%s", want, logs.String())
		}
	}
}

func TestLoaderReportsNothingWhenAllLoad(t *testing.T) {
	root := t.TempDir()
	writeModule(t, filepath.Join(root, "a.ko"), "name=a")
	l := &Loader{Root: root, Insert: func(*os.File) error { return nil }, Logger: slog.New(slog.DiscardHandler)}
	if errs := l.Load([]string{"/a.ko"}); errs != nil {
		t.Errorf("Load = %v, want nil", errs)
	}
}

func TestReadList(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    []string
	}{
		{name: "an empty file lists nothing", content: "", want: nil},
		{
			name:    "comments and blank lines are ignored",
			content: "# written by minikit\n\n/lib/modules/v/a.ko\n  \n  # indented comment\n/lib/modules/v/b.ko  \n",
			want:    []string{"/lib/modules/v/a.ko", "/lib/modules/v/b.ko"},
		},
		{name: "a last line without newline counts", content: "/a.ko\n/b.ko", want: []string{"/a.ko", "/b.ko"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "modules")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadList(path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ReadList = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadListOfMissingFileIsNotExist(t *testing.T) {
	_, err := ReadList(filepath.Join(t.TempDir(), "modules"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadList of a missing file = %v, want fs.ErrNotExist", err)
	}
}

func TestFormatListReadsBack(t *testing.T) {
	paths := []string{"/lib/modules/v/kernel/a.ko", "/lib/modules/v/kernel/b.ko"}
	file := filepath.Join(t.TempDir(), "modules")
	if err := os.WriteFile(file, FormatList(paths), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadList(file)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, paths) {
		t.Errorf("ReadList(FormatList(%q)) = %q", paths, got)
	}
}
