package packer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minikit/minikit/rootfs/kmod"
)

// builtinTree is a modules tree whose kernel has the named modules built
// in, as modules.builtin lists them.
func builtinTree(t *testing.T, builtin ...string) *kmod.Index {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "lib", "modules", "6.1.0-test")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var list strings.Builder
	for _, m := range builtin {
		list.WriteString("kernel/" + m + ".ko\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	idx, err := kmod.NewIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// The build chooses the tmpfs copy for a kernel that cannot mount the
// root image, and says why.
func TestRootImageSupportNamesWhatTheKernelLacks(t *testing.T) {
	full := "CONFIG_SQUASHFS=m\nCONFIG_SQUASHFS_ZSTD=y\nCONFIG_BLK_DEV_LOOP=m\nCONFIG_DM_VERITY=m\n"
	tests := []struct {
		name    string
		idx     *kmod.Index
		config  string
		ok      bool
		because string
	}{
		{"everything built in, no config", builtinTree(t, "loop", "squashfs", "dm-verity"), "", true, ""},
		{"everything, with a config that has it", builtinTree(t, "loop", "squashfs", "dm-verity"), full, true, ""},
		{"no modules at all", nil, full, false, "no modules"},
		{"no dm-verity", builtinTree(t, "loop", "squashfs"), full, false, "dm-verity"},
		{"no loop", builtinTree(t, "squashfs", "dm-verity"), full, false, "loop"},
		{"SquashFS without zstd", builtinTree(t, "loop", "squashfs", "dm-verity"),
			strings.Replace(full, "CONFIG_SQUASHFS_ZSTD=y", "# CONFIG_SQUASHFS_ZSTD is not set", 1), false, "CONFIG_SQUASHFS_ZSTD"},
	}
	for _, tt := range tests {
		ok, why := rootImageSupport(tt.idx, tt.config)
		if ok != tt.ok || !strings.Contains(why, tt.because) {
			t.Errorf("%s: ok=%v why=%q, want ok=%v and a reason naming %q", tt.name, ok, why, tt.ok, tt.because)
		}
	}
}

// A kernel image without modules gets the root as files in its initrd,
// and asking for the image with it is an error that says why.
func TestAKernelWithoutModulesFallsBackToTheTmpfsCopy(t *testing.T) {
	requireRoot(t)
	st := testStore(t)
	res := buildTest(t, st, filepath.Join(t.TempDir(), "out"), KernelInitrd)
	if res.Root != RootTmpfs {
		t.Errorf("root mode %q for a kernel without modules, want %q", res.Root, RootTmpfs)
	}
	if _, err := buildSpecErrWith(t, st, filepath.Join(t.TempDir(), "out"), testSpec, RootImage, KernelSquashfs); err == nil ||
		!strings.Contains(err.Error(), "-root image") {
		t.Errorf("-root image with a kernel that cannot mount it: %v", err)
	}
	if _, err := buildSpecErrWith(t, st, filepath.Join(t.TempDir(), "out"), testSpec, RootTmpfs, KernelSquashfs); err == nil ||
		!strings.Contains(err.Error(), string(KernelSquashfs)) {
		t.Errorf("kernel+squashfs with a tmpfs root: %v", err)
	}
}

// A file two contributors hold costs the image once: the second share is
// nothing, and the shares add up to the image.
func TestImageSharesCountIdenticalFilesOnce(t *testing.T) {
	root := t.TempDir()
	payload := strings.Repeat("some compressible words; ", 40000)
	files := []SizeFile{
		{Path: "/containers/onboot/000-dhcpcd/rootfs/sbin/dhcpcd", Part: "onboot 000-dhcpcd"},
		{Path: "/containers/services/dhcpcd/rootfs/sbin/dhcpcd", Part: "service dhcpcd"},
		{Path: "/sbin/init", Part: "init images"},
	}
	for i, f := range files {
		p := filepath.Join(root, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := payload
		if i == 2 {
			data = strings.Repeat("another program, ", 30000)
		}
		if err := os.WriteFile(p, []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	parts := map[string]*SizePart{}
	for _, f := range files {
		parts[f.Part] = &SizePart{Name: f.Part}
	}
	const image = 1 << 20
	if err := imageShares(root, files, parts, image); err != nil {
		t.Fatal(err)
	}
	if got := parts["service dhcpcd"].Image; got != 0 {
		t.Errorf("the second copy of dhcpcd costs %d bytes of the image, want 0", got)
	}
	if parts["onboot 000-dhcpcd"].Image == 0 || parts["init images"].Image == 0 {
		t.Errorf("shares %+v: a first copy costs nothing", parts)
	}
	var sum int64
	for _, p := range parts {
		sum += p.Image
	}
	if sum < image-3 || sum > image {
		t.Errorf("the shares add up to %d, want the image's %d", sum, image)
	}
}
