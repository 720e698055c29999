package packer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	imagespec "github.com/minikit/minikit/image-spec"
	"github.com/minikit/minikit/internal/testenv"
	"github.com/minikit/minikit/tools/images"
)

// requireRoot skips a test that unpacks images, which keeps their owners
// and so needs root, or fails it under MINIKIT_REQUIRE_ROOT=1.
func requireRoot(t *testing.T) {
	t.Helper()
	testenv.Root(t)
}

// testStore makes a store holding a kernel image without modules, an init
// image whose /sbin/init is a Go program and which records a Debian
// package the way pkgbuild does, and a service image that lists its
// packages in a label.
func testStore(t *testing.T) *images.Store {
	t.Helper()
	st, err := images.Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	add := func(ref string, files map[string]string, cfg v1.Config) { addImage(t, st, ref, files, cfg) }
	add("test/kernel:1", map[string]string{"kernel": strings.Repeat("bzImage", 1000)}, v1.Config{})
	add("test/init:1", map[string]string{
		"sbin/init":                       string(self),
		"var/lib/dpkg/status.d/libfoo1":   "Package: libfoo1\nVersion: 1:2.0-3\nArchitecture: amd64\n",
		"var/lib/dpkg/status.d/libfoo1.x": "not a control file\n",
	}, v1.Config{})
	add("test/svc:1", map[string]string{"bin/server": strings.Repeat("x", 300<<10)}, v1.Config{
		Labels: map[string]string{"org.minikit.debian-packages": `[{"name":"zlib1g","version":"1:1.2.13.dfsg-1","arch":"amd64"}]`},
	})
	return st
}

// addImage stores an image of the given files (all mode 0755) as ref.
func addImage(t *testing.T, st *images.Store, ref string, files map[string]string, cfg v1.Config) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		// FromDir keeps modes as on disk; make them the umask's
		// business no more.
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	img, err := images.FromDir(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Add(ref, img); err != nil {
		t.Fatal(err)
	}
}

const testSpec = `kernel:
  image: test/kernel:1
  cmdline: "console=ttyS0"
  tar: none
init:
  - test/init:1
services:
  - name: svc
    image: test/svc:1
    command: ["/bin/server"]
files:
  - path: etc/motd
    contents: "hello\n"
`

func buildTest(t *testing.T, st *images.Store, out string, formats ...Format) *Result {
	t.Helper()
	return buildSpec(t, st, out, testSpec, formats...)
}

func buildSpec(t *testing.T, st *images.Store, out, text string, formats ...Format) *Result {
	t.Helper()
	res, err := buildSpecErr(t, st, out, text, formats...)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return res
}

func buildSpecErr(t *testing.T, st *images.Store, out, text string, formats ...Format) (*Result, error) {
	t.Helper()
	return buildSpecErrWith(t, st, out, text, RootAuto, formats...)
}

func buildSpecErrWith(t *testing.T, st *images.Store, out, text string, root RootMode, formats ...Format) (*Result, error) {
	t.Helper()
	spec, _, err := imagespec.Parse("test.yml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return Build(context.Background(), Options{
		Spec: spec, Name: "test", OutDir: out, Store: st, CacheDir: filepath.Join(out, "..", "cache"),
		Formats: formats, SBOM: true, SizeReport: true, Root: root,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

func TestBuildWritesEveryFileItNames(t *testing.T) {
	requireRoot(t)
	out := filepath.Join(t.TempDir(), "out")
	res := buildTest(t, testStore(t), out, KernelInitrd, Tar)
	want := []string{"test-kernel", "test-initrd.img", "test-cmdline", "test.tar", "test-sbom.cdx.json"}
	var got []string
	for _, f := range res.Files {
		got = append(got, filepath.Base(f))
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s is listed but not there: %v", f, err)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != len(want) {
		t.Errorf("the output directory holds %d entries, want just the %d outputs: %v", len(entries), len(want), entries)
	}
}

func TestTarIsTheRootWithFixedTimesAndNumericOwners(t *testing.T) {
	requireRoot(t)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	res := buildTest(t, testStore(t), filepath.Join(t.TempDir(), "out"), Tar)
	f, err := os.Open(res.Images[Tar])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	seen := map[string]*tar.Header{}
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[h.Name] = h
		names = append(names, h.Name)
		if !h.ModTime.Equal(time.Unix(1700000000, 0)) || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: mtime %v owner %q:%q, want SOURCE_DATE_EPOCH and no names", h.Name, h.ModTime, h.Uname, h.Gname)
		}
	}
	for _, name := range []string{"sbin/init", "etc/motd", "containers/services/svc/config.json", "containers/services/svc/rootfs/bin/server"} {
		if seen[name] == nil {
			t.Errorf("no %s in the tarball", name)
		}
	}
	if c := seen["dev/console"]; c == nil || c.Typeflag != tar.TypeChar || c.Devmajor != 5 || c.Devminor != 1 {
		t.Errorf("dev/console is %+v, want the character device 5:1", c)
	}
	if sorted := slices.IsSorted(names[:len(names)-1]); !sorted {
		t.Error("entries are not in sorted order")
	}
	if res.Initrd != "" || res.Sizes.Initrd != 0 {
		t.Errorf("a tar-only build wrote an initrd %q of %d bytes", res.Initrd, res.Sizes.Initrd)
	}
}

