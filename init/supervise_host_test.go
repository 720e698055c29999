package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minikit/minikit/init/logs"
	"github.com/minikit/minikit/init/supervisor"
	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/internal/control"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// These tests run the real init in host test mode (see hostmode_test.go)
// with real containers: what the supervisor's unit tests prove with fakes,
// proven with processes that really die.

// fullRootfs is busyboxRootfs with every applet and svcctl in /bin.
func fullRootfs(t testing.TB) string {
	t.Helper()
	root := busyboxRootfs(t)
	out, err := exec.Command(filepath.Join(root, "bin/busybox"), "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, applet := range strings.Fields(string(out)) {
		_ = os.Symlink("busybox", filepath.Join(root, "bin", applet)) // some exist already
	}
	data, err := os.ReadFile(svcctlBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/svcctl"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// hostService writes a service bundle running script with sh.
func hostService(t testing.TB, tree, rootfs, name, script string, annotations map[string]string, change ...func(*specs.Spec)) {
	t.Helper()
	spec := bundleSpec(rootfs, false, annotations, "/bin/sh", "-c", script)
	for _, c := range change {
		c(spec)
	}
	writeBundle(t, filepath.Join(tree, bundle.ServicesDir, name), spec)
}

// withControlSocket binds init's /run/minikit into the container, as the
// sshd and getty entries of an image do.
func withControlSocket(tree string) func(*specs.Spec) {
	return func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{
			Destination: "/run/minikit", Type: "bind", Source: filepath.Join(tree, "run/minikit"), Options: []string{"rbind"},
		})
	}
}

// lineIndex is the index of the n-th (from 1) line of init's output that
// matches pattern, waiting for it.
func (h *hostInit) lineIndex(pattern string, n int, timeout time.Duration) int {
	h.t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.After(timeout)
	for {
		seen := 0
		for i, l := range h.snapshot() {
			if re.MatchString(l) {
				if seen++; seen == n {
					return i
				}
			}
		}
		select {
		case <-h.more:
		case <-h.done:
			h.t.Fatalf("init exited before printing %q %d times", pattern, n)
		case <-deadline:
			h.t.Fatalf("%q printed %d times within %v, want %d", pattern, seen, timeout, n)
		}
	}
}

// findProcess returns the pid (in the test's namespace) of the process
// whose command line is exactly args.
func findProcess(t testing.TB, args ...string) int {
	t.Helper()
	want := []byte(strings.Join(args, "\x00") + "\x00")
	deadline := time.Now().Add(hang)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); bytes.Equal(cmd, want) {
				return pid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no process %q", args)
	return 0
}

