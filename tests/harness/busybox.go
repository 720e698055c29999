package harness

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cavaliergopher/cpio"
	"github.com/minikit/minikit/tools/pkgbuild"
)

// KernelEnv names a kernel to boot instead of the one the repository's
// build fetches into build/kernel/vmlinuz.
const KernelEnv = "MINIKIT_KERNEL"

// BusyboxPath is where Debian's busybox-static puts its binary.
const BusyboxPath = "/bin/busybox"

// Kernel returns the kernel tests boot: $MINIKIT_KERNEL, else
// build/kernel/vmlinuz at the root of the module. It skips the test (or
// fails it under MINIKIT_REQUIRE_QEMU=1) when there is none.
func Kernel(t testing.TB) string {
	t.Helper()
	path := os.Getenv(KernelEnv)
	if path == "" {
		root, err := moduleRoot()
		if err != nil {
			unavailable(t, "no kernel to boot: %v; set %s", err, KernelEnv)
		}
		path = filepath.Join(root, "build", "kernel", "vmlinuz")
	}
	if _, err := os.Stat(path); err != nil {
		unavailable(t, "no kernel to boot: %v; fetch it into build/kernel or set %s", err, KernelEnv)
	}
	return path
}

// moduleRoot is the nearest directory above the working directory (a test's
// package directory) that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// BusyboxImage writes a tiny bootable image for testing the harness itself,
// or for trying a program in a VM without building a whole minikit image:
// the kernel from Kernel, an initrd holding a static busybox as /bin/busybox
// and initScript as /init (run by busybox sh), and cmdline. It returns the
// DIR/NAME prefix that Boot takes. The script starts with devtmpfs on /dev,
// the standard output on the console and every busybox applet on $PATH.
func BusyboxImage(t testing.TB, initScript, cmdline string) string {
	t.Helper()
	kernel := Kernel(t)
	if err := pkgbuild.CheckStatic(BusyboxPath); err != nil {
		unavailable(t, "no static busybox: %v; install the Debian package busybox-static", err)
	}
	prefix := filepath.Join(t.TempDir(), "busybox")
	if err := os.Symlink(kernel, prefix+"-kernel"); err != nil {
		t.Fatalf("link kernel: %v", err)
	}
	script := "#!/bin/busybox sh\n" +
		"/bin/busybox --install -s /bin\n" +
		"export PATH=/bin\n" +
		// The initrd has no /dev/console node (our cpio writer cannot
		// write device numbers), so the kernel may have started us
		// without a console: take it from devtmpfs.
		"mount -t devtmpfs devtmpfs /dev\n" +
		"exec </dev/console >/dev/console 2>&1\n" +
		initScript
	if err := writeBusyboxInitrd(prefix+"-initrd.img", script); err != nil {
		t.Fatalf("write busybox initrd: %v", err)
	}
	if err := os.WriteFile(prefix+"-cmdline", []byte(cmdline+"\n"), 0o644); err != nil {
		t.Fatalf("write cmdline: %v", err)
	}
	return prefix
}

// writeBusyboxInitrd writes an uncompressed newc archive, which every
// kernel with initrd support can unpack.
func writeBusyboxInitrd(path, initScript string) (err error) {
	busybox, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	buf := bufio.NewWriter(f)
	w := cpio.NewWriter(buf)
	entries := []struct {
		name string
		mode cpio.FileMode
		data []byte
	}{
		{"bin", cpio.TypeDir | 0o755, nil},
		{"dev", cpio.TypeDir | 0o755, nil},
		{"proc", cpio.TypeDir | 0o755, nil},
		{"sys", cpio.TypeDir | 0o755, nil},
		{"tmp", cpio.TypeDir | 0o1777, nil},
		{"bin/busybox", cpio.TypeReg | 0o755, busybox},
		{"init", cpio.TypeReg | 0o755, []byte(initScript)},
	}
	for _, e := range entries {
		hdr := &cpio.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.data)), Links: 1}
		if e.mode&cpio.ModeType == cpio.TypeDir {
			hdr.Links = 2
		}
		if err := w.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
		if _, err := w.Write(e.data); err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	return buf.Flush()
}
