package tests

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/testenv"
)

// formatSpecs is the system the formats tests build: the smoke image and
// a container that prints the kernel command line the bootloader passed.
var formatSpecs = []string{"images/smoke.yml", "images/formats.yml"}

// bootableFormats are the formats whose output minikit run boots, with
// the file each is written to, named as LinuxKit names it, and whether
// the root image is on the disk or in the initrd.
var bootableFormats = []struct {
	format, file string
	rootInInitrd bool
}{
	{format: "iso-bios", file: "formats.iso"},
	{format: "iso-efi", file: "formats-efi.iso"},
	{format: "iso-efi-initrd", file: "formats-efi-initrd.iso", rootInInitrd: true},
	{format: "raw-bios", file: "formats-bios.img"},
	{format: "raw-efi", file: "formats-efi.img"},
	{format: "qcow2-bios", file: "formats.qcow2"},
	{format: "qcow2-efi", file: "formats-efi.qcow2"},
	{format: "aws", file: "formats.raw"},
	{format: "vhd", file: "formats.vhd"},
	{format: "vmdk", file: "formats.vmdk"},
}

var allFormats = "kernel+initrd,kernel+squashfs,tar,iso-bios,iso-efi,iso-efi-initrd,raw-bios,raw-efi,qcow2-bios,qcow2-efi,aws,gcp,vhd,vmdk"