// One system, several services, each showing one promise of the
// supervisor with real containers.
func TestHostSupervision(t *testing.T) {
	needRoot(t)
	rootfs := fullRootfs(t)
	tree := newTree(t)
	hostService(t, tree, rootfs, "victim", "echo victim up; exec sleep 4242", nil)
	hostService(t, tree, rootfs, "crasher", "echo crashing; exit 3", nil)
	// A shell as its container's PID 1 ignores SIGTERM; its stop ends in SIGKILL.
	hostService(t, tree, rootfs, "steady", "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.2; done",
		map[string]string{bundle.AnnotationStopTimeout: "2"})
	hostService(t, tree, rootfs, "db", "sleep 1; svcctl notify STATUS=warm READY=1; exec sleep 4343",
		map[string]string{bundle.AnnotationNotify: "true"})
	hostService(t, tree, rootfs, "app", "echo app up; exec sleep 4444",
		map[string]string{bundle.AnnotationDependsOn: "db"})
	hostService(t, tree, rootfs, "lister", "svcctl status db | head -n 1; svcctl list",
		map[string]string{bundle.AnnotationDependsOn: "app", bundle.AnnotationRestart: "never"}, withControlSocket(tree))
	h := startHostInit(t, tree)
	client := control.NewClient(filepath.Join(tree, control.Socket))

	t.Run("a service killed with SIGKILL runs again", func(t *testing.T) {
		h.lineIndex(`service victim started`, 1, time.Minute)
		if err := syscall.Kill(findProcess(t, "sleep", "4242"), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		h.lineIndex(`service victim exited 137`, 1, time.Minute)
		h.lineIndex(`service victim started`, 2, time.Minute)
		h.lineIndex(`victim: victim up`, 2, time.Minute)
		st, err := client.Service(context.Background(), "victim")
		if err != nil || st.Restarts != 1 || st.LastExit == nil || *st.LastExit != 137 {
			t.Errorf("victim after its restart: %+v, %v", st, err)
		}
	})

	t.Run("a dependent starts only once its dependency is ready", func(t *testing.T) {
		ready := h.lineIndex(`service db ready`, 1, time.Minute)
		started := h.lineIndex(`service app started`, 1, time.Minute)
		if started < ready {
			t.Errorf("app started (line %d) before db was ready (line %d)", started, ready)
		}
		// svcctl works in a container given /run/minikit and svcctl.
		h.lineIndex(`lister: db: ready \(pid \d+\)`, 1, time.Minute)
		h.lineIndex(`lister: app +running`, 1, time.Minute)
	})

	t.Run("logs follow a live service", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var ticks []int
		err := client.Logs(ctx, "steady", 1, true, func(l control.LogLine) error {
			n, err := strconv.Atoi(strings.TrimPrefix(l.Line, "tick "))
			if err != nil {
				return fmt.Errorf("line %q", l.Line)
			}
			if ticks = append(ticks, n); len(ticks) == 4 {
				cancel()
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(ticks); i++ {
			if ticks[i] != ticks[i-1]+1 {
				t.Errorf("followed ticks %v: want consecutive lines as they come", ticks)
			}
		}
	})

	t.Run("a crash loop ends failed without disturbing the others", func(t *testing.T) {
		h.lineIndex(`service crasher failed: crash loop`, 1, 2*time.Minute)
		list, err := client.Services(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			switch s.Name {
			case "crasher":
				if s.State != control.StateFailed || s.Restarts != supervisor.CrashLoopLimit-1 {
					t.Errorf("crasher: %+v", s)
				}
			case "steady", "db", "app":
				if s.Restarts != 0 || !s.Ready {
					t.Errorf("%s was disturbed: %+v", s.Name, s)
				}
			}
		}
	})

	if code := h.stop(time.Minute); code != 0 {
		t.Errorf("init exited %d after SIGTERM", code)
	}
}

// A service writing 100 MB as fast as it can: init's memory stays under
// its bound and the log files rotate instead of filling /var.
func TestHostFloodStaysWithinBounds(t *testing.T) {
	needRoot(t)
	const total = 100 << 20
	const rssBound = 64 << 20
	rootfs := fullRootfs(t)
	tree := newTree(t)
	hostService(t, tree, rootfs, "flood",
		fmt.Sprintf("yes 'the quick brown fox jumps over the lazy dog 0123456789' | head -c %d; echo flood done", total),
		map[string]string{bundle.AnnotationRestart: "never"})
	h := startHostInit(t, tree)
	h.lineIndex(`service flood exited 0`, 1, 5*time.Minute)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", h.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(status)
	if m == nil {
		t.Fatalf("no VmHWM in\n%s", status)
	}
	peak, _ := strconv.Atoi(string(m[1]))
	t.Logf("init's peak RSS through a %d MiB flood: %d KiB", total>>20, peak)
	if peak*1024 > rssBound {
		t.Errorf("init's peak RSS is %d KiB, over its bound of %d MiB", peak, rssBound>>20)
	}

	files, _ := filepath.Glob(filepath.Join(tree, "var/log/flood.log*"))
	if len(files) != 1+logs.OldFiles {
		t.Errorf("log files %v, want flood.log and %d rotated ones", files, logs.OldFiles)
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Size() > logs.MaxFileSize {
			t.Errorf("%s: %v bytes, over %d", f, st.Size(), logs.MaxFileSize)
		}
	}
	last, _ := os.ReadFile(filepath.Join(tree, "var/log/flood.log"))
	if !bytes.HasSuffix(last, []byte("flood done\n")) { // after head -c cut a line short
		t.Errorf("flood.log does not end with the service's last line: ...%q", last[max(0, len(last)-100):])
	}
	if code := h.stop(time.Minute); code != 0 {
		t.Errorf("init exited %d after SIGTERM", code)
	}
}
