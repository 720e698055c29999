package images

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"github.com/minikit/minikit/internal/testenv"
)

// makeTree writes the same small tree into dir every time, whatever the
// umask, and stamps every entry with mtime.
func makeTree(t *testing.T, dir string, mtime time.Time) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "bin"), 0o700))
	must(os.MkdirAll(filepath.Join(dir, "etc/empty"), 0o700))
	must(os.WriteFile(filepath.Join(dir, "bin/busybox"), []byte("#!busybox"), 0o600))
	must(os.Link(filepath.Join(dir, "bin/busybox"), filepath.Join(dir, "bin/sh")))
	must(os.Symlink("busybox", filepath.Join(dir, "bin/ls")))
	must(os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o600))
	for path, mode := range map[string]os.FileMode{
		"bin": 0o755, "etc": 0o755, "etc/empty": 0o700,
		"bin/busybox": os.ModeSetuid | 0o755, "etc/passwd": 0o644,
	} {
		must(os.Chmod(filepath.Join(dir, path), mode))
	}
	for _, path := range []string{"bin/busybox", "etc/passwd", "etc/empty", "bin", "etc", "."} {
		must(os.Chtimes(filepath.Join(dir, path), mtime, mtime))
	}
	must(os.Lchown(filepath.Join(dir, "bin/ls"), os.Getuid(), os.Getgid()))
}

func fromDirWithUmask(t *testing.T, dir string, umask int) v1.Image {
	t.Helper()
	old := syscall.Umask(umask)
	defer syscall.Umask(old)
	img, err := FromDir(dir, v1.Config{Entrypoint: []string{"/bin/sh"}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestFromDirIsReproducible(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	first, second := t.TempDir(), t.TempDir()
	old := syscall.Umask(0o022)
	makeTree(t, first, time.Now())
	syscall.Umask(0o077)
	makeTree(t, second, time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC))
	syscall.Umask(old)

	a := fromDirWithUmask(t, first, 0o022)
	b := fromDirWithUmask(t, second, 0o077)
	if digestOf(t, a) != digestOf(t, b) {
		t.Errorf("same tree, different digests: %s and %s", digestOf(t, a), digestOf(t, b))
	}

	// The comparison above must be able to fail: a changed byte shows.
	if err := os.WriteFile(filepath.Join(second, "etc/passwd"), []byte("root:x:0:0::/root:/bin/ash\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c := fromDirWithUmask(t, second, 0o022); digestOf(t, c) == digestOf(t, a) {
		t.Error("a changed file did not change the digest")
	}
}

func TestFromDirLayerContent(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	epoch := time.Unix(1700000000, 0).UTC()
	dir := t.TempDir()
	makeTree(t, dir, time.Now())
	img := fromDirWithUmask(t, dir, 0o022)

	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Created.Time.Equal(epoch) || cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("config created %v for %s/%s, want %v for linux/amd64", cfg.Created.Time, cfg.OS, cfg.Architecture, epoch)
	}
	if len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/bin/sh" {
		t.Errorf("entrypoint = %q", cfg.Config.Entrypoint)
	}
	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s, want OCI", mt)
	}

	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers, %v; want one", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	type entry struct {
		name     string
		typ      byte
		mode     int64
		linkname string
	}
	want := []entry{
		{"bin/", tar.TypeDir, 0o755, ""},
		{"bin/busybox", tar.TypeReg, 0o4755, ""},
		{"bin/ls", tar.TypeSymlink, 0o777, "busybox"},
		{"bin/sh", tar.TypeLink, 0o4755, "bin/busybox"},
		{"etc/", tar.TypeDir, 0o755, ""},
		{"etc/empty/", tar.TypeDir, 0o700, ""},
		{"etc/passwd", tar.TypeReg, 0o644, ""},
	}
	tr := tar.NewReader(rc)
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if i != len(want) {
				t.Errorf("layer has %d entries, want %d", i, len(want))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(want) {
			t.Errorf("unexpected entry %s", hdr.Name)
			continue
		}
		got := entry{hdr.Name, hdr.Typeflag, hdr.Mode, hdr.Linkname}
		if got != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, got, want[i])
		}
		if !hdr.ModTime.Equal(epoch) {
			t.Errorf("%s has mtime %v, want SOURCE_DATE_EPOCH %v", hdr.Name, hdr.ModTime, epoch)
		}
		if hdr.Uid != os.Getuid() || hdr.Gid != os.Getgid() {
			t.Errorf("%s owned by %d:%d, want the owner on disk %d:%d", hdr.Name, hdr.Uid, hdr.Gid, os.Getuid(), os.Getgid())
		}
	}
}

func TestFromDirRejectsABadSourceDateEpoch(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if _, err := FromDir(t.TempDir(), v1.Config{}); err == nil {
		t.Error("FromDir accepted SOURCE_DATE_EPOCH=yesterday")
	}
}

func TestFromDirRejectsWhatIsNoDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{file, filepath.Join(t.TempDir(), "missing")} {
		if _, err := FromDir(dir, v1.Config{}); err == nil {
			t.Errorf("FromDir(%s) made an image", dir)
		}
	}
}

// A binary given a file capability (ping's cap_net_raw, say) must keep it
// in the image built from its tree, as the root tarball keeps it.
func TestFromDirKeepsFileCapabilities(t *testing.T) {
	testenv.Root(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "ping")
	if err := os.WriteFile(bin, []byte("ping"), 0o755); err != nil {
		t.Fatal(err)
	}
	// VFS_CAP_REVISION_2, effective, permitted: CAP_NET_RAW (13).
	capv2 := []byte{0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if err := unix.Setxattr(bin, "security.capability", capv2, 0); err != nil {
		t.Fatalf("setcap: %v", err)
	}
	img := fromDirWithUmask(t, dir, 0o022)
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	hdr, err := tar.NewReader(rc).Next()
	if err != nil {
		t.Fatal(err)
	}
	if got := hdr.PAXRecords["SCHILY.xattr.security.capability"]; got != string(capv2) {
		t.Errorf("%s carries capability %x, want %x", hdr.Name, got, capv2)
	}
}