func TestSBOMListsImagesPackagesAndGoPrograms(t *testing.T) {
	requireRoot(t)
	res := buildTest(t, testStore(t), filepath.Join(t.TempDir(), "out"))
	data, err := os.ReadFile(res.SBOM)
	if err != nil {
		t.Fatal(err)
	}
	sbom := string(data)
	for _, want := range []string{
		`"name": "test/init:1"`, `"name": "test/svc:1"`, `"name": "test/kernel:1"`,
		`"value": "service svc"`, `"value": "init"`, `"value": "kernel"`,
		`"purl": "pkg:deb/debian/libfoo1@1%3A2.0-3?arch=amd64"`,        // from status.d
		`"purl": "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64"`, // from the label
		`"name": "/sbin/init"`, `"purl": "pkg:golang/github.com/minikit/minikit"`,
	} {
		if !strings.Contains(sbom, want) {
			t.Errorf("the SBOM lacks %s", want)
		}
	}
	if strings.Contains(sbom, "timestamp") {
		t.Error("the SBOM has a timestamp though SOURCE_DATE_EPOCH is not set")
	}
}

func TestSizeReportNamesContributors(t *testing.T) {
	requireRoot(t)
	res := buildTest(t, testStore(t), filepath.Join(t.TempDir(), "out"))
	r := res.Sizes
	byName := map[string]SizePart{}
	var sum int64
	for _, p := range r.Parts {
		byName[p.Name] = p
		sum += p.Bytes
	}
	if sum != r.Root {
		t.Errorf("parts add up to %d bytes, the root has %d", sum, r.Root)
	}
	if p := byName["service svc (test/svc:1)"]; p.Bytes < 300<<10 {
		t.Errorf("the service's share is %d bytes, want at least its 300 KiB program (parts %+v)", p.Bytes, r.Parts)
	}
	if p := byName["files from the spec"]; p.Bytes != int64(len("hello\n")) {
		t.Errorf("the spec's files count %d bytes, want 6", p.Bytes)
	}
	if _, ok := byName["init images (test/init:1)"]; !ok {
		t.Errorf("no share for the init image in %+v", r.Parts)
	}
	if r.Largest[0].Path != "/sbin/init" || r.Initrd == 0 || r.Kernel != 7000 {
		t.Errorf("largest file %s, initrd %d, kernel %d: want /sbin/init, the initrd's size and 7000", r.Largest[0].Path, r.Initrd, r.Kernel)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "service svc (test/svc:1)") {
		t.Errorf("the printed report does not name the service:\n%s", text.String())
	}
}

