package pkgbuild

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	imagespec "github.com/minikit/minikit/image-spec"
	"github.com/minikit/minikit/tools/images"
)

const reuseRecipe = `image: minikit/reuse-test
go:
  - package: github.com/minikit/minikit/tools/pkgbuild/cmd/busybox-links
    path: /usr/bin/busybox-links
copy:
  - source: motd
    path: /etc/motd
symlinks:
  - path: /etc/resolv.conf
    target: /run/resolv.conf
cmd: [/usr/bin/busybox-links]
config:
  readonly: true
`

func TestRebuildWithUnchangedInputsReusesTheImage(t *testing.T) {
	dir := recipeDir(t, map[string]string{"build.yml": reuseRecipe, "motd": "hello\n"})
	st := openStore(t)

	first := build(t, dir, st, false)
	if first.UpToDate {
		t.Fatal("the first build of an empty store says up to date")
	}
	again := build(t, dir, st, false)
	if !again.UpToDate || again.Digest != first.Digest || again.Hash != first.Hash {
		t.Fatalf("second build = %+v; want up to date with digest %s", again, first.Digest)
	}
	forced := build(t, dir, st, true)
	if forced.UpToDate || forced.Digest != first.Digest {
		t.Errorf("-force build = %+v; want rebuilt to the same digest %s (builds are reproducible)", forced, first.Digest)
	}

	os.WriteFile(filepath.Join(dir, "motd"), []byte("changed\n"), 0o644)
	changed := build(t, dir, st, false)
	if changed.UpToDate || changed.Hash == first.Hash || changed.Digest == first.Digest {
		t.Fatalf("after a copied file changed: %+v; want a rebuild with a new hash", changed)
	}

	root, cfg := unpack(t, st, "minikit/reuse-test:dev")
	if b, _ := os.ReadFile(filepath.Join(root, "etc/motd")); string(b) != "changed\n" {
		t.Errorf("/etc/motd = %q", b)
	}
	if fi, err := os.Stat(filepath.Join(root, "usr/bin/busybox-links")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("the Go program is not in the image as 0755: %v", err)
	}
	if l, _ := os.Readlink(filepath.Join(root, "bin")); l != "usr/bin" {
		t.Errorf("/bin -> %q, want usr/bin (relative)", l)
	}
	if cfg.Labels[LabelRecipeHash] != changed.Hash {
		t.Errorf("label %s = %q, want %q", LabelRecipeHash, cfg.Labels[LabelRecipeHash], changed.Hash)
	}
	if cfg.Labels[imagespec.LabelKey] != `{"readonly":true}` {
		t.Errorf("label %s = %q", imagespec.LabelKey, cfg.Labels[imagespec.LabelKey])
	}
}

func TestCopiedFileModeChangesTheHash(t *testing.T) {
	dir := recipeDir(t, map[string]string{"build.yml": reuseRecipe, "motd": "hello\n"})
	st := openStore(t)
	build(t, dir, st, false)
	os.Chmod(filepath.Join(dir, "motd"), 0o755)
	if second := build(t, dir, st, false); second.UpToDate {
		t.Fatal("making a copied file executable did not rebuild the image")
	}
}

