package fat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minikit/minikit/internal/testenv"
)

// mtools makes the filesystems these tests read: the same tool that makes
// the boot partitions of minikit's disks.
func mtools(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1", "MTOOLSRC=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

// makeFS formats a filesystem of size bytes (FAT32 when fat32) and copies
// files into it, in order; a file whose content is nil is deleted instead,
// to leave a hole that later files fragment around.
func makeFS(t *testing.T, size int64, fat32 bool, files []struct {
	name string
	data []byte
}) string {
	t.Helper()
	testenv.Tools(t, testenv.RequireQEMUEnv, "mformat (apt-get install mtools)")
	dir := t.TempDir()
	img := filepath.Join(dir, "fat.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	args := []string{"mformat", "-i", img}
	if fat32 {
		args = append(args, "-F")
	}
	mtools(t, append(args, "::")...)
	made := map[string]bool{}
	for i, f := range files {
		for d := filepath.Dir(f.name); d != "." && !made[d]; d = filepath.Dir(d) {
			// parents first
			var chain []string
			for p := d; p != "." && !made[p]; p = filepath.Dir(p) {
				chain = append([]string{p}, chain...)
			}
			for _, p := range chain {
				mtools(t, "mmd", "-i", img, "::/"+p)
				made[p] = true
			}
		}
		if f.data == nil {
			mtools(t, "mdel", "-i", img, "::/"+f.name)
			if fat32 {
				forgetNextFree(t, img)
			}
			continue
		}
		src := filepath.Join(dir, "src", strings.ReplaceAll(f.name, "/", "_")+string(rune('a'+i)))
		os.MkdirAll(filepath.Dir(src), 0o755)
		if err := os.WriteFile(src, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
		mtools(t, "mcopy", "-o", "-i", img, src, "::/"+f.name)
	}
	return img
}

// forgetNextFree clears FAT32's hint of where the next free cluster is,
// so that mtools allocates from the first free one, in the hole a deletion
// left, and the next file is fragmented.
func forgetNextFree(t *testing.T, img string) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bs := make([]byte, 512)
	if _, err := f.ReadAt(bs, 0); err != nil {
		t.Fatal(err)
	}
	info := int64(binary.LittleEndian.Uint16(bs[48:])) * int64(binary.LittleEndian.Uint16(bs[11:]))
	if _, err := f.WriteAt([]byte{0xff, 0xff, 0xff, 0xff}, info+492); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, img string) (*os.File, *FS) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fs, err := Open(f)
	if err != nil {
		t.Fatal(err)
	}
	return f, fs
}

type file = struct {
	name string
	data []byte
}

func TestReadsWhatMtoolsWrote(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 3000) // spans many clusters
	for _, fat32 := range []bool{true, false} {
		name := map[bool]string{true: "FAT32", false: "FAT16"}[fat32]
		t.Run(name, func(t *testing.T) {
			img := makeFS(t, 64<<20, fat32, []file{
				{"boot/grub/grubenv", []byte("env")},
				{"boot/filler", bytes.Repeat([]byte("f"), 5000)},
				{"boot/A.cfg", []byte("slot A")},
				{"boot/filler", nil}, // deleted: big is split around A.cfg
				{"boot/a long name.txt", []byte("long")},
				{"boot/big", big},
			})
			_, fs := open(t, img)
			for p, want := range map[string][]byte{
				"boot/grub/grubenv":    []byte("env"),
				"/boot/A.cfg":          []byte("slot A"),
				"boot/a.cfg":           []byte("slot A"), // 8.3 names match whatever the case
				"boot/a long name.txt": []byte("long"),
				"boot/big":             big,
			} {
				got, err := fs.ReadFile(p)
				if err != nil {
					t.Errorf("ReadFile(%q): %v", p, err)
					continue
				}
				if !bytes.Equal(got, want) {
					t.Errorf("ReadFile(%q) = %d bytes that differ from the %d written", p, len(got), len(want))
				}
			}
			st, err := fs.Stat("boot/big")
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Extents) < 2 {
				t.Errorf("boot/big is in %d extent(s); the test meant it to be fragmented", len(st.Extents))
			}
			for _, missing := range []string{"boot/nothing", "nothing/grubenv"} {
				if _, err := fs.Stat(missing); !errors.Is(err, ErrNotFound) {
					t.Errorf("Stat(%q) = %v, want ErrNotFound", missing, err)
				}
			}
			if _, err := fs.Stat("boot/grub"); err == nil {
				t.Error("Stat of a directory did not fail")
			}
		})
	}
}

// TestRewriteChangesOnlyTheFile rewrites a fragmented file in place and
// reads it back with mtools; every byte outside the file is as it was.
func TestRewriteChangesOnlyTheFile(t *testing.T) {
	old := bytes.Repeat([]byte("o"), 9000)
	img := makeFS(t, 64<<20, true, []file{
		{"hole", bytes.Repeat([]byte("h"), 3000)},
		{"boot/B.cfg", []byte("x")},
		{"hole", nil},
		{"boot/state", old},
	})
	before, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	f, fs := open(t, img)
	repl := bytes.Repeat([]byte("n"), len(old))
	if err := fs.Rewrite(f, "boot/state", repl); err != nil {
		t.Fatal(err)
	}
	if err := fs.Rewrite(f, "boot/state", repl[:10]); err == nil {
		t.Error("Rewrite with fewer bytes than the file holds did not fail")
	}
	cmd := exec.Command("mtype", "-i", img, "::/boot/state")
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	got, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, repl) {
		t.Errorf("mtype after the rewrite: %d bytes, not the new content", len(got))
	}
	after, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := fs.Stat("boot/state")
	inFile := func(off int) bool {
		for _, e := range st.Extents {
			if int64(off) >= e.Offset && int64(off) < e.Offset+e.Length {
				return true
			}
		}
		return false
	}
	changed := 0
	for i := range before {
		if before[i] != after[i] {
			changed++
			if !inFile(i) {
				t.Fatalf("byte %d outside the file changed", i)
			}
		}
	}
	if changed != len(old) {
		t.Errorf("%d bytes changed, want the file's %d", changed, len(old))
	}
}

// TestHostileTables: a cluster chain that loops, or one that points out of
// the filesystem, is an error, never a hang or a read elsewhere.
func TestHostileTables(t *testing.T) {
	img := makeFS(t, 64<<20, true, []file{{"boot/big", bytes.Repeat([]byte("b"), 4000)}})
	f, fs := open(t, img)
	st, err := fs.Stat("boot/big")
	if err != nil {
		t.Fatal(err)
	}
	first := uint32((st.Extents[0].Offset-fs.dataOffset)/fs.clusterSize) + 2
	for name, next := range map[string]uint32{"a loop": first, "out of the filesystem": fs.clusters + 100} {
		t.Run(name, func(t *testing.T) {
			b := make([]byte, 4)
			binary.LittleEndian.PutUint32(b, next)
			if _, err := f.WriteAt(b, fs.fatOffset+int64(first+1)*4); err != nil {
				t.Fatal(err)
			}
			if _, err := fs.ReadFile("boot/big"); err == nil {
				t.Error("reading through a broken chain did not fail")
			}
		})
	}
	if _, err := Open(bytes.NewReader(make([]byte, 4096))); err == nil {
		t.Error("Open of zeros did not fail")
	}
}
