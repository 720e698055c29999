package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/control"
	"golang.org/x/sys/unix"
)

// A console that takes nothing, as a serial line stopped with Ctrl-S
// does, holds up nothing of init's: it boots, supervises, serves its
// control API and powers off when asked, its log kept in /var/log. The
// console here is a pipe filled before init starts and never read while
// it runs, so every write to it would block.
func TestAConsoleThatTakesNothingHoldsUpNothing(t *testing.T) {
	rootfs := busyboxRootfs(t)
	tree := newTree(t)
	hostService(t, tree, rootfs, "sleeper", "echo up; exec sleep 1000", nil)
	console := stoppedConsole(t)

	cmd := hostInitCommand(t, tree)
	cmd.Stdout, cmd.Stderr = console, console
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	initLog := filepath.Join(tree, "var/log/init.log")
	eventually(t, "init logs that sleeper started", func() bool { return fileHas(initLog, "service sleeper started") })
	eventually(t, "sleeper's output reaches its log", func() bool {
		return fileHas(filepath.Join(tree, "var/log/sleeper.log"), "] up\n")
	})
	client := control.NewClient(filepath.Join(tree, ControlSocket))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	svc, err := client.Service(ctx, "sleeper")
	if err != nil || svc.State != control.StateRunning {
		t.Errorf("the control API says sleeper is %q (err %v), want running", svc.State, err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if cmd.ProcessState == nil {
			t.Fatal(waitErr)
		}
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("init exited %d after SIGTERM, want 0", code)
		}
	case <-time.After(time.Minute): // a hang guard, not a measure
		t.Fatal("init did not power off within a minute of SIGTERM: it waits for the console")
	}
	if !fileHas(initLog, "shutdown: poweroff now") {
		t.Errorf("init.log does not end with the shutdown:\n%s", readFile(initLog))
	}
}

// stoppedConsole is the write end of a pipe that is full: a write to it
// blocks until the test ends, when the read end is drained.
func stoppedConsole(t *testing.T) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	fd := int(w.Fd())
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, 4096); err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 512)
	for {
		if _, err := unix.Write(fd, chunk); errors.Is(err, unix.EAGAIN) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		t.Fatal(err)
	}
	return w
}

func fileHas(path, s string) bool { return strings.Contains(readFile(path), s) }

// eventually waits, with a generous deadline, until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("within a minute: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Once onboot is done and the services are handed to the supervisor,
// init shows the system's /etc/issue on the console, as LinuxKit's init
// does, line by line as the file has it.
func TestHostIssueIsShownOnceTheSystemIsUp(t *testing.T) {
	rootfs := busyboxRootfs(t)
	tree := newTree(t)
	if err := os.MkdirAll(filepath.Join(tree, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, issueFile), []byte("\nWelcome to the test system\n  second line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostService(t, tree, rootfs, "sleeper", "trap 'exit 0' TERM; while true; do sleep 1; done", nil)
	h := startHostInit(t, tree)
	onboot := h.lineIndex(`onboot done`, 1, time.Minute)
	welcome := h.lineIndex(`^Welcome to the test system$`, 1, time.Minute)
	if welcome < onboot {
		t.Errorf("the issue (line %d) was shown before onboot was done (line %d)", welcome, onboot)
	}
	h.lineIndex(`service sleeper started`, 1, time.Minute)
	if lines := h.snapshot(); welcome+1 >= len(lines) || lines[welcome+1] != "  second line" || lines[welcome-1] != "" {
		t.Errorf("the issue is not shown as the file has it:\n%s", strings.Join(lines[max(0, welcome-1):min(len(lines), welcome+2)], "\n"))
	}
	if code := h.stop(time.Minute); code != 0 {
		t.Errorf("init exited %d after SIGTERM", code)
	}
}
