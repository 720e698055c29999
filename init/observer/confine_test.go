package observer

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/init/handoff"
	"github.com/minikit/minikit/internal/observe"
	"github.com/minikit/minikit/internal/testenv"
)

// The observer, started by root with every capability as init starts
// it, keeps none but CAP_NET_BIND_SERVICE, in any of its threads, and
// can get none back.
func TestTheObserverGivesUpItsPrivileges(t *testing.T) {
	testenv.Root(t, "go")
	bin := filepath.Join(t.TempDir(), observe.ObserverName)
	build := exec.Command("go", "build", "-o", bin, "./cmd/minikit-observe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // as the Makefile and the recipe build it
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build the observer: %v\n%s", err, out)
	}
	sender, peer, err := handoff.Pair()
	if err != nil {
		t.Fatal(err)
	}
	arg, _ := json.Marshal(observe.ObserverArgs{BootID: "b"})
	cmd := &exec.Cmd{Path: bin, Args: []string{observe.ObserverName, string(arg)}, ExtraFiles: []*os.File{peer}}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		bad, read := privileged(cmd.Process.Pid)
		if read && len(bad) == 0 {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("the observer exited (%v) before giving up its privileges:\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the observer still holds privileges:\n%s", strings.Join(bad, "\n"))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sender.End(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the observer exited with %v:\n%s", err, out.String())
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatal("the observer did not end")
	}
}

// privileged lists the threads of pid that hold more than
// CAP_NET_BIND_SERVICE in their effective, permitted or bounding sets,
// any ambient or inheritable capability, or lack no_new_privs; read is
// false when a thread could not be read.
func privileged(pid int) (bad []string, read bool) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, false
	}
	want := map[string]string{
		"CapEff": "0000000000000400", "CapPrm": "0000000000000400", "CapBnd": "0000000000000400",
		"CapInh": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1",
	}
	for _, task := range tasks {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err != nil {
			return nil, false
		}
		for _, line := range strings.Split(string(status), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if w, known := want[k]; ok && known && strings.TrimSpace(v) != w {
				bad = append(bad, "thread "+task.Name()+": "+line)
			}
		}
	}
	return bad, true
}
