package images

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzUnpackTar unpacks arbitrary streams into a directory three levels
// down a scratch directory: whatever the stream holds, the unpack may fail
// but must not panic, and must leave the scratch directory as it was but
// for what is inside the destination.
func FuzzUnpackTar(f *testing.F) {
	f.Add(tarBytes(f, dirEntry("etc/", 0o755), fileEntry("etc/motd", 0o644), "hello", symlinkEntry("bin", "usr/bin"), hardLinkEntry("etc/issue", "etc/motd")))
	f.Add(tarBytes(f, fileEntry("../../../escaped", 0o644), "x"))
	f.Add(tarBytes(f, symlinkEntry("up", "../../.."), fileEntry("up/escaped", 0o644), "x"))
	f.Add(tarBytes(f, symlinkEntry("host", ".."), hardLinkEntry("victim", "host/../../victim")))
	f.Add(tarBytes(f, symlinkEntry("host", "../../.."), fileEntry("host/.wh.victim", 0o644), "", fileEntry("host/.wh..wh..opq", 0o644), ""))
	f.Add(sparseTar(f, "disk.img", 1<<40, "end"))
	f.Add(sparseTar(f, "small.img", 64<<10, "end"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tarBytes(f, fileEntry("a", 0o644), "a"))
	zw.Close()
	f.Add(gz.Bytes())

	f.Fuzz(func(t *testing.T, stream []byte) {
		scratch := t.TempDir()
		dest := filepath.Join(scratch, "a", "b", "dest")
		if err := os.MkdirAll(dest, 0o755); err != nil {
			t.Fatal(err)
		}
		victim := filepath.Join(scratch, "victim")
		if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
			t.Fatal(err)
		}
		before := outside(t, scratch, dest)

		// A small cap keeps each run short; what it refuses is an error
		// like any other here.
		_ = UnpackTar(bytes.NewReader(stream), dest, UnpackOptions{IgnoreOwners: true, MaxBytes: 1 << 20})

		if after := outside(t, scratch, dest); !slices.Equal(before, after) {
			t.Errorf("the unpack changed what is outside its destination:\nbefore %q\nafter  %q", before, after)
		}
		if got, err := os.ReadFile(victim); err != nil || string(got) != "precious" {
			t.Errorf("victim now holds %q (%v)", got, err)
		}
		if st := lstat(t, dest); st.Mode&0o170000 != 0o040000 {
			t.Errorf("the destination was replaced: mode %o", st.Mode)
		}
	})
}

// outside is snapshot of dir leaving out what is beneath dest.
func outside(t *testing.T, dir, dest string) []string {
	t.Helper()
	return slices.DeleteFunc(snapshot(t, dir), func(p string) bool {
		return len(p) > len(dest) && p[:len(dest)] == dest && (p[len(dest)] == '/' || p[len(dest)] == ' ')
	})
}
