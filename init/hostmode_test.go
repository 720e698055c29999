package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/internal/control"
	"github.com/minikit/minikit/internal/testenv"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Host test mode runs the real init binary as PID 1 of a new PID and mount
// namespace over a tree of bundles, so supervision and reaping are tested
// with real containers in seconds, without qemu. It needs root.

// hang bounds waits that only keep a broken init from hanging a test
// instead of failing it; it measures nothing.
const hang = 10 * time.Second

func needRoot(t testing.TB) {
	t.Helper()
	testenv.Root(t)
}

// built holds the binaries built for this test run, by package.
var built sync.Map // package → func() (string, error)

// goBinary builds the Go package pkg (a path relative to this package)
// once per test run and returns the binary's path.
func goBinary(t testing.TB, pkg string, env ...string) string {
	t.Helper()
	once, _ := built.LoadOrStore(pkg, sync.OnceValues(func() (string, error) {
		dir, err := os.MkdirTemp("", "minikit-test-bin-")
		if err != nil {
			return "", err
		}
		abs, err := filepath.Abs(pkg)
		if err != nil {
			return "", err
		}
		bin := filepath.Join(dir, filepath.Base(abs))
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
		return bin, nil
	}))
	bin, err := once.(func() (string, error))()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// initBinary builds this package, init itself, as the Makefile and its
// recipe do: with cgo and libseccomp, which libcontainer needs to apply a
// container's seccomp filter, and static, as it runs before any library
// is there. $MINIKIT_INIT_BINARY names a binary to use instead, so that
// the benchmarks can measure another build of init (the one before a
// change, say).
func initBinary(t testing.TB) string {
	if bin := os.Getenv("MINIKIT_INIT_BINARY"); bin != "" {
		return bin
	}
	return goBinary(t, ".", "CGO_ENABLED=1", "GOFLAGS=-tags=netgo,osusergo,seccomp -ldflags=-extldflags=-static")
}

// svcctlBinary builds svcctl as the Makefile
// and init's recipe do: pure Go, so static. $MINIKIT_SVCCTL_BINARY names
// a binary to use instead.
func svcctlBinary(t testing.TB) string {
	if bin := os.Getenv("MINIKIT_SVCCTL_BINARY"); bin != "" {
		return bin
	}
	return goBinary(t, "./svcctl/cmd/svcctl", "CGO_ENABLED=0")
}

// busyboxRootfs lays out a read-only root with a static busybox, shared by
// every bundle of a test.
func busyboxRootfs(t testing.TB) string {
	t.Helper()
	const busybox = "/bin/busybox"
	if out, err := exec.Command("file", "-L", busybox).Output(); err != nil || !strings.Contains(string(out), "statically linked") {
		t.Skip("needs a static /bin/busybox (Debian package busybox-static)")
	}
	root := filepath.Join(t.TempDir(), "rootfs")
	for _, d := range []string{"bin", "proc", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sh", "sleep", "true", "echo", "cat", "kill"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// bundleSpec is a minimal runtime spec for a busybox command. With hostPID
// the container shares init's PID namespace, so its background processes
// become init's orphans when it exits.
func bundleSpec(rootfs string, hostPID bool, annotations map[string]string, args ...string) *specs.Spec {
	ns := []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}}
	if !hostPID {
		ns = append(ns, specs.LinuxNamespace{Type: specs.PIDNamespace})
	}
	return &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: rootfs, Readonly: true},
		Process: &specs.Process{Args: args, Env: []string{"PATH=/bin"}, Cwd: "/"},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=755"}},
		},
		Linux:       &specs.Linux{Namespaces: ns},
		Annotations: annotations,
	}
}

func writeBundle(t testing.TB, dir string, spec *specs.Spec) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// hostInit is init running in host test mode.
type hostInit struct {
	t     testing.TB
	root  string
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	more  chan struct{}
	done  chan struct{}
}

// startHostInit runs init as PID 1 of new namespaces over the tree at
// root, which holds containers/{onboot,services,onshutdown}.
func startHostInit(t testing.TB, root string) *hostInit {
	t.Helper()
	cmd := hostInitCommand(t, root)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	h := &hostInit{t: t, root: root, cmd: cmd, more: make(chan struct{}, 1), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			h.mu.Lock()
			h.lines = append(h.lines, sc.Text())
			h.mu.Unlock()
			select {
			case h.more <- struct{}{}:
			default:
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		pw.Close()
		close(h.done)
	}()
	t.Cleanup(func() {
		select {
		case <-h.done:
		default:
			_ = cmd.Process.Kill()
			<-h.done
		}
		if t.Failed() {
			t.Logf("init's output:\n%s", strings.Join(h.snapshot(), "\n"))
		}
	})
	return h
}

// hostInitCommand is the command that runs init as PID 1 of new
// namespaces over the tree at root; its output is the caller's to set.
func hostInitCommand(t testing.TB, root string) *exec.Cmd {
	t.Helper()
	needRoot(t)
	cmd := exec.Command(initBinary(t))
	cmd.Env = append(os.Environ(), hostRootEnv+"="+root)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// act starts, stops or restarts a service through svcctl, run from
// init's PID namespace as it would be inside the machine: the API tells
// its callers apart by their pids there, and refuses one it cannot see.
func (h *hostInit) act(name, action string) {
	h.t.Helper()
	out, err := exec.Command("nsenter", "--target", strconv.Itoa(h.cmd.Process.Pid), "--pid", "--",
		svcctlBinary(h.t), "--socket", filepath.Join(h.root, control.Socket), action, name).CombinedOutput()
	if err != nil {
		h.t.Fatalf("svcctl %s %s in init's namespace: %v\n%s", action, name, err, out)
	}
}

func (h *hostInit) snapshot() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.lines...)
}

// expect waits for a line matching pattern and returns its submatches.
func (h *hostInit) expect(pattern string, timeout time.Duration) []string {
	h.t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.After(timeout)
	for {
		for _, l := range h.snapshot() {
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		}
		select {
		case <-h.more:
		case <-h.done:
			for _, l := range h.snapshot() {
				if m := re.FindStringSubmatch(l); m != nil {
					return m
				}
			}
			h.t.Fatalf("init exited before printing %q", pattern)
		case <-deadline:
			h.t.Fatalf("no line matching %q within %v", pattern, timeout)
		}
	}
}

// stop asks init to power off and waits for it to exit.
func (h *hostInit) stop(timeout time.Duration) int {
	h.t.Helper()
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(timeout):
		h.t.Fatalf("init did not exit within %v of SIGTERM", timeout)
	}
	return h.cmd.ProcessState.ExitCode()
}

func newTree(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{bundle.OnbootDir, bundle.ServicesDir, bundle.OnshutdownDir} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}
