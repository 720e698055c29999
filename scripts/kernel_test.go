// Package scripts holds the tests of the shell scripts beside them.
package scripts

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minikit/minikit/internal/testenv"
)

const (
	fakePackage = "linux-image-6.1.0-99-amd64"
	fakeVersion = "6.1.0-99-amd64"
	fakeFile    = fakePackage + "_6.1.999-1_amd64.deb"
)

// fakeKernelDeb builds a kernel package laid out as Debian's is, whose
// kernel binary holds kernel.
func fakeKernelDeb(t *testing.T, kernel string) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"DEBIAN/control": "Package: " + fakePackage + "\nVersion: 6.1.999-1\nArchitecture: amd64\n" +
			"Maintainer: minikit tests <tests@minikit.invalid>\nDescription: a kernel package for tests\n",
		"boot/vmlinuz-" + fakeVersion:                          kernel,
		"boot/System.map-" + fakeVersion:                       "ffffffff81000000 T _text\n",
		"boot/config-" + fakeVersion:                           "CONFIG_X86_64=y\n",
		"lib/modules/" + fakeVersion + "/kernel/fs/overlay.ko": "module",
		"lib/modules/" + fakeVersion + "/modules.builtin":      "kernel/fs/ext4/ext4.ko\n",
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	deb := filepath.Join(t.TempDir(), fakeFile)
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build: %v: %s", err, out)
	}
	return deb
}

func sha256Of(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// fakeApt puts apt-get and apt-cache on a PATH of their own: their
// package lists know fakePackage with the hash of listed, and a download
// gives served. Every call is appended to the returned log.
func fakeApt(t *testing.T, listed, served string) (path, log string) {
	t.Helper()
	bin := t.TempDir()
	log = filepath.Join(bin, "calls.log")
	aptGet := `#!/bin/sh
echo "apt-get $*" >>"` + log + `"
case " $* " in
*" --print-uris "*)
	for a; do [ "$a" = "` + fakePackage + `" ] && found=1; done
	[ -n "$found" ] || { echo "E: Unable to locate package" >&2; exit 100; }
	echo "'http://deb.debian.org/debian/pool/main/l/linux/` + fakeFile + `' ` + fakeFile + ` 1234 SHA256:` + sha256Of(t, listed) + `"
	;;
*" download "*) cp "` + served + `" ./` + fakeFile + ` ;;
*" update "*) ;;
*) echo "fake apt-get: unexpected $*" >&2; exit 1 ;;
esac
`
	aptCache := `#!/bin/sh
echo "apt-cache $*" >>"` + log + `"
echo "` + fakePackage + ` - Linux 6.1 for 64-bit PCs (signed)"
`
	for name, script := range map[string]string{"apt-get": aptGet, "apt-cache": aptCache} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin + string(os.PathListSeparator) + os.Getenv("PATH"), log
}

func runKernelScript(t *testing.T, path, cache, outdir string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", "kernel.sh", outdir)
	cmd.Env = append(os.Environ(), "PATH="+path, "KERNEL_CACHE_DIR="+cache, "KERNEL_PACKAGE=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func downloads(t *testing.T, log string) int {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "apt-get download") && !strings.Contains(line, "--print-uris") {
			n++
		}
	}
	return n
}

// TestKernelScriptChecksTheCachedPackage: kernel.sh takes the kernel from
// a cached .deb only when the package's SHA-256 is the one apt's lists
// give; a tampered one is replaced by a fresh download, and a download
// that does not match is refused.
func TestKernelScriptChecksTheCachedPackage(t *testing.T) {
	testenv.Tools(t, testenv.RequireRootEnv, "bash", "sha256sum", "dpkg-deb (apt-get install dpkg)")
	good := fakeKernelDeb(t, "the real kernel")
	tampered := fakeKernelDeb(t, "a kernel someone put in the cache")

	tests := []struct {
		name          string
		cached        string // what the cache holds beforehand, "" for nothing
		served        string // what a download gives
		wantErr       bool
		wantDownloads int
	}{
		{name: "a cached package that matches is used", cached: good, served: good, wantDownloads: 0},
		{name: "a tampered cached package is downloaded again", cached: tampered, served: good, wantDownloads: 1},
		{name: "a missing package is downloaded", served: good, wantDownloads: 1},
		{name: "a download that does not match is refused", served: tampered, wantErr: true, wantDownloads: 1},
		{name: "a tampered cached package is not used when the download fails too", cached: tampered, served: tampered, wantErr: true, wantDownloads: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cache, outdir := filepath.Join(dir, "debs"), filepath.Join(dir, "build", "kernel")
			if err := os.MkdirAll(cache, 0o755); err != nil {
				t.Fatal(err)
			}
			if tt.cached != "" {
				b, err := os.ReadFile(tt.cached)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(cache, fakeFile), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			path, log := fakeApt(t, good, tt.served)
			out, err := runKernelScript(t, path, cache, outdir)

			if got := downloads(t, log); got != tt.wantDownloads {
				t.Errorf("kernel.sh downloaded %d times, want %d\n%s", got, tt.wantDownloads, out)
			}
			if tt.wantErr {
				if err == nil {
					t.Fatalf("kernel.sh succeeded, want it to refuse the package:\n%s", out)
				}
				if _, err := os.Stat(outdir); !os.IsNotExist(err) {
					t.Errorf("kernel.sh failed but made %s (%v)", outdir, err)
				}
				if _, err := os.Stat(filepath.Join(cache, fakeFile)); !os.IsNotExist(err) {
					t.Errorf("the cache still holds a package that does not match (%v)", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("kernel.sh: %v\n%s", err, out)
			}
			if got, err := os.ReadFile(filepath.Join(outdir, "vmlinuz")); err != nil || string(got) != "the real kernel" {
				t.Errorf("vmlinuz = %q (%v), want the kernel of the package apt lists\n%s", got, err, out)
			}
			if got := sha256Of(t, filepath.Join(cache, fakeFile)); got != sha256Of(t, good) {
				t.Errorf("the cache holds a package with SHA-256 %s, want apt's %s", got, sha256Of(t, good))
			}
		})
	}
}
