package pkgbuild

import (
	"archive/tar"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/testenv"
	"golang.org/x/sys/unix"
)

// recipeFolders are where the project's recipes live, from this package:
// the base images, the onboot images and the services' (README.md says
// which goes where).
var recipeFolders = []string{"../../pkg", "../../onboot", "../../services"}

func recipeDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	for _, folder := range recipeFolders {
		files, err := filepath.Glob(filepath.Join(folder, "*", RecipeFile))
		if err != nil || len(files) == 0 {
			t.Fatalf("no recipes under %s: %v", folder, err)
		}
		for _, f := range files {
			dirs = append(dirs, filepath.Dir(f))
		}
	}
	return dirs
}

func TestEveryRecipeParses(t *testing.T) {
	for _, dir := range recipeDirs(t) {
		r, err := Load(dir)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if want := "minikit/" + filepath.Base(dir); r.Image != want {
			t.Errorf("%s names image %s; want %s, after its directory", r.File, r.Image, want)
		}
	}
	// A Kubernetes node's recipes: built by make kube-images, not by
	// TestEveryRecipeBuilds (they compile kubelet and containerd), but
	// checked here like the others.
	kube, err := filepath.Glob(filepath.Join("../../kubernetes", "*", RecipeFile))
	if err != nil || len(kube) == 0 {
		t.Fatalf("no recipes under kubernetes/: %v", err)
	}
	for _, f := range kube {
		if _, err := Load(filepath.Dir(f)); err != nil {
			t.Errorf("%v", err)
		}
	}
}

