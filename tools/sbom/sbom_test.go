package sbom

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/minikit/minikit/internal/testenv"
)

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func TestDebianPackagesReadsStatusDAndInstalledStatusEntries(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "var/lib/dpkg/status.d/libc6"), "Package: libc6\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\nDescription: GNU C Library\n shared libraries\n", 0o644)
	writeFile(t, filepath.Join(root, "var/lib/dpkg/status.d/libc6.md5sums"), "d41d8cd98f00b204e9800998ecf8427e  lib/x.so\n", 0o644)
	writeFile(t, filepath.Join(root, "var/lib/dpkg/status.d/python3.11"), "Package: python3.11\nVersion: 3.11.2-6\nArchitecture: amd64\n", 0o644)
	writeFile(t, filepath.Join(root, "var/lib/dpkg/status"),
		"Package: busybox-static\nStatus: install ok installed\nVersion: 1:1.35.0-4+b3\nArchitecture: amd64\n\n"+
			"Package: removed\nStatus: deinstall ok config-files\nVersion: 1.0\n", 0o644)
	got, err := DebianPackages(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{
		{"busybox-static", "1:1.35.0-4+b3", "amd64"},
		{"libc6", "2.36-9+deb12u4", "amd64"},
		{"python3.11", "3.11.2-6", "amd64"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("DebianPackages = %v\nwant %v", got, want)
	}
	none, err := DebianPackages(t.TempDir())
	if err != nil || len(none) != 0 {
		t.Errorf("a tree without dpkg records gave %v, %v; want nothing", none, err)
	}
}

func TestPackagesFromLabels(t *testing.T) {
	got, err := PackagesFromLabels(map[string]string{PackagesLabel: `[{"name":"zlib1g","version":"1:1.2.13"},{"name":"curl","version":"7.88.1-10"}]`})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Package{{Name: "curl", Version: "7.88.1-10"}, {Name: "zlib1g", Version: "1:1.2.13"}}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := PackagesFromLabels(map[string]string{PackagesLabel: `[{"name":"x"}]`}); err == nil {
		t.Error("a package without a version was accepted")
	}
}

// TestGoBinariesFindsGoPrograms builds a small Go program into a tree
// beside an executable that is not one, and a copy that is not executable.
func TestGoBinariesFindsGoPrograms(t *testing.T) {
	gotool, err := exec.LookPath("go")
	if err != nil {
		testenv.Unavailable(t, testenv.RequireRootEnv, "no go command to build a program with")
	}
	root := t.TempDir()
	prog := filepath.Join(root, "sbin/init")
	build := exec.Command(gotool, "build", "-trimpath", "-o", prog, "./testdata/goprog")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data, err := os.ReadFile(prog)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "bin/script"), "#!/bin/sh\necho hi\n", 0o755)
	writeFile(t, filepath.Join(root, "lib/notexec"), string(data), 0o644)
	bins, err := GoBinaries(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(bins) != 1 || bins[0].Path != "/sbin/init" {
		t.Fatalf("GoBinaries = %+v, want just /sbin/init", bins)
	}
	b := bins[0]
	if b.Main.Path != "github.com/minikit/minikit" || !strings.HasPrefix(b.GoVersion, "go1.") {
		t.Errorf("main module %q built by %q, want github.com/minikit/minikit by go1.x", b.Main.Path, b.GoVersion)
	}
	if !slices.ContainsFunc(b.Deps, func(m Module) bool { return m.Path == "github.com/CycloneDX/cyclonedx-go" && m.Version != "" }) {
		t.Errorf("the dependencies %v do not include cyclonedx-go, which this test links", b.Deps)
	}
}

func testSystem() System {
	return System{
		Name: "smoke",
		Tool: "minikit",
		Images: []Image{
			{Ref: "minikit/busybox:dev", Digest: "sha256:" + strings.Repeat("b", 64), Uses: []string{"service reader", "onboot 000-hello"},
				Packages: []Package{{"busybox-static", "1:1.35.0-4+b3", "amd64"}}},
			{Ref: "minikit/init:dev", Digest: "sha256:" + strings.Repeat("a", 64), Uses: []string{"init"},
				Binaries: []GoBinary{{Path: "/sbin/init", GoVersion: "go1.26.8",
					Main: Module{Path: "github.com/minikit/minikit", Version: "(devel)"},
					Deps: []Module{{Path: "golang.org/x/sys", Version: "v0.50.0", Sum: "h1:abc="}}}}},
		},
	}
}

func TestWriteListsImagesPackagesAndModules(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, testSystem()); err != nil {
		t.Fatal(err)
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(buf.Bytes()), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatalf("the SBOM does not decode as CycloneDX: %v\n%s", err, buf.String())
	}
	if bom.SpecVersion != SpecVersion || !strings.HasPrefix(bom.SerialNumber, "urn:uuid:") {
		t.Errorf("spec %v serial %q, want %v and a urn:uuid", bom.SpecVersion, bom.SerialNumber, SpecVersion)
	}
	if bom.Metadata.Timestamp != "" {
		t.Errorf("timestamp %q without one given", bom.Metadata.Timestamp)
	}
	purls := map[string]cdx.Component{}
	for _, c := range *bom.Components {
		purls[c.PackageURL] = c
	}
	for _, want := range []string{
		"pkg:deb/debian/busybox-static@1%3A1.35.0-4+b3?arch=amd64",
		"pkg:golang/golang.org/x/sys@v0.50.0",
		"pkg:oci/busybox@sha256%3A" + strings.Repeat("b", 64) + "?repository_url=minikit%2Fbusybox&tag=dev",
	} {
		if _, ok := purls[want]; !ok {
			t.Errorf("no component %s in:\n%s", want, buf.String())
		}
	}
	busybox := purls["pkg:oci/busybox@sha256%3A"+strings.Repeat("b", 64)+"?repository_url=minikit%2Fbusybox&tag=dev"]
	if busybox.Version != "sha256:"+strings.Repeat("b", 64) || len(*busybox.Properties) != 2 {
		t.Errorf("busybox image component %+v: want its digest as version and both uses", busybox)
	}
	deps := map[string][]string{}
	for _, d := range *bom.Dependencies {
		deps[d.Ref] = *d.Dependencies
	}
	if got := deps["system:smoke"]; len(got) != 2 {
		t.Errorf("the system depends on %v, want both images", got)
	}
	if got := deps["image:minikit/init:dev@sha256:"+strings.Repeat("a", 64)+":/sbin/init"]; !slices.Equal(got, []string{"pkg:golang/golang.org/x/sys@v0.50.0"}) {
		t.Errorf("/sbin/init depends on %v, want x/sys", got)
	}
}

func TestWriteIsReproducibleAndSerialFollowsContent(t *testing.T) {
	sys := testSystem()
	var a, b, c bytes.Buffer
	if err := Write(&a, sys); err != nil {
		t.Fatal(err)
	}
	// The same system described in another order is the same document.
	slices.Reverse(sys.Images)
	if err := Write(&b, sys); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("the same system gave two documents:\n%s\n%s", a.String(), b.String())
	}
	sys.Timestamp = time.Unix(1700000000, 0)
	if err := Write(&c, sys); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.String(), `"timestamp": "2023-11-14T22:13:20Z"`) {
		t.Errorf("the given timestamp is not in the document:\n%s", c.String())
	}
	serial := func(s string) string {
		i := strings.Index(s, "urn:uuid:")
		return s[i : i+45]
	}
	if serial(a.String()) == serial(c.String()) {
		t.Error("different documents have the same serial number")
	}
}