// TestBuildIsReproducibleWhateverTheUmaskAndClock builds twice, in other
// directories, a second apart and under another umask, and wants the
// same bytes in every output.
func TestBuildIsReproducibleWhateverTheUmaskAndClock(t *testing.T) {
	requireRoot(t)
	st := testStore(t)
	var sums [2]map[string][32]byte
	for i, umask := range []int{0o022, 0o077} {
		old := syscall.Umask(umask)
		res := buildTest(t, st, filepath.Join(t.TempDir(), "out"), KernelInitrd, Tar)
		syscall.Umask(old)
		sums[i] = map[string][32]byte{}
		for _, f := range res.Files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			sums[i][filepath.Base(f)] = sha256.Sum256(data)
		}
		time.Sleep(1100 * time.Millisecond)
	}
	for name, sum := range sums[0] {
		if sums[1][name] != sum {
			t.Errorf("two builds give different %s", name)
		}
	}
}

func TestParseFormats(t *testing.T) {
	got, err := ParseFormats("iso-efi, tar,iso-efi")
	if err != nil || !slices.Equal(got, []Format{ISOEFI, Tar}) {
		t.Errorf("ParseFormats = %v, %v; want [iso-efi tar]", got, err)
	}
	if _, err := ParseFormats("floppy"); err == nil || !strings.Contains(err.Error(), "raw-efi") {
		t.Errorf("an unknown format gave %v, want an error listing the known ones", err)
	}
	if _, err := ParseFormats("iso-bios,rpi3"); err == nil || !strings.Contains(err.Error(), "format rpi3 is LinuxKit's, which minikit does not write: minikit builds for amd64 only") {
		t.Errorf("a LinuxKit format minikit lacks gave %v, want an error saying why", err)
	}
}

// TestFilesAreNamedAsLinuxKitNamesThem: a script written for linuxkit
// build finds each format's file under the name LinuxKit gives it
// (src/cmd/linuxkit/moby/build/output.go).
func TestFilesAreNamedAsLinuxKitNamesThem(t *testing.T) {
	linuxkit := map[Format]string{
		Tar:          "x.tar",
		ISOBIOS:      "x.iso",
		ISOEFI:       "x-efi.iso",
		ISOEFIInitrd: "x-efi-initrd.iso",
		RawBIOS:      "x-bios.img",
		RawEFI:       "x-efi.img",
		QCOW2BIOS:    "x.qcow2",
		QCOW2EFI:     "x-efi.qcow2",
		AWS:          "x.raw",
		GCP:          "x.img.tar.gz",
		VHD:          "x.vhd",
		VMDK:         "x.vmdk",
	}
	for _, f := range Formats {
		if f == Update {
			continue // minikit's own: LinuxKit has no update bundles
		}
		if got := f.FileName("x"); got != linuxkit[f] {
			t.Errorf("%s writes %q, LinuxKit writes %q", f, got, linuxkit[f])
		}
	}
	if ISOBIOS.FormerName("x") != "x-bios.iso" || QCOW2BIOS.FormerName("x") != "x-bios.qcow2" || RawBIOS.FormerName("x") != "" {
		t.Error("the names minikit used before LinuxKit's are not kept as links")
	}
}

// TestMissingToolsAreNamedBeforeAnyWork runs a build with an empty PATH:
// it must fail at once, naming the Debian packages of every missing tool.
func TestMissingToolsAreNamedBeforeAnyWork(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	spec, _, err := imagespec.Parse("test.yml", []byte(testSpec))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	_, err = Build(context.Background(), Options{Spec: spec, Name: "test", OutDir: out, Formats: []Format{ISOBIOS, QCOW2BIOS}})
	for _, want := range []string{"format iso-bios", "install the Debian package xorriso", "format qcow2-bios", "install the Debian package qemu-utils"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Build error %v does not say %q", err, want)
		}
	}
	if _, serr := os.Stat(out); serr == nil {
		t.Error("the failed build created its output directory")
	}
}

