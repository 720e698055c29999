package kmod

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	tests := []struct {
		name           string
		mods           []fakeModule
		builtin        []string
		builtinModinfo []string
		request        []string
		want           []string
	}{
		{
			name:    "dependencies come before their users",
			mods:    []fakeModule{mod("a", "depends=b,c"), mod("b", "depends=c"), mod("c", "depends=")},
			request: []string{"a"},
			want:    []string{"c", "b", "a"},
		},
		{
			name:    "a shared dependency is listed once",
			mods:    []fakeModule{mod("a", "depends=c"), mod("d", "depends=c"), mod("c")},
			request: []string{"a", "d"},
			want:    []string{"c", "a", "d"},
		},
		{
			name:    "a module asked for twice is listed once",
			mods:    []fakeModule{mod("a"), mod("b")},
			request: []string{"a", "b", "a"},
			want:    []string{"a", "b"},
		},
		{
			name:    "independent modules keep the order asked for",
			mods:    []fakeModule{mod("zz"), mod("aa"), mod("mm")},
			request: []string{"zz", "aa", "mm"},
			want:    []string{"zz", "aa", "mm"},
		},
		{
			name:    "dashes and underscores name the same module",
			mods:    []fakeModule{mod("virtio_rng", "depends=virtio-ring"), mod("virtio_ring")},
			request: []string{"virtio-rng", "virtio_rng"},
			want:    []string{"virtio_ring", "virtio_rng"},
		},
		{
			name:    "a built-in dependency is satisfied silently",
			mods:    []fakeModule{mod("a", "depends=crc32,b"), mod("b")},
			builtin: []string{"kernel/lib/crc32.ko"},
			request: []string{"a"},
			want:    []string{"b", "a"},
		},
		{
			name:    "a built-in module asked for is left out",
			mods:    []fakeModule{mod("a")},
			builtin: []string{"kernel/lib/crc-ccitt.ko"},
			request: []string{"crc_ccitt", "a"},
			want:    []string{"a"},
		},
		{
			name:           "an alias of a built-in module is satisfied silently",
			mods:           []fakeModule{mod("a", "softdep=pre: crypto-sha256")},
			builtin:        []string{"kernel/crypto/sha256_generic.ko"},
			builtinModinfo: []string{"sha256_generic.alias=crypto-sha256", "sha256_generic.license=GPL"},
			request:        []string{"a"},
			want:           []string{"a"},
		},
		{
			name:    "a softdep pre module loads first",
			mods:    []fakeModule{mod("ext4", "softdep=pre: crc32c", "depends=jbd2"), mod("jbd2"), mod("crc32c")},
			request: []string{"ext4"},
			want:    []string{"crc32c", "jbd2", "ext4"},
		},
		{
			name:    "a softdep nothing answers to is skipped",
			mods:    []fakeModule{mod("a", "softdep=pre: nowhere post: b"), mod("b")},
			request: []string{"a"},
			want:    []string{"a"},
		},
		{
			name: "a softdep alias pulls in every module answering it",
			mods: []fakeModule{
				mod("ext4", "softdep=pre: crypto-crc32c"),
				mod("crc32c_intel", "alias=crypto-crc32c"),
				mod("crc32c_generic", "alias=crypto-crc32c", "alias=crc32c"),
				mod("unrelated", "alias=crypto-crc32"),
			},
			request: []string{"ext4"},
			want:    []string{"crc32c_generic", "crc32c_intel", "ext4"},
		},
		{
			name:    "an alias asked for resolves like modprobe, globs included",
			mods:    []fakeModule{mod("overlay", "alias=fs-overlay"), mod("e1000", "alias=pci:v00008086d0000100Esv*sd*bc*sc*i*")},
			request: []string{"fs-overlay", "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00"},
			want:    []string{"overlay", "e1000"},
		},
		{
			name:    "a softdep that closes a cycle is dropped",
			mods:    []fakeModule{mod("a", "depends=b"), mod("b", "softdep=pre: a")},
			request: []string{"a"},
			want:    []string{"b", "a"},
		},
		{
			name: "compressed modules resolve like plain ones",
			mods: []fakeModule{
				{rel: "kernel/fs/a.ko.zst", modinfo: []string{"name=a", "depends=b"}},
				{rel: "kernel/fs/b.ko.gz", modinfo: []string{"name=b"}},
			},
			request: []string{"a"},
			want:    []string{"b", "a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix, err := NewIndex(writeTree(t, tt.mods, tt.builtin, tt.builtinModinfo))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ix.Resolve(tt.request)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Resolve(%q) = %q, want %q", tt.request, got, tt.want)
			}
		})
	}
}

