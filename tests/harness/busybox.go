package harness

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/minikit/minikit/internal/atomicfile"
	"github.com/minikit/minikit/tools/initrd"
	"github.com/minikit/minikit/tools/pkgbuild"
	"github.com/u-root/u-root/pkg/cpio"
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
		// /dev/console is in the initrd; devtmpfs brings the rest.
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

// writeBusyboxInitrd writes the initrd with minikit's own cpio writer,
// /dev/console included, so that the kernel starts /init with a console.
func writeBusyboxInitrd(path, initScript string) error {
	root, err := os.MkdirTemp(filepath.Dir(path), "initrd-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	for _, d := range []struct {
		name string
		mode os.FileMode
	}{{"bin", 0o755}, {"dev", 0o755}, {"proc", 0o755}, {"sys", 0o755}, {"tmp", 0o1777}} {
		if err := os.Mkdir(filepath.Join(root, d.name), d.mode); err != nil {
			return err
		}
		if err := os.Chmod(filepath.Join(root, d.name), d.mode); err != nil { // past the umask
			return err
		}
	}
	busybox, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), busybox, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "init"), []byte(initScript), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFunc(path, 0o644, func(w io.Writer) error {
		return initrd.Write(w, root, initrd.Options{Extra: []cpio.Record{initrd.ConsoleDevice()}})
	})
}