// TestUnreadablePackagesLabelCostsOnlyTheSBOMEntry: an image whose
// packages label is not the JSON list still builds, and its other
// packages are still listed.
func TestUnreadablePackagesLabelCostsOnlyTheSBOMEntry(t *testing.T) {
	requireRoot(t)
	st := testStore(t)
	addImage(t, st, "test/svc:1", map[string]string{
		"bin/server":                    "x",
		"var/lib/dpkg/status.d/libbar2": "Package: libbar2\nVersion: 2.0-1\nArchitecture: amd64\n",
	}, v1.Config{Labels: map[string]string{"org.minikit.debian-packages": "zlib1g=1:1.2.13"}})
	res := buildTest(t, st, filepath.Join(t.TempDir(), "out"))
	data, err := os.ReadFile(res.SBOM)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("pkg:deb/debian/libbar2@2.0-1")) || bytes.Contains(data, []byte("zlib1g")) {
		t.Errorf("the SBOM should list libbar2 from the tree and nothing from the bad label:\n%s", data)
	}
}

// TestDiskFormatsAreSizedAsAsked builds every kind of disk at once: the
// raw disk is as small as it can be, the cloud and hypervisor disks
// LinuxKit's 1 GiB, the VHD holding the very bytes of the aws disk before
// its footer, and with DiskSize every disk
// has that size, GCE's rounded up to a whole GiB. The files minikit named
// otherwise before are links to LinuxKit's.
func TestDiskFormatsAreSizedAsAsked(t *testing.T) {
	requireRoot(t)
	for _, f := range []Format{RawBIOS, VHD, GCP, QCOW2BIOS, ISOBIOS} {
		if err := checkFormats([]Format{f}); err != nil {
			testenv.Unavailable(t, testenv.RequireQEMUEnv, "%v", err)
		}
	}
	st := testStore(t)
	out := filepath.Join(t.TempDir(), "out")
	res := buildTest(t, st, out, RawBIOS, AWS, VHD, GCP, QCOW2BIOS, ISOBIOS)
	size := func(f Format) int64 {
		fi, err := os.Stat(res.Images[f])
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	// The raw disk holds the boot partition and two slots of at least
	// 256 MiB each (update.slotSize), in whole MiB, and nothing more.
	if s := size(RawBIOS); s%(1<<20) != 0 || s >= 1<<30 {
		t.Errorf("raw-bios has %d bytes, want a whole number of MiB, smaller than the cloud disks", s)
	}
	if s := size(AWS); s != 1<<30 {
		t.Errorf("aws has %d bytes, want LinuxKit's 1 GiB", s)
	}
	if s := size(VHD); s != 1<<30+512 {
		t.Errorf("vhd has %d bytes, want 1 GiB and its footer", s)
	}
	if streamHash(t, res.Images[AWS], 128<<20) != streamHash(t, res.Images[VHD], 128<<20) {
		t.Error("the VHD does not hold the aws disk")
	}
	if target, err := os.Readlink(filepath.Join(out, "test-bios.iso")); err != nil || target != "test.iso" {
		t.Errorf("test-bios.iso links to %q (%v), want test.iso", target, err)
	}
	if !slices.Contains(res.Files, filepath.Join(out, "test-bios.qcow2")) {
		t.Errorf("the files listed lack the link test-bios.qcow2: %v", res.Files)
	}

	spec, _, err := imagespec.Parse("test.yml", []byte(testSpec))
	if err != nil {
		t.Fatal(err)
	}
	sized := filepath.Join(t.TempDir(), "out")
	res, err = Build(context.Background(), Options{
		Spec: spec, Name: "test", OutDir: sized, Store: st, CacheDir: filepath.Join(sized, "..", "cache"),
		Formats: []Format{RawBIOS, AWS, GCP}, DiskSize: 1536 << 20,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := size(RawBIOS); s != 1536<<20 {
		t.Errorf("raw-bios of 1536 MiB has %d bytes", s)
	}
	if s := size(AWS); s != 1536<<20 {
		t.Errorf("aws of 1536 MiB has %d bytes", s)
	}
	f, err := os.Open(res.Images[GCP])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if hdr, err := tar.NewReader(zr).Next(); err != nil || hdr.Name != "disk.raw" || hdr.Size != 2<<30 {
		t.Errorf("the gcp image holds %+v (%v), want disk.raw of 2 GiB", hdr, err)
	}
}

// streamHash is the SHA-256 of the first n bytes of a file.
func streamHash(t *testing.T, path string, n int64) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyN(h, f, n); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}
