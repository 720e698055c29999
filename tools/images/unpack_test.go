package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/minikit/minikit/internal/testenv"
	"golang.org/x/sys/unix"
)

func lstat(t *testing.T, path string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatalf("lstat %s: %v", path, err)
	}
	return &st
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func assertMissing(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists (lstat: %v), want it gone", path, err)
	}
}

func TestUnpackAppliesLayersInOrder(t *testing.T) {
	// Owners and device nodes need root.
	testenv.Root(t)
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, []byte("host file"), 0o644); err != nil {
		t.Fatal(err)
	}
	setuid := fileEntry("bin/tool", 0o4755)
	setuid.Uid, setuid.Gid = 1000, 1001
	attr := fileEntry("etc/with-xattr", 0o600)
	attr.PAXRecords = map[string]string{"SCHILY.xattr.user.minikit": "kept"}
	device := &tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: testTime}
	lower := tarLayer(t,
		dirEntry("bin/", 0o755),
		setuid, "tool",
		hardLinkEntry("bin/tool2", "bin/tool"),
		symlinkEntry("bin/sh", "tool"),
		dirEntry("etc/", 0o750),
		fileEntry("etc/a", 0o644), "a",
		fileEntry("etc/b", 0o644), "old b",
		attr, "x",
		dirEntry("gone/", 0o755),
		fileEntry("gone/file", 0o644), "gone",
		dirEntry("opaque/", 0o755),
		fileEntry("opaque/old", 0o644), "old",
		dirEntry("opaque/sub/", 0o755),
		fileEntry("opaque/sub/old2", 0o644), "old2",
		fileEntry("becomes-dir", 0o644), "file",
		symlinkEntry("was-symlink", outside),
		&tar.Header{Typeflag: tar.TypeFifo, Name: "fifo", Mode: 0o640, ModTime: testTime},
		dirEntry("dev/", 0o755),
		device,
	)
	upper := tarLayer(t,
		fileEntry("etc/.wh.a", 0o644), "",
		fileEntry("etc/b", 0o600), "new b",
		fileEntry(".wh.gone", 0o644), "",
		fileEntry("opaque/new", 0o644), "new", // before the marker: same layer, kept
		fileEntry("opaque/.wh..wh..opq", 0o644), "",
		dirEntry("becomes-dir/", 0o711),
		fileEntry("was-symlink", 0o644), "replaced",
		fileEntry("created/deep/file", 0o644), "parents made",
	)
	img := imageOf(t, lower, upper)

	for _, allowDevices := range []bool{false, true} {
		t.Run(fmt.Sprintf("AllowDevices=%v", allowDevices), func(t *testing.T) {
			dest := t.TempDir()
			if err := Unpack(img, dest, UnpackOptions{AllowDevices: allowDevices}); err != nil {
				t.Fatal(err)
			}
			p := func(rel string) string { return filepath.Join(dest, rel) }

			if st := lstat(t, p("bin/tool")); st.Mode&0o7777 != 0o4755 || st.Uid != 1000 || st.Gid != 1001 {
				t.Errorf("bin/tool mode %o owner %d:%d, want 4755 1000:1001", st.Mode&0o7777, st.Uid, st.Gid)
			}
			if lstat(t, p("bin/tool")).Ino != lstat(t, p("bin/tool2")).Ino {
				t.Error("bin/tool2 is not a hard link of bin/tool")
			}
			if target, err := os.Readlink(p("bin/sh")); err != nil || target != "tool" {
				t.Errorf("bin/sh -> %q (%v), want tool", target, err)
			}
			if st := lstat(t, p("etc")); st.Mode&0o7777 != 0o750 {
				t.Errorf("etc mode %o, want 750", st.Mode&0o7777)
			}
			// etc and opaque changed in the upper layer, so only bin keeps
			// the time its entry gave it.
			for _, rel := range []string{"bin/tool", "bin/sh", "bin"} {
				if st := lstat(t, p(rel)); st.Mtim.Sec != testTime.Unix() {
					t.Errorf("%s mtime %d, want the layer's %d", rel, st.Mtim.Sec, testTime.Unix())
				}
			}
			if got, err := unix.Lgetxattr(p("etc/with-xattr"), "user.minikit", make([]byte, 16)); err == nil && got != 4 {
				t.Errorf("user.minikit xattr is %d bytes, want 4", got)
			}

			assertMissing(t, p("etc/a"))
			if got := readFile(t, p("etc/b")); got != "new b" {
				t.Errorf("etc/b = %q, want the upper layer's", got)
			}
			assertMissing(t, p("gone"))
			entries, _ := os.ReadDir(p("opaque"))
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if !slices.Equal(names, []string{"new"}) {
				t.Errorf("opaque holds %q, want only the upper layer's new", names)
			}
			if st := lstat(t, p("becomes-dir")); st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Mode&0o7777 != 0o711 {
				t.Errorf("becomes-dir mode %o, want a directory with 711", st.Mode)
			}
			if got := readFile(t, p("was-symlink")); got != "replaced" {
				t.Errorf("was-symlink = %q", got)
			}
			if got := readFile(t, outside); got != "host file" {
				t.Errorf("the old symlink's target was written through: %q", got)
			}
			if got := readFile(t, p("created/deep/file")); got != "parents made" {
				t.Errorf("created/deep/file = %q", got)
			}
			if st := lstat(t, p("fifo")); st.Mode&unix.S_IFMT != unix.S_IFIFO || st.Mode&0o777 != 0o640 {
				t.Errorf("fifo mode %o, want a FIFO with 640", st.Mode)
			}
			if allowDevices {
				st := lstat(t, p("dev/null"))
				if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
					t.Errorf("dev/null is mode %o rdev %d:%d, want char 1:3", st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
				}
			} else {
				assertMissing(t, p("dev/null"))
			}
		})
	}
}