// recipeChecks run in the built image, each a command in a chroot of its
// tree or a file that must (or must not) be there.
var recipeChecks = map[string]struct {
	run      [][]string
	files    []string
	notFiles []string // globs
	check    func(t *testing.T, root string)
}{
	"dhcpcd": {
		files: []string{"/sbin/dhcpcd", "/dhcpcd.conf"},
	},
	"kernel": {
		files:    []string{"/kernel", "/System.map", "/config"},
		notFiles: []string{"/boot", "/lib", "/usr/lib/modules"},
		check:    checkKernelImage,
	},
	"init": {
		run:   [][]string{{"/usr/bin/svcctl", "help"}},
		files: []string{"/init", "/etc/os-release", "/etc/passwd", "/proc", "/containers"},
		check: func(t *testing.T, root string) {
			// Static, or the kernel cannot run it from an initramfs
			// that has no libc.
			if err := CheckLibraries(root); err != nil {
				t.Error(err)
			}
			f, err := elf.Open(filepath.Join(root, "sbin/init"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Error("/sbin/init has a program interpreter: it is not statically linked")
				}
			}
		},
	},
	"metadata": {
		run:   [][]string{{"/usr/bin/metadata", "-h"}},
		files: []string{"/etc/ssl/certs/ca-certificates.crt", "/tmp"},
	},
	"busybox": {
		run: [][]string{{"/bin/sh", "-c", "echo hi | grep -q hi && ls /bin/ls"}},
	},
	"getty": {
		run:   [][]string{{"/bin/sh", "-n", "/usr/bin/rungetty.sh"}, {"/bin/sh", "-c", "getty 2>&1 | grep -q 'Usage: getty'"}},
		files: []string{"/etc/securetty", "/usr/libexec/getty/autologin", "/bin/login"},
	},
	"sshd": {
		run:      [][]string{{"/bin/sh", "-n", "/usr/libexec/minikit/sshd-start"}}, // OpenSSH needs /dev: TestSSHDLoginWithKey runs it
		files:    []string{"/usr/sbin/sshd", "/usr/bin/ssh-keygen", "/etc/ssh/sshd_config", "/usr/lib/openssh/sftp-server"},
		notFiles: []string{"/etc/ssh/ssh_host_*"},
	},
	"containerd": {
		run:   [][]string{{"/usr/bin/containerd", "--version"}, {"/usr/bin/ctr", "--version"}, {"/usr/sbin/runc", "--version"}},
		files: []string{"/usr/bin/containerd-shim-runc-v2"},
	},
	"sysctl": {
		files: []string{"/usr/bin/sysctl", "/etc/sysctl.d/00-kspp.conf"},
	},
	"format": {
		run:   [][]string{{"/sbin/mkfs.ext4", "-V"}},
		files: []string{"/usr/bin/format"},
	},
	"mount":    {files: []string{"/usr/bin/mountie"}},
	"modprobe": {files: []string{"/usr/sbin/modprobe"}},
	"rngd": {
		run:   [][]string{{"/usr/lib/rng-tools5/rngd", "--version"}},
		files: []string{"/usr/sbin/rngd"},
	},
	"poweroff": {
		// Checked, never run: in a chroot its signal would reach the
		// build host's PID 1. TestPoweroffAfterItsWait boots it.
		run:   [][]string{{"/bin/sh", "-n", "/poweroff.sh"}},
		files: []string{"/bin/sh", "/bin/sleep", "/bin/kill"},
	},
	"sysfs": {
		// the shipped settings are where -configDir looks by default
		files: []string{"/usr/bin/sysfs", "/etc/sysfs.d/00-moby.conf"},
		run:   [][]string{{"/usr/bin/sysfs", "-h"}},
	},
	"binfmt": {
		run:   [][]string{{"/usr/bin/qemu-aarch64", "-version"}, {"/usr/bin/binfmt", "-h"}},
		files: []string{"/etc/binfmt.d/00_linuxkit.conf", "/usr/bin/qemu-arm", "/usr/bin/qemu-ppc64le", "/usr/bin/qemu-s390x", "/usr/bin/qemu-riscv64", "/usr/bin/qemu-loongarch64"},
		// only what it registers
		notFiles: []string{"/usr/bin/qemu-*-static", "/usr/bin/qemu-mips*"},
	},
	"losetup": {
		run: [][]string{{"/usr/bin/loopy", "--help"}},
	},
	"dm-crypt": {
		run:   [][]string{{"/usr/sbin/cryptsetup", "--version"}, {"/usr/bin/crypto", "-h"}, {"/sbin/mkfs.ext4", "-V"}},
		files: []string{"/usr/bin/crypto"},
	},
	"swap": {
		run: [][]string{{"/usr/sbin/cryptsetup", "--version"}},
		// the name LinuxKit specs run
		files: []string{"/swap.sh"},
	},
	"extend": {
		run:   [][]string{{"/usr/sbin/sfdisk", "--version"}, {"/usr/sbin/e2fsck", "-V"}, {"/usr/bin/extend", "-h"}},
		files: []string{"/usr/sbin/resize2fs"},
	},
	"ip": {
		run: [][]string{{"/usr/bin/ip", "-V"}, {"/usr/sbin/tc", "-V"}, {"/usr/sbin/bridge", "-V"}, {"/usr/bin/wg", "--version"}},
	},
	"kmsg":     {files: []string{"/usr/bin/kmsg"}},
	"logwrite": {files: []string{"/usr/bin/logwrite"}},
	"acpid": {
		// Debian's acpid (not busybox's), and the power button's rule and action
		run:   [][]string{{"/bin/sh", "-n", "/etc/acpi/powerbtn.sh"}, {"/bin/sh", "-c", "/sbin/acpid --version | grep -q acpid-2"}},
		files: []string{"/etc/acpi/events/powerbtn", "/bin/kill"},
	},

	"openntpd": {
		run:   [][]string{{"/usr/sbin/ntpd", "-n", "-f", "/etc/openntpd/ntpd.conf"}},
		files: []string{"/etc/ntpd.conf", "/etc/passwd", "/var/lib/openntpd/db", "/var/lib/openntpd/run"},
	},
	"node_exporter": {
		run: [][]string{{"/bin/node_exporter", "--version"}},
	},
	"firmware": {
		files: []string{"/lib/firmware/carl9170-1.fw"},
		// unpacked into the system's root: no /bin or /usr/lib links
		notFiles: []string{"/bin", "/sbin", "/usr/lib"},
	},
	"ca-certificates": {
		files:    []string{"/etc/ssl/certs/ca-certificates.crt"},
		notFiles: []string{"/bin", "/lib", "/sbin"},
	},
}

// Every recipe builds from scratch, and what it builds works.
func TestEveryRecipeBuilds(t *testing.T) {
	needRootAndApt(t)
	st := openStore(t)
	for _, dir := range recipeDirs(t) {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			res := build(t, dir, st, false)
			t.Logf("built %s@%s in %s", res.Ref, res.Digest, time.Since(start).Round(time.Millisecond))
			root, cfg := unpack(t, st, res.Ref)
			if cfg.Labels[LabelRecipeHash] != res.Hash {
				t.Errorf("label %s = %q, want %q", LabelRecipeHash, cfg.Labels[LabelRecipeHash], res.Hash)
			}
			checks, ok := recipeChecks[name]
			if !ok {
				t.Fatalf("recipe %s has no checks in recipeChecks", name)
			}
			for _, f := range checks.files {
				if !existsIn(root, f) {
					t.Errorf("%s is not in the image", f)
				}
			}
			for _, pattern := range checks.notFiles {
				if m, _ := filepath.Glob(filepath.Join(root, pattern)); len(m) > 0 {
					t.Errorf("%s is in the image: %v", pattern, m)
				}
			}
			if checks.check != nil {
				checks.check(t, root)
			}
			for _, cmd := range checks.run {
				out, err := exec.Command("chroot", append([]string{root}, cmd...)...).CombinedOutput()
				if err != nil {
					t.Errorf("chroot %s: %v\n%s", strings.Join(cmd, " "), err, out)
				}
			}
		})
	}
}

