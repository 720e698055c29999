package dirtar

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tree lays out one of everything an image can hold, and a socket.
func tree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "bin/su"), []byte("su"), 0o755))
	must(unix.Chmod(filepath.Join(dir, "bin/su"), 0o4755))
	must(os.WriteFile(filepath.Join(dir, "bin/a"), []byte("same"), 0o644))
	must(os.Link(filepath.Join(dir, "bin/a"), filepath.Join(dir, "bin/b")))
	must(os.Symlink("a", filepath.Join(dir, "bin/sh")))
	must(unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	l, err := net.Listen("unix", filepath.Join(dir, "sock"))
	must(err)
	t.Cleanup(func() { l.Close() })
	err = unix.Setxattr(filepath.Join(dir, "bin/a"), "user.minikit", []byte("kept"), 0)
	if errors.Is(err, unix.ENOTSUP) {
		t.Logf("the temporary directory takes no user xattrs; not checking them")
	} else {
		must(err)
	}
	return dir
}

func archive(t *testing.T, dir string, o Options) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := Write(tw, dir, o); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestWriteKeepsWhatAnImageNeedsAndNothingElse(t *testing.T) {
	dir := tree(t)
	when := time.Unix(1700000000, 0)
	got := map[string]*tar.Header{}
	var order []string
	tr := tar.NewReader(bytes.NewReader(archive(t, dir, Options{ModTime: when, Prefix: "x"})))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name], order = h, append(order, h.Name)
		if !h.ModTime.Equal(when) {
			t.Errorf("%s: time %v, want %v", h.Name, h.ModTime, when)
		}
		if h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner names %q:%q", h.Name, h.Uname, h.Gname)
		}
	}
	want := []string{"x/bin/", "x/bin/a", "x/bin/b", "x/bin/sh", "x/bin/su", "x/fifo"}
	if len(order) != len(want) {
		t.Fatalf("entries %q, want %q (no socket, no root)", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("entries %q, want %q", order, want)
		}
	}
	if h := got["x/bin/su"]; h.Mode != 0o4755 {
		t.Errorf("setuid file: mode %o", h.Mode)
	}
	if h := got["x/bin/b"]; h.Typeflag != tar.TypeLink || h.Linkname != "x/bin/a" {
		t.Errorf("second hard link: %+v", h)
	}
	if h := got["x/bin/sh"]; h.Typeflag != tar.TypeSymlink || h.Linkname != "a" {
		t.Errorf("symlink: %+v", h)
	}
	if h := got["x/fifo"]; h.Typeflag != tar.TypeFifo {
		t.Errorf("fifo: %+v", h)
	}
	if v, ok := got["x/bin/a"].PAXRecords["SCHILY.xattr.user.minikit"]; ok && v != "kept" {
		t.Errorf("xattr: %q", v)
	}
	if h := got["x/bin/a"]; h.Uid != os.Getuid() {
		t.Errorf("owner %d, want the file's %d", h.Uid, os.Getuid())
	}
}

func TestTheSameTreeGivesTheSameBytes(t *testing.T) {
	dir := tree(t)
	first := archive(t, dir, Options{})
	// Times on disk are not the archive's.
	if err := os.Chtimes(filepath.Join(dir, "bin/su"), time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, archive(t, dir, Options{})) {
		t.Error("two archives of one tree differ")
	}
}

func TestRootOwnedHidesWhoUnpacked(t *testing.T) {
	dir := tree(t)
	if os.Getuid() == 0 {
		if err := os.Lchown(filepath.Join(dir, "bin/a"), 1234, 1234); err != nil {
			t.Fatal(err)
		}
	}
	tr := tar.NewReader(bytes.NewReader(archive(t, dir, Options{RootOwned: true})))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: owned by %d:%d", h.Name, h.Uid, h.Gid)
		}
	}
}