func TestUnpackWithoutRootIgnoringOwners(t *testing.T) {
	owned := fileEntry("f", 0o640)
	owned.Uid, owned.Gid = 4242, 4242
	dest := t.TempDir()
	if err := Unpack(imageOf(t, tarLayer(t, owned, "x")), dest, UnpackOptions{IgnoreOwners: true}); err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, filepath.Join(dest, "f")); int(st.Uid) != os.Getuid() || st.Mode&0o777 != 0o640 {
		t.Errorf("f owned by %d mode %o, want the caller %d and 640", st.Uid, st.Mode&0o777, os.Getuid())
	}
}

func TestUnpackTarDetectsCompression(t *testing.T) {
	raw := tarBytes(t, dirEntry("boot/", 0o755), fileEntry("boot/kernel", 0o644), "vmlinuz")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	for name, stream := range map[string][]byte{"plain": raw, "gzip": gz.Bytes()} {
		t.Run(name, func(t *testing.T) {
			dest := t.TempDir()
			if err := UnpackTar(bytes.NewReader(stream), dest, UnpackOptions{IgnoreOwners: true}); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, filepath.Join(dest, "boot/kernel")); got != "vmlinuz" {
				t.Errorf("boot/kernel = %q", got)
			}
		})
	}
}

// TestUnpackRejectsHostileLayers builds layers that try to write outside
// the destination. dest sits three levels inside a scratch directory, so
// every escape these layers attempt would land in the scratch directory,
// where the test can see it, and not on the host.
func TestUnpackRejectsHostileLayers(t *testing.T) {
	scratch := t.TempDir()
	victim := filepath.Join(scratch, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	relScratch := strings.TrimPrefix(scratch, "/") // the scratch dir, seen from "/"

	tests := []struct {
		name   string
		layers [][]any // one []any per layer
		entry  string  // the entry the error must name
	}{
		{
			name:   "a path climbing out with ..",
			layers: [][]any{{fileEntry("../../../escaped", 0o644), "x"}},
			entry:  "../../../escaped",
		},
		{
			name:   "a path hidden behind a harmless prefix",
			layers: [][]any{{fileEntry("a/../../../../escaped", 0o644), "x"}},
			entry:  "a/../../../../escaped",
		},
		{
			name:   "an absolute path",
			layers: [][]any{{fileEntry(filepath.Join(scratch, "escaped"), 0o644), "x"}},
			entry:  filepath.Join(scratch, "escaped"),
		},
		{
			name: "a write through a symlink to / made in the same layer",
			layers: [][]any{{
				symlinkEntry("root", "/"),
				fileEntry("root/"+relScratch+"/escaped", 0o644), "x",
			}},
			entry: "root/" + relScratch + "/escaped",
		},
		{
			name: "a write through a symlink to .. made by an earlier layer",
			layers: [][]any{
				{symlinkEntry("up", "..")},
				{fileEntry("up/escaped", 0o644), "x"},
			},
			entry: "up/escaped",
		},
		{
			name: "a write through a symlink that climbs out from a subdirectory",
			layers: [][]any{{
				dirEntry("usr/", 0o755),
				symlinkEntry("usr/lib", "../../../.."),
				fileEntry("usr/lib/escaped", 0o644), "x",
			}},
			entry: "usr/lib/escaped",
		},
		{
			name: "a write through a chain of symlinks ending in ..",
			layers: [][]any{{
				symlinkEntry("a", "b"),
				symlinkEntry("b", "c/d"),
				dirEntry("c/", 0o755),
				symlinkEntry("c/d", "../.."),
				fileEntry("a/escaped", 0o644), "x",
			}},
			entry: "a/escaped",
		},
		{
			name: "a directory made through a symlink to the scratch dir",
			layers: [][]any{{
				symlinkEntry("s", scratch),
				dirEntry("s/newdir/", 0o755),
			}},
			entry: "s/newdir/",
		},
		{
			name:   "a hard link to /etc/passwd",
			layers: [][]any{{hardLinkEntry("passwd", "/etc/passwd")}},
			entry:  "passwd",
		},
		{
			name:   "a hard link climbing out with ..",
			layers: [][]any{{hardLinkEntry("victim", "../../../victim")}},
			entry:  "victim",
		},
		{
			name: "a hard link through a symlinked directory",
			layers: [][]any{{
				symlinkEntry("host", scratch),
				hardLinkEntry("victim", "host/victim"),
			}},
			entry: "victim",
		},
		{
			name: "a whiteout through a symlink removing a host file",
			layers: [][]any{
				{symlinkEntry("host", scratch)},
				{fileEntry("host/.wh.victim", 0o644), ""},
			},
			entry: "host/.wh.victim",
		},
		{
			name: "an opaque marker through a symlink emptying a host directory",
			layers: [][]any{
				{symlinkEntry("host", scratch)},
				{fileEntry("host/.wh..wh..opq", 0o644), ""},
			},
			entry: "host/.wh..wh..opq",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := filepath.Join(scratch, "a", "b", "dest")
			if err := os.MkdirAll(dest, 0o755); err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(filepath.Join(scratch, "a"))
			before := snapshot(t, scratch)

			var layers []v1.Layer
			var digests []string
			for _, items := range tt.layers {
				l := tarLayer(t, items...)
				d, _ := l.Digest()
				digests = append(digests, d.String())
				layers = append(layers, l)
			}
			img := imageOf(t, layers...)
			err := Unpack(img, dest, UnpackOptions{IgnoreOwners: true})

			if !errors.Is(err, ErrUnsafeEntry) {
				t.Fatalf("Unpack = %v, want ErrUnsafeEntry", err)
			}
			last := digests[len(digests)-1]
			if !strings.Contains(err.Error(), last) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.entry)) {
				t.Errorf("error %q does not name layer %s and entry %q", err, last, tt.entry)
			}
			after := slices.DeleteFunc(snapshot(t, scratch), func(p string) bool {
				return strings.HasPrefix(p, filepath.Join(scratch, "a")+" ") || strings.HasPrefix(p, filepath.Join(scratch, "a")+"/")
			})
			before = slices.DeleteFunc(before, func(p string) bool {
				return strings.HasPrefix(p, filepath.Join(scratch, "a")+" ") || strings.HasPrefix(p, filepath.Join(scratch, "a")+"/")
			})
			if !slices.Equal(before, after) {
				t.Errorf("something outside dest changed:\nbefore %q\nafter  %q", before, after)
			}
			for _, escaped := range []string{filepath.Join(scratch, "escaped"), filepath.Join(scratch, "a", "escaped"), filepath.Join(scratch, "a", "b", "escaped"), filepath.Join(scratch, "newdir")} {
				assertMissing(t, escaped)
			}
			if got := readFile(t, victim); got != "precious" {
				t.Errorf("victim now holds %q", got)
			}
			assertMissing(t, filepath.Join(dest, "passwd"))
		})
	}
}

