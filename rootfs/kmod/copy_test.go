package kmod

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCopyWritesDecompressedModulesInOrder(t *testing.T) {
	mods := []fakeModule{
		{rel: "kernel/fs/ext4/ext4.ko.zst", modinfo: []string{"name=ext4", "depends=jbd2"}},
		{rel: "kernel/fs/jbd2/jbd2.ko.gz", modinfo: []string{"name=jbd2"}},
		{rel: "kernel/drivers/net/e1000.ko", modinfo: []string{"name=e1000"}},
		{rel: "kernel/unused.ko", modinfo: []string{"name=unused"}},
	}
	ix, err := NewIndex(writeTree(t, mods, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := ix.Resolve([]string{"ext4", "e1000"})
	if err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	got, err := ix.Copy(resolved, dest)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/lib/modules/6.1.0-99-test/kernel/fs/jbd2/jbd2.ko",
		"/lib/modules/6.1.0-99-test/kernel/fs/ext4/ext4.ko",
		"/lib/modules/6.1.0-99-test/kernel/drivers/net/e1000.ko",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Copy = %q, want %q", got, want)
	}

	// Exactly the returned files exist, plain ELF, mode 0644, nothing else.
	var files []string
	err = filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files = append(files, "/"+filepath.ToSlash(strings.TrimPrefix(p, dest+string(filepath.Separator))))
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v, want 0644", p, fi.Mode().Perm())
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(data, elfMagic) {
			t.Errorf("%s is not a decompressed ELF file", p)
		}
		info, err := ReadInfo(p)
		if err != nil {
			t.Error(err)
		} else if info.Name != nameFromPath(p) {
			t.Errorf("%s holds module %s", p, info.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{want[2], want[1], want[0]} // lexical walk order
	if !reflect.DeepEqual(files, wantFiles) {
		t.Errorf("files in image = %q, want %q", files, wantFiles)
	}
}

func TestCopyIsRepeatableAndDeduplicates(t *testing.T) {
	ix, err := NewIndex(writeTree(t, []fakeModule{mod("a"), mod("b")}, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	first, err := ix.Copy([]string{"a", "b", "a"}, dest)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 {
		t.Errorf("Copy of a, b, a = %q, want each module once", first)
	}
	again, err := ix.Copy([]string{"a", "b"}, dest)
	if err != nil {
		t.Fatalf("copying over an earlier copy: %v", err)
	}
	if !reflect.DeepEqual(first, again) {
		t.Errorf("second Copy = %q, first gave %q", again, first)
	}
}

func TestCopyRejectsUnknownAndUnreadableModules(t *testing.T) {
	mods := []fakeModule{mod("a"), {rel: "kernel/x.ko.xz", modinfo: []string{"name=x"}}}
	ix, err := NewIndex(writeTree(t, mods, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		wantErr string
	}{
		{"nosuch", "copy module nosuch: not in"},
		{"x", "copy module x"},
	} {
		dest := t.TempDir()
		if _, err := ix.Copy([]string{"a", tt.name}, dest); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Copy(a, %s) error = %v, want one containing %q", tt.name, err, tt.wantErr)
		}
		// No temporary files are left behind by the failed copy.
		filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.Contains(d.Name(), ".tmp-") {
				t.Errorf("temporary file left behind: %s", p)
			}
			return nil
		})
	}
}
