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
	"sync"
	"syscall"
	"testing"
	"time"
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
		name      string
		content   string
		want      []string
		wantNeeds [][]int
	}{
		{name: "an empty file lists nothing", content: "", want: nil, wantNeeds: nil},
		{
			name:      "comments and blank lines are ignored",
			content:   "# written by minikit\n\n/lib/modules/v/a.ko:\n  \n  # indented comment\n/lib/modules/v/b.ko:  \n",
			want:      []string{"/lib/modules/v/a.ko", "/lib/modules/v/b.ko"},
			wantNeeds: [][]int{{}, {}},
		},
		{
			name:      "each module needs what it names",
			content:   "/crc16.ko:\n/overlay.ko:\n/jbd2.ko:\n/ext4.ko: /crc16.ko /jbd2.ko\n",
			want:      []string{"/crc16.ko", "/overlay.ko", "/jbd2.ko", "/ext4.ko"},
			wantNeeds: [][]int{{}, {}, {}, {0, 2}},
		},
		{
			// As a list without what each needs was written: one by one.
			name:      "a bare path needs every module before it",
			content:   "/a.ko\n/b.ko:\n/c.ko",
			want:      []string{"/a.ko", "/b.ko", "/c.ko"},
			wantNeeds: [][]int{{}, {}, {0, 1}},
		},
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
			if !reflect.DeepEqual(got.Paths, tt.want) {
				t.Errorf("ReadList = %q, want %q", got.Paths, tt.want)
			}
			var needs [][]int
			for i := range got.Paths {
				needs = append(needs, got.Needs(i))
			}
			if !reflect.DeepEqual(needs, tt.wantNeeds) {
				t.Errorf("needs = %v, want %v", needs, tt.wantNeeds)
			}
		})
	}
}

// A list that could not load as written is refused whole, naming its
// line, rather than loaded in an order that would fail halfway.
func TestReadListRejects(t *testing.T) {
	for _, tt := range []struct{ content, want string }{
		{"/ext4.ko: /jbd2.ko\n/jbd2.ko:\n", "line 1: /ext4.ko needs /jbd2.ko, which no line before it lists"},
		{"/a.ko:\n\n/a.ko:\n", "line 3: /a.ko is listed twice"},
	} {
		path := filepath.Join(t.TempDir(), "modules")
		if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadList(path); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("ReadList of %q = %v, want an error naming %s and %q", tt.content, err, path, tt.want)
		}
	}
}

func TestReadListOfMissingFileIsNotExist(t *testing.T) {
	_, err := ReadList(filepath.Join(t.TempDir(), "modules"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadList of a missing file = %v, want fs.ErrNotExist", err)
	}
}

func TestFormatListReadsBack(t *testing.T) {
	paths := []string{"/kernel/crc16.ko", "/kernel/jbd2.ko", "/kernel/ext4.ko", "/kernel/overlay.ko"}
	needs := map[string][]string{"/kernel/ext4.ko": {"/kernel/crc16.ko", "/kernel/jbd2.ko"}}
	data, err := FormatList(paths, needs)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "modules")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadList(file)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Paths, paths) {
		t.Errorf("ReadList(FormatList(%q)) = %q", paths, got.Paths)
	}
	for i, p := range paths {
		var names []string
		for _, n := range got.Needs(i) {
			names = append(names, got.Paths[n])
		}
		if !reflect.DeepEqual(names, needs[p]) {
			t.Errorf("%s needs %q, want %q", p, names, needs[p])
		}
	}

	if _, err := FormatList([]string{"/ext4.ko", "/jbd2.ko"}, map[string][]string{"/ext4.ko": {"/jbd2.ko"}}); err == nil {
		t.Error("FormatList of a module before what it needs: no error")
	}
	if _, err := FormatList([]string{"/a.ko", "/a.ko"}, nil); err == nil {
		t.Error("FormatList of a module listed twice: no error")
	}
}

// LoadList starts a module only once what it needs has loaded (or
// failed), and loads the others side by side: here jbd2 and overlay,
// which need nothing, each end their load only once the other has
// started, which a loader going one by one would never let them do. A module that fails is reported, and
// what needs it still tried.
func TestLoadListLoadsIndependentModulesSideBySide(t *testing.T) {
	root := t.TempDir()
	list := "/crc16.ko:\n/jbd2.ko:\n/missing.ko:\n/ext4.ko: /crc16.ko /jbd2.ko /missing.ko\n/overlay.ko:\n"
	for _, name := range []string{"crc16", "jbd2", "ext4", "overlay"} {
		writeModule(t, filepath.Join(root, name+".ko"), "name="+name)
	}
	file := filepath.Join(t.TempDir(), "modules")
	if err := os.WriteFile(file, []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := ReadList(file)
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	loaded := map[string]bool{}
	var order []string
	started := map[string]chan struct{}{"jbd2": make(chan struct{}), "overlay": make(chan struct{})}
	other := map[string]string{"jbd2": "overlay", "overlay": "jbd2"}
	loader := &Loader{
		Root:     root,
		Parallel: 2,
		Logger:   slog.New(slog.DiscardHandler),
		Insert: func(f *os.File) error {
			name := nameFromPath(f.Name())
			switch name {
			case "jbd2", "overlay":
				close(started[name])
				select {
				case <-started[other[name]]:
				case <-time.After(hang):
					return fmt.Errorf("%s did not start while %s loaded", other[name], name)
				}
			case "ext4":
				mu.Lock()
				ready := loaded["crc16"] && loaded["jbd2"]
				mu.Unlock()
				if !ready {
					return fmt.Errorf("ext4 started before crc16 and jbd2 had loaded")
				}
			}
			mu.Lock()
			loaded[name] = true
			order = append(order, name)
			mu.Unlock()
			return nil
		},
	}
	errs := loader.LoadList(l)
	if len(errs) != 1 || !errors.Is(errs[0], fs.ErrNotExist) || !strings.Contains(errs[0].Error(), "missing.ko") {
		t.Errorf("LoadList = %v, want one error: missing.ko not found", errs)
	}
	for _, m := range []string{"crc16", "jbd2", "ext4", "overlay"} {
		if !loaded[m] {
			t.Errorf("%s was not loaded (loaded: %v)", m, order)
		}
	}
}

// hang bounds waits that only keep a broken loader from hanging a test.
const hang = 10 * time.Second