func TestUnpackTarRejectsAWriteThroughAnExistingSymlink(t *testing.T) {
	scratch := t.TempDir()
	dest := filepath.Join(scratch, "dest")
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	// Put there by something other than a layer, e.g. an earlier unpack.
	if err := os.Symlink(scratch, filepath.Join(dest, "link")); err != nil {
		t.Fatal(err)
	}
	err := UnpackTar(bytes.NewReader(tarBytes(t, fileEntry("link/escaped", 0o644), "x")), dest, UnpackOptions{IgnoreOwners: true})
	if !errors.Is(err, ErrUnsafeEntry) || !strings.Contains(err.Error(), `"link/escaped"`) || !strings.Contains(err.Error(), "tar stream") {
		t.Fatalf("UnpackTar = %v, want ErrUnsafeEntry naming the tar stream and link/escaped", err)
	}
	assertMissing(t, filepath.Join(scratch, "escaped"))
}

func TestUnpackFollowsSymlinksThatStayInside(t *testing.T) {
	img := imageOf(t,
		tarLayer(t, dirEntry("usr/", 0o755), dirEntry("usr/lib/", 0o755), symlinkEntry("lib", "usr/lib")),
		tarLayer(t, fileEntry("lib/libc.so", 0o644), "libc"),
	)
	dest := t.TempDir()
	if err := Unpack(img, dest, UnpackOptions{IgnoreOwners: true}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dest, "usr/lib/libc.so")); got != "libc" {
		t.Errorf("usr/lib/libc.so = %q", got)
	}
	if st := lstat(t, filepath.Join(dest, "lib")); st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Error("lib is no longer a symlink")
	}
}

