package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/bundle"
	"golang.org/x/sys/unix"
)

// PID 1 runs from a sealed memfd copy of its binary, which libcontainer
// then gives each container's init as it is, instead of copying the
// binary again at every start; a container still starts from it.
func TestHostInitRunsFromSealedCopy(t *testing.T) {
	rootfs := busyboxRootfs(t)
	tree := newTree(t)
	writeBundle(t, filepath.Join(tree, bundle.OnbootDir, "000-true"), bundleSpec(rootfs, false, nil, "/bin/true"))
	h := startHostInit(t, tree)
	h.expect(`init runs from a sealed copy of its binary copy_took=`, time.Minute)
	h.expect(`onboot 000-true exited 0`, time.Minute)

	exe := "/proc/" + strconv.Itoa(h.cmd.Process.Pid) + "/exe"
	link, err := os.Readlink(exe)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link, "/memfd:") {
		t.Errorf("PID 1 runs from %s, want a memfd", link)
	}
	f, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		t.Fatalf("F_GET_SEALS on PID 1's binary: %v", err)
	}
	const sealed = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if seals&sealed != sealed {
		t.Errorf("PID 1's binary has seals %#x, want %#x: a container could write it", seals, sealed)
	}
	// Yet ps shows the command's name, not the memfd's, for every thread.
	want := filepath.Base(h.cmd.Args[0])
	if len(want) > 15 {
		want = want[:15]
	}
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(h.cmd.Process.Pid) + "/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		comm, err := os.ReadFile("/proc/" + strconv.Itoa(h.cmd.Process.Pid) + "/task/" + task.Name() + "/comm")
		if err == nil && strings.TrimSpace(string(comm)) != want {
			t.Errorf("thread %s of PID 1 is called %q, want %q", task.Name(), strings.TrimSpace(string(comm)), want)
		}
	}
	if code := h.stop(time.Minute); code != 0 {
		t.Errorf("init exited %d", code)
	}
}