func TestResolveRejects(t *testing.T) {
	tests := []struct {
		name    string
		mods    []fakeModule
		request []string
		wantErr []string
	}{
		{
			name:    "an unknown module, suggesting close names",
			mods:    []fakeModule{mod("virtio_net"), mod("virtio_blk"), mod("e1000")},
			request: []string{"virtio-nett"},
			wantErr: []string{"module virtio-nett not found", "did you mean virtio_net"},
		},
		{
			name:    "an unknown module with nothing close",
			mods:    []fakeModule{mod("e1000")},
			request: []string{"zzzzzzzz"},
			wantErr: []string{"module zzzzzzzz not found"},
		},
		{
			name:    "a dependency cycle, naming it",
			mods:    []fakeModule{mod("top", "depends=a"), mod("a", "depends=b"), mod("b", "depends=c"), mod("c", "depends=a")},
			request: []string{"top"},
			wantErr: []string{"dependency cycle a -> b -> c -> a"},
		},
		{
			name:    "a module depending on itself",
			mods:    []fakeModule{mod("a", "depends=a")},
			request: []string{"a"},
			wantErr: []string{"dependency cycle a -> a"},
		},
		{
			name:    "a dependency missing from the tree",
			mods:    []fakeModule{mod("a", "depends=gone")},
			request: []string{"a"},
			wantErr: []string{"module a", "depends on gone"},
		},
		{
			name:    "an empty name",
			mods:    []fakeModule{mod("a")},
			request: []string{"a", " "},
			wantErr: []string{"empty module name"},
		},
		{
			name:    "a needed module that cannot be read",
			mods:    []fakeModule{mod("a", "depends=b"), {rel: "kernel/b.ko.xz", modinfo: []string{"name=b"}}},
			request: []string{"a"},
			wantErr: []string{"b.ko.xz", "xz-compressed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix, err := NewIndex(writeTree(t, tt.mods, nil, nil))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ix.Resolve(tt.request)
			if err == nil {
				t.Fatalf("Resolve(%q) = %q, want an error", tt.request, got)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Resolve(%q) error = %q, want it to contain %q", tt.request, err, want)
				}
			}
		})
	}
}

// TestResolveReadsOnlyNeededModules shows the index is lazy: a module
// nobody needs is never opened, so a damaged one does not matter.
func TestResolveReadsOnlyNeededModules(t *testing.T) {
	dir := writeTree(t, []fakeModule{mod("a", "depends=b"), mod("b")}, nil, nil)
	if err := os.WriteFile(filepath.Join(dir, "kernel", "broken.ko"), []byte("not a module"), 0o644); err != nil {
		t.Fatal(err)
	}
	ix, err := NewIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ix.Resolve([]string{"a"})
	if err != nil {
		t.Fatalf("Resolve read a module it did not need: %v", err)
	}
	if want := []string{"b", "a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Resolve = %q, want %q", got, want)
	}
}

func TestResolveIsDeterministic(t *testing.T) {
	mods := []fakeModule{
		mod("top", "depends=m1,m2,m3", "softdep=pre: crypto-x"),
		mod("m1", "depends=leaf"), mod("m2", "depends=leaf,m1"), mod("m3"), mod("leaf"),
		mod("x_a", "alias=crypto-x"), mod("x_b", "alias=crypto-x"), mod("x_c", "alias=crypto-x"),
	}
	dir := writeTree(t, mods, nil, nil)
	var first []string
	for i := range 5 {
		ix, err := NewIndex(dir)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ix.Resolve([]string{"top", "m3"})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = got
			continue
		}
		if !reflect.DeepEqual(got, first) {
			t.Fatalf("run %d: Resolve = %q, first run gave %q", i, got, first)
		}
	}
}

func TestNewIndexRejects(t *testing.T) {
	tests := []struct {
		name    string
		dir     func(t *testing.T) string
		wantErr string
	}{
		{
			name:    "a missing directory",
			dir:     func(t *testing.T) string { return filepath.Join(t.TempDir(), "absent") },
			wantErr: "absent",
		},
		{
			name:    "a directory without modules",
			dir:     func(t *testing.T) string { return t.TempDir() },
			wantErr: "no modules",
		},
		{
			name: "one module name in two files",
			dir: func(t *testing.T) string {
				return writeTree(t, []fakeModule{{rel: "kernel/a/dup.ko"}, {rel: "updates/dup.ko.zst"}}, nil, nil)
			},
			wantErr: "module dup is both kernel/a/dup.ko and updates/dup.ko.zst",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewIndex(tt.dir(t))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewIndex error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestResolveConcurrently(t *testing.T) {
	mods := []fakeModule{mod("a", "depends=b", "softdep=pre: crypto-x"), mod("b"), mod("x_generic", "alias=crypto-x")}
	ix, err := NewIndex(writeTree(t, mods, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"x_generic", "b", "a"}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			got, err := ix.Resolve([]string{"a"})
			if err == nil && !reflect.DeepEqual(got, want) {
				err = fmt.Errorf("Resolve = %q, want %q", got, want)
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// ListFile writes, for each module, the modules before it that it needs:
// its depends= and what answers to its softdep pre:, not the modules that
// only came before it, so that those load side by side with it.
func TestListFileNamesWhatEachModuleNeeds(t *testing.T) {
	dir := writeTree(t, []fakeModule{
		mod("ext4", "depends=jbd2,crc16", "softdep=pre: crc32c"),
		mod("jbd2"),
		mod("crc16"),
		mod("crc32c_generic", "alias=crc32c", "alias=crypto-crc32c"),
		mod("overlay"),
		// A softdep cycle: Resolve drops the one that closes it.
		mod("a", "softdep=pre: b"),
		mod("b", "softdep=pre: a"),
	}, nil, nil)
	ix, err := NewIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	names, err := ix.Resolve([]string{"ext4", "overlay", "a"})
	if err != nil {
		t.Fatal(err)
	}
	pathOf := map[string]string{}
	for _, n := range names {
		pathOf[n] = "/m/" + n + ".ko"
	}
	got, err := ix.ListFile(names, pathOf)
	if err != nil {
		t.Fatal(err)
	}
	want := "/m/crc32c_generic.ko:\n/m/jbd2.ko:\n/m/crc16.ko:\n" +
		"/m/ext4.ko: /m/crc16.ko /m/crc32c_generic.ko /m/jbd2.ko\n" +
		"/m/overlay.ko:\n/m/b.ko:\n/m/a.ko: /m/b.ko\n"
	if string(got) != want {
		t.Errorf("ListFile =\n%s\nwant\n%s", got, want)
	}
	if _, err := ix.ListFile([]string{"ext4"}, map[string]string{}); err == nil {
		t.Error("ListFile of a module without a path: no error")
	}
}