// TestUnpackRoundTripsFromDir unpacks what FromDir packed: the two are
// each other's inverse for everything FromDir keeps.
func TestUnpackRoundTripsFromDir(t *testing.T) {
	// Owners and device nodes need root.
	testenv.Root(t)
	src := t.TempDir()
	makeTree(t, src, testTime)
	img := fromDirWithUmask(t, src, 0o022)
	dest := t.TempDir()
	if err := Unpack(img, dest, UnpackOptions{}); err != nil {
		t.Fatal(err)
	}
	again := fromDirWithUmask(t, dest, 0o022)
	if digestOf(t, img) != digestOf(t, again) {
		t.Errorf("FromDir of the unpacked tree is %s, of the source %s", digestOf(t, again), digestOf(t, img))
	}
}

// BenchmarkUnpackLargeLayer unpacks a 64 MiB layer of 512 files.
func BenchmarkUnpackLargeLayer(b *testing.B) {
	content := strings.Repeat("minikit!", 128<<10/8)
	var items []any
	for i := range 512 {
		if i%32 == 0 {
			items = append(items, dirEntry(fmt.Sprintf("d%02d/", i/32), 0o755))
		}
		items = append(items, fileEntry(fmt.Sprintf("d%02d/f%03d", i/32, i), 0o644), content)
	}
	stream := tarBytes(b, items...)
	b.SetBytes(int64(len(stream)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dest := b.TempDir()
		b.StartTimer()
		if err := UnpackTar(bytes.NewReader(stream), dest, UnpackOptions{IgnoreOwners: true}); err != nil {
			b.Fatal(err)
		}
	}
}