// A remove path with a pattern deletes what matches it, and only that.
func TestRemoveTakesPatterns(t *testing.T) {
	dir := recipeDir(t, map[string]string{
		"build.yml": `image: minikit/remove-test
copy:
  - source: files
    path: /usr/bin
remove:
  - /usr/bin/qemu-*-static
  - /usr/bin/no-such-*
cmd: [/usr/bin/qemu-arm]
`,
		"files/qemu-arm":            "kept\n",
		"files/qemu-aarch64-static": "removed\n",
		"files/qemu-s390x-static":   "removed\n",
		"files/binfmt":              "kept\n",
	})
	st := openStore(t)
	build(t, dir, st, false)
	root, _ := unpack(t, st, "minikit/remove-test:dev")
	entries, err := os.ReadDir(filepath.Join(root, "usr/bin"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "binfmt qemu-arm" {
		t.Errorf("/usr/bin holds %v, want binfmt and qemu-arm", names)
	}
}

func TestABadRemovePatternFailsTheRecipe(t *testing.T) {
	dir := recipeDir(t, map[string]string{"build.yml": "image: minikit/bad\nremove: [\"/usr/bin/[a\"]\n"})
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "remove") || !strings.Contains(err.Error(), "pattern") {
		t.Errorf("Load = %v, want an error naming the remove pattern", err)
	}
}

const busyboxRecipe = `image: minikit/busybox-test
debian:
  - busybox-static
run:
  - package: github.com/minikit/minikit/tools/pkgbuild/cmd/busybox-links
remove: [/linuxrc]
cmd: [/bin/sh]
`

// A recipe with a Debian package: fetched, unpacked under /usr, recorded,
// and runnable.
func TestBuildUnpacksDebianPackages(t *testing.T) {
	needRootAndApt(t)
	dir := recipeDir(t, map[string]string{"build.yml": busyboxRecipe})
	st := openStore(t)
	res := build(t, dir, st, false)
	if len(res.Packages) != 1 || !strings.HasPrefix(res.Packages[0], "busybox-static=") {
		t.Fatalf("packages = %v", res.Packages)
	}
	root, cfg := unpack(t, st, "minikit/busybox-test:dev")
	if got := cfg.Labels[LabelDebianPackages]; !strings.HasPrefix(got, `[{"name":"busybox-static","version":"`) {
		t.Errorf("label %s = %q, want the JSON list the SBOM reads", LabelDebianPackages, got)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/bin/busybox")); err != nil {
		t.Errorf("busybox is not under /usr/bin: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(root, "linuxrc")); err == nil {
		t.Error("/linuxrc was not removed")
	}
	control, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/status.d/busybox-static"))
	if err != nil || !strings.Contains(string(control), "Package: busybox-static") {
		t.Errorf("no package record in /var/lib/dpkg/status.d: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/share/doc/busybox-static/copyright")); err != nil {
		t.Errorf("the package's copyright was trimmed away: %v", err)
	}
	out, err := exec.Command("chroot", root, "/bin/sh", "-c", "echo $((6*7))").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "42" {
		t.Errorf("chroot /bin/sh: %q, %v", out, err)
	}
}

// A recipe that forgets a library fails with the program and the library.
func TestBuildFailsOnAMissingLibrary(t *testing.T) {
	needRootAndApt(t)
	dir := recipeDir(t, map[string]string{"build.yml": "image: minikit/missing-test\ndebian: [openssh-client]\n"})
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(t.Context(), r, Options{Store: openStore(t)})
	if err == nil {
		t.Fatal("ssh without libc built")
	}
	for _, want := range []string{"/usr/bin/ssh needs libc.so.6, which the image lacks", "/usr/bin/ssh needs /lib64/ld-linux-x86-64.so.2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

// BenchmarkUpToDate is what `minikit pkg build` costs when nothing
// changed: building the Go programs (from the go build cache) and hashing.
// Goal: well under a second per recipe, so that `make images` can run
// every recipe at every call.
func BenchmarkUpToDate(b *testing.B) {
	dir, err := os.MkdirTemp(".", "_recipe-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "build.yml"), []byte(reuseRecipe), 0o644)
	os.WriteFile(filepath.Join(dir, "motd"), []byte("hello\n"), 0o644)
	st, err := images.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	r, err := Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	opts := Options{Store: st, Log: slog.New(slog.DiscardHandler)}
	if _, err := Build(b.Context(), r, opts); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := Build(b.Context(), r, opts)
		if err != nil || !res.UpToDate {
			b.Fatalf("Build = %+v, %v; want up to date", res, err)
		}
	}
}
