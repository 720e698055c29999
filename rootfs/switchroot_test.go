package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minikit/minikit/internal/testenv"
	"golang.org/x/sys/unix"
)

// The copy MoveToTmpfs makes keeps what the image's files are: contents,
// modes (setuid included), owners, symlinks, hard links and fifos, with
// several workers copying at once.
func TestCopyTreeKeepsEveryKindOfFile(t *testing.T) {
	testenv.Root(t) // to copy owners
	src, dst := t.TempDir(), t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 200 {
		dir := filepath.Join(src, "d", string(rune('a'+i%7)))
		must(os.MkdirAll(dir, 0o755))
		must(os.WriteFile(filepath.Join(dir, "f"+string(rune('a'+i%26))+string(rune('a'+i/26))), []byte{byte(i)}, 0o644))
	}
	must(os.WriteFile(filepath.Join(src, "suid"), []byte("x"), 0o644))
	must(os.Chown(filepath.Join(src, "suid"), 0, 5)) // chown clears setuid: first
	must(os.Chmod(filepath.Join(src, "suid"), 0o755|os.ModeSetuid))
	must(os.Symlink("d/a", filepath.Join(src, "link")))
	must(os.WriteFile(filepath.Join(src, "one"), []byte("shared"), 0o600))
	must(os.Link(filepath.Join(src, "one"), filepath.Join(src, "two")))
	must(unix.Mkfifo(filepath.Join(src, "fifo"), 0o600))

	// The copy of src goes to dst/src, as / goes to newroot/.
	must(os.MkdirAll(filepath.Dir(filepath.Join(dst, src)), 0o755))
	var st unix.Stat_t
	must(unix.Lstat(src, &st))
	c := copier{dev: st.Dev, skip: dst, links: map[uint64]string{}, workers: 4}
	must(c.copyTree(src, dst))
	out := filepath.Join(dst, src)

	n := 0
	filepath.WalkDir(filepath.Join(out, "d"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	if n != 200 {
		t.Errorf("copied %d of 200 files", n)
	}
	var suid unix.Stat_t
	must(unix.Stat(filepath.Join(out, "suid"), &suid))
	if suid.Mode&0o7777 != 0o4755 || suid.Gid != 5 {
		t.Errorf("suid: mode %o gid %d, want 4755 and 5", suid.Mode&0o7777, suid.Gid)
	}
	if target, err := os.Readlink(filepath.Join(out, "link")); err != nil || target != "d/a" {
		t.Errorf("link: %q, %v", target, err)
	}
	var one, two unix.Stat_t
	must(unix.Stat(filepath.Join(out, "one"), &one))
	must(unix.Stat(filepath.Join(out, "two"), &two))
	if one.Ino != two.Ino || one.Nlink != 2 {
		t.Errorf("the hard links became %d and %d (links %d)", one.Ino, two.Ino, one.Nlink)
	}
	var fifo unix.Stat_t
	must(unix.Lstat(filepath.Join(out, "fifo"), &fifo))
	if fifo.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fifo is mode %o", fifo.Mode)
	}
}

// A file the copy cannot read stops it with an error naming the file,
// after the workers have finished.
func TestCopyTreeReportsTheFileThatFailed(t *testing.T) {
	testenv.Root(t) // to copy owners
	src, dst := t.TempDir(), t.TempDir()
	for _, f := range []string{"a", "b", "c"} {
		os.WriteFile(filepath.Join(src, f), []byte(f), 0o644)
	}
	// Its copy exists already: O_EXCL refuses to overwrite it.
	os.MkdirAll(filepath.Join(dst, src), 0o755)
	os.WriteFile(filepath.Join(dst, src, "b"), nil, 0o644)
	var st unix.Stat_t
	unix.Lstat(src, &st)
	c := copier{dev: st.Dev, skip: dst, links: map[uint64]string{}, workers: 2}
	err := c.copyTree(src, dst)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(src, "b")) {
		t.Errorf("err = %v, want one naming %s", err, filepath.Join(src, "b"))
	}
}