// The sshd image makes its host keys at its first start and lets root in
// with the key a spec puts in /root/.ssh, and no password.
func TestSSHDLoginWithKey(t *testing.T) {
	needRootAndApt(t)
	if _, err := exec.LookPath("ssh"); err != nil {
		testenv.Unavailable(t, testenv.RequireRootEnv, "no ssh client on this machine (Debian package openssh-client)")
	}
	st := openStore(t)
	res := build(t, filepath.Join("../../services", "sshd"), st, false)
	root, _ := unpack(t, st, res.Ref)

	// Device nodes of its own, never a bind of the host's /dev: the tree
	// is removed after the test, and removing through a bind that failed
	// to unmount would delete the host's devices.
	for _, n := range []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"random", 1, 8}, {"urandom", 1, 9}} {
		p := filepath.Join(root, "dev", n.name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(n.major, n.minor))); err != nil {
			t.Fatalf("mknod %s: %v", p, err)
		}
	}
	// proc and a tmpfs /run: removing either's contents harms nothing.
	for _, m := range []struct{ dir, fstype string }{{"proc", "proc"}, {"run", "tmpfs"}} {
		target := filepath.Join(root, m.dir)
		os.MkdirAll(target, 0o755)
		if err := unix.Mount(m.fstype, target, m.fstype, 0, ""); err != nil {
			t.Fatalf("mount %s: %v", target, err)
		}
		t.Cleanup(func() { unix.Unmount(target, unix.MNT_DETACH) })
	}
	key := filepath.Join(t.TempDir(), "id")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, _ := os.ReadFile(key + ".pub")
	os.MkdirAll(filepath.Join(root, "root/.ssh"), 0o700)
	os.WriteFile(filepath.Join(root, "root/.ssh/authorized_keys"), pub, 0o600)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var log strings.Builder
	sshd := exec.Command("chroot", root, "/usr/libexec/minikit/sshd-start", "-p", fmt.Sprint(port), "-o", "ListenAddress=127.0.0.1")
	sshd.Stdout, sshd.Stderr = &log, &log
	if err := sshd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sshd.Process.Kill(); sshd.Wait() })

	ssh := func(opts ...string) ([]byte, error) {
		args := append([]string{"-p", fmt.Sprint(port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"}, opts...)
		return exec.Command("ssh", append(args, "root@127.0.0.1", "echo in; id -u")...).CombinedOutput()
	}
	var out []byte
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if out, err = ssh("-i", key); err == nil {
			break
		}
	}
	if err != nil || !strings.Contains(string(out), "in\n0") {
		t.Fatalf("ssh with the key: %v\n%s\nsshd:\n%s", err, out, log.String())
	}
	if out, err := ssh("-o", "PubkeyAuthentication=no", "-o", "PasswordAuthentication=yes"); err == nil {
		t.Errorf("ssh without the key got in:\n%s", out)
	}
	keys, _ := fs.Glob(os.DirFS(root), "run/ssh/ssh_host_*_key")
	if len(keys) == 0 {
		t.Errorf("no host keys made in /run/ssh; sshd said:\n%s", log.String())
	}
}

// checkKernelImage looks for the modules minikit's default images load,
// with the index files the kernel package ships, in kernel.tar.
func checkKernelImage(t *testing.T, root string) {
	f, err := os.Open(filepath.Join(root, "kernel.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]bool{"virtio_net.ko": false, "e1000.ko": false, "overlay.ko": false, "modules.builtin": false, "modules.order": false}
	tr := tar.NewReader(f)
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("kernel.tar: %v", err)
		}
		n++
		if h.Name != "lib/" && !strings.HasPrefix(h.Name, "lib/modules/") {
			t.Fatalf("kernel.tar: %s is outside lib/modules", h.Name)
		}
		if _, ok := want[path.Base(h.Name)]; ok {
			want[path.Base(h.Name)] = true
		}
	}
	for name, found := range want {
		if !found {
			t.Errorf("kernel.tar (%d entries) has no %s", n, name)
		}
	}
}
