package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/bundle"
)

// Many short-lived containers run one after another while orphans they
// leave behind exit around the next starts. Every container's exit status
// must reach init intact (the reaper must not steal libcontainer's
// children or the container's init), and no zombie may be left.
func TestReapingKeepsEveryExitStatus(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 50
	}
	if v, err := strconv.Atoi(os.Getenv("MINIKIT_REAP_ITERATIONS")); err == nil {
		n = v
	}
	needRoot(t)
	rootfs := busyboxRootfs(t)
	tree := newTree(t)
	for i := 0; i < n; i++ {
		script := fmt.Sprintf("for s in 1 2 3 4 5; do sleep 0.0$s%d & done; (exit 0) & exit %d", i%10, i%11)
		spec := bundleSpec(rootfs, true, nil, "/bin/sh", "-c", script)
		writeBundle(t, filepath.Join(tree, bundle.OnbootDir, fmt.Sprintf("%04d-reap", i)), spec)
	}
	h := startHostInit(t, tree)
	h.expect(`onboot done`, time.Duration(n)*time.Second)

	exits := map[string]string{}
	for _, l := range h.snapshot() {
		var name string
		var code int
		if i := strings.Index(l, "onboot "); i >= 0 {
			if _, err := fmt.Sscanf(l[i:], "onboot %s exited %d", &name, &code); err == nil {
				exits[name] = fmt.Sprint(code)
			}
		}
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%04d-reap", i)
		if got, want := exits[name], fmt.Sprint(i%11); got != want {
			t.Errorf("onboot %s exited %q, want %s", name, got, want)
		}
	}
	// Orphans that outlive their container are reaped too.
	deadline := time.Now().Add(30 * time.Second)
	z := zombiesOf(h.cmd.Process.Pid)
	for len(z) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		z = zombiesOf(h.cmd.Process.Pid)
	}
	if len(z) > 0 {
		t.Errorf("%d zombies left under init, such as %v", len(z), z[:min(len(z), 10)])
	}
	if code := h.stop(30 * time.Second); code != 0 {
		t.Errorf("init exited %d after SIGTERM, want 0", code)
	}
}

// zombiesOf lists the zombie children of pid, as seen from the host.
func zombiesOf(pid int) []int {
	var zs []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if state, ppid, ok := parseStat(stat); ok && state == 'Z' && ppid == pid {
			var child int
			fmt.Sscan(e.Name(), &child)
			zs = append(zs, child)
		}
	}
	return zs
}