// buildFormats runs minikit build with every format into dir and returns
// its standard output. prefix, if any, is shell code run before minikit,
// such as "umask 077;".
func buildFormats(t *testing.T, dir, prefix string, extra ...string) string {
	t.Helper()
	args := append([]string{"build", "-o", dir, "-name", "formats", "-format", allFormats}, extra...)
	args = append(args, formatSpecs...)
	cmd := exec.Command(minikit(t), args...)
	if prefix != "" {
		cmd = exec.Command("/bin/sh", append([]string{"-c", prefix + ` exec "$@"`, "sh", minikit(t)}, args...)...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		testenv.Unavailable(t, testenv.RequireQEMUEnv, "minikit build %v failed (are the base images in the store, and xorriso, mtools, syslinux, grub-efi-amd64-bin installed? run make images, scripts/deps.sh): %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// TestEveryFormatBoots builds the system once in every format and boots
// each ISO and disk image with minikit run, BIOS ones with SeaBIOS and
// UEFI ones with OVMF: each must run its containers with the spec's kernel
// command line and power off cleanly when its power button is pressed.
// One boot shows the console on minikit run's standard output and is
// stopped with a signal, as Ctrl-C would; the others run detached and are
// stopped with minikit run -stop.
func TestEveryFormatBoots(t *testing.T) {
	testenv.QEMU(t)
	requireQEMU(t)
	dir := t.TempDir()
	// zstd here, gzip in the other tests: both must boot.
	out := buildFormats(t, dir, "", "-compression", "zstd", "-size-report")
	for _, want := range []string{"formats.iso", "formats-bios.iso", "formats.img.tar.gz", "formats-sbom.cdx.json", "service reader (minikit/busybox:dev)", "init images (minikit/init:dev)"} {
		if !strings.Contains(out, want) {
			t.Errorf("minikit build's output lacks %q:\n%s", want, out)
		}
	}
	for i, f := range bootableFormats {
		onStdout := i == len(bootableFormats)-1
		t.Run(f.format, func(t *testing.T) {
			t.Parallel()
			image := filepath.Join(dir, f.file)
			var console string
			var status int
			if onStdout {
				console, status = bootInForeground(t, image)
			} else {
				console, status = bootDetached(t, image)
			}
			for _, want := range []string{
				`kernel command line: .*console=ttyS0 panic=-1 minikit\.test=formats`,
				`root image mounted device=/dev/mapper/minikit-root verified=true`,
				`reader: reader says: written by onboot`,
				`power button pressed`,
				`service reader exited 0`,
			} {
				if !regexp.MustCompile(want).MatchString(console) {
					t.Errorf("%s: no console line matches %q", f.format, want)
				}
			}
			// The root image is on the disk, or in the initrd.
			if looked := strings.Contains(console, "looking for the disk that holds the root image"); looked == f.rootInInitrd {
				t.Errorf("%s: the first stage looked for the root on a disk: %v; want %v", f.format, looked, !f.rootInInitrd)
			}
			if status != 0 || t.Failed() {
				t.Errorf("minikit run %s exited %d, want 0 (a clean poweroff)\n%s", f.file, status, tail(console, 40))
			}
		})
	}
}

// serviceUp is the console line that says the system is up.
const serviceUp = "reader says: written by onboot"

// bootDetached boots image with minikit run -detach, waits for its service
// in the console log and stops it with minikit run -stop; it returns the
// console and the exit status of -stop.
func bootDetached(t *testing.T, image string) (string, int) {
	t.Helper()
	state := filepath.Join(t.TempDir(), "state")
	start := time.Now()
	// The timeout ends a machine this test could not stop.
	if out, stderr, status := runMinikit(t, "run", "-detach", "-timeout", "5m", "-state", state, image); status != 0 {
		t.Fatalf("minikit run -detach %s exited %d:\n%s%s", image, status, out, stderr)
	}
	t.Cleanup(func() { runMinikit(t, "run", "-stop", "-kill", state) })
	log := filepath.Join(state, "console.log")
	for {
		data, _ := os.ReadFile(log)
		if bytes.Contains(data, []byte(serviceUp)) {
			break
		}
		if time.Since(start) > 3*bootTimeout {
			t.Fatalf("%s: no %q on the console after %v:\n%s", image, serviceUp, time.Since(start), tail(string(data), 40))
		}
		time.Sleep(500 * time.Millisecond)
	}
	_, stderr, status := runMinikit(t, "run", "-stop", state)
	t.Logf("%s: up and stopped in %v", filepath.Base(image), time.Since(start).Round(time.Second))
	if status != 0 {
		t.Logf("minikit run -stop said:\n%s", stderr)
	}
	console, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Status int
		Clean  bool
	}
	if data, err := os.ReadFile(filepath.Join(state, "status.json")); err != nil {
		t.Errorf("no status.json in the state directory: %v", err)
	} else if err := json.Unmarshal(data, &st); err != nil || st.Status != status || st.Clean != (status == 0) {
		t.Errorf("status.json says %s; minikit run -stop exited %d", data, status)
	}
	return string(console), status
}

// bootInForeground runs minikit run on image with the console on its
// standard output, and sends it SIGTERM, as Ctrl-C would, once the
// service is up; it returns the console and minikit run's exit status.
func bootInForeground(t *testing.T, image string) (string, int) {
	t.Helper()
	cmd := exec.Command(minikit(t), "run", "-timeout", "5m", image)
	// Should the test die, minikit run dies with it, and qemu with that.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var console strings.Builder
	lines := bufio.NewScanner(stdout)
	signalled := false
	for lines.Scan() {
		console.WriteString(lines.Text() + "\n")
		if !signalled && strings.Contains(lines.Text(), serviceUp) {
			cmd.Process.Signal(syscall.SIGTERM)
			signalled = true
		}
	}
	cmd.Wait()
	t.Logf("%s: up and stopped in %v", filepath.Base(image), time.Since(start).Round(time.Second))
	if !signalled {
		t.Errorf("%s: the service never came up", image)
	}
	status := cmd.ProcessState.ExitCode()
	if status != 0 {
		t.Logf("minikit run said:\n%s", stderr.String())
	}
	return console.String(), status
}

// TestEveryFormatIsReproducible builds twice, in other directories, a
// second apart, under another umask and time zone, and wants the same
// bytes in every file, the SBOM included.
func TestEveryFormatIsReproducible(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	buildFormats(t, a, "")
	time.Sleep(1100 * time.Millisecond)
	buildFormats(t, b, "umask 077; TZ=Pacific/Kiritimati;")
	files, err := filepath.Glob(filepath.Join(a, "formats*"))
	if err != nil {
		t.Fatal(err)
	}
	// kernel, initrd, cmdline, squashfs, tar, 11 images, the 2 links to
	// the images' former names, the SBOM, and nothing else
	if len(files) != 19 {
		t.Errorf("the build wrote %d files, want 19: %v", len(files), files)
	}
	for _, fa := range files {
		fb := filepath.Join(b, filepath.Base(fa))
		ha, hb := fileHash(t, fa), fileHash(t, fb)
		if ha != hb {
			t.Errorf("two builds give different %s: %x and %x", filepath.Base(fa), ha, hb)
		}
	}
	sbom, err := os.ReadFile(filepath.Join(a, "formats-sbom.cdx.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"bomFormat": "CycloneDX"`, `"name": "minikit/init:dev"`, `"name": "/sbin/init"`, `"purl": "pkg:golang/golang.org/x/sys@`} {
		if !bytes.Contains(sbom, []byte(want)) {
			t.Errorf("the SBOM lacks %s", want)
		}
	}
}

// fileHash is the SHA-256 of a file, read as a stream: some disks are
// 1 GiB.
func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// requireQEMU skips a test that boots a VM when qemu is missing, or fails
// it under MINIKIT_REQUIRE_QEMU=1.
func requireQEMU(t *testing.T) {
	t.Helper()
	testenv.QEMU(t)
	testenv.Tools(t, testenv.RequireQEMUEnv, "qemu-system-x86_64 (apt-get install qemu-system-x86)")
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// BenchmarkBuildEveryFormat is what a build of a small system in every
// format costs, the shared assembly of the root included: the goal is a
// few seconds, so that building ISOs and disks is no reason to skip them.
func BenchmarkBuildEveryFormat(b *testing.B) {
	bin, err := filepath.Abs("../bin/minikit")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		b.Skipf("%s is missing: run make first", bin)
	}
	for b.Loop() {
		dir := b.TempDir()
		args := append([]string{"build", "-o", dir, "-name", "formats", "-format", allFormats}, formatSpecs...)
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			b.Fatalf("minikit build: %v\n%s", err, out)
		}
	}
}
