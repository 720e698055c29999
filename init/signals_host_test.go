package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/bundle"
	"golang.org/x/sys/unix"
)

// PID 1 exiting is a kernel panic, so no signal another process sends may
// end init: neither those the Go runtime answers with a crash (ABRT, SEGV,
// BUS, FPE, ILL, TRAP, SYS, STKFLT, QUIT) nor any other that is not a
// request. Each is sent with kill(2), as `kill -ABRT 1` does, and those
// the runtime takes for faults with sigqueue(3) too; init must say it
// ignored each, and still power off cleanly when asked.
func TestSignalsSentToInitDoNotEndIt(t *testing.T) {
	rootfs := busyboxRootfs(t)
	tree := newTree(t)
	hostService(t, tree, rootfs, "sleeper", "echo up; exec sleep 1000", nil)
	h := startHostInit(t, tree)
	h.expect(`sleeper: up`, time.Minute)

	for _, sig := range sentSignals() {
		if err := syscall.Kill(h.cmd.Process.Pid, sig); err != nil {
			t.Fatalf("kill %s: %v", signalName(sig), err)
		}
		h.expect(`ignored `+regexp.QuoteMeta(signalName(sig))+`:`, time.Minute)
	}
	// sigqueue(3) lets the sender choose si_code, and the Go runtime
	// takes a SIGSEGV without SI_USER for a fault of its own.
	pidfd, err := unix.PidfdOpen(h.cmd.Process.Pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pidfd)
	for _, sig := range sentSignals()[:8] {
		info := &unix.Siginfo{Signo: int32(sig), Code: siQueue}
		if err := unix.PidfdSendSignal(pidfd, sig, info, 0); err != nil {
			t.Fatalf("sigqueue %s: %v", signalName(sig), err)
		}
		h.lineIndex(`ignored `+regexp.QuoteMeta(signalName(sig))+`:`, 2, time.Minute)
	}
	if code := h.stop(time.Minute); code != 0 {
		t.Errorf("init exited %d after SIGTERM, want 0", code)
	}
	h.expect(`service sleeper exited`, time.Minute)
}

// siQueue is the si_code of a signal sent with sigqueue(3).
const siQueue = -1

// sentSignals are the signals the test sends, those the Go runtime would
// crash on first: every signal that can be caught, but the requests
// (TERM, INT, USR2, PWR), CHLD (reaping), PIPE (init ignores it without
// a word: its own log written to a closed pipe raises it) and those the
// Go runtime and libc keep for themselves (URG, PROF, 32 to 34).
func sentSignals() []syscall.Signal {
	out := []syscall.Signal{unix.SIGABRT, unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL,
		unix.SIGTRAP, unix.SIGSYS, unix.SIGSTKFLT, unix.SIGQUIT, unix.SIGHUP}
	skip := map[syscall.Signal]bool{
		unix.SIGKILL: true, unix.SIGSTOP: true,
		unix.SIGTERM: true, unix.SIGINT: true, unix.SIGUSR2: true, unix.SIGPWR: true,
		unix.SIGCHLD: true, unix.SIGPIPE: true, unix.SIGURG: true, unix.SIGPROF: true,
		32: true, 33: true, 34: true,
	}
	for _, s := range out {
		skip[s] = true
	}
	for s := syscall.Signal(1); s <= 64; s++ {
		if !skip[s] {
			out = append(out, s)
		}
	}
	return out
}

// A poweroff asked for while onboot runs (LinuxKit's tests end their
// onboot with one) powers off once onboot is done, without starting the
// services first.
func TestPoweroffDuringOnbootStartsNoService(t *testing.T) {
	rootfs := busyboxRootfs(t)
	tree := newTree(t)
	writeBundle(t, filepath.Join(tree, bundle.OnbootDir, "000-poweroff"),
		bundleSpec(rootfs, true, nil, "/bin/sh", "-c", "echo asking; kill -USR2 1"))
	writeBundle(t, filepath.Join(tree, bundle.OnbootDir, "001-after"),
		bundleSpec(rootfs, false, nil, "/bin/sh", "-c", "echo still run"))
	hostService(t, tree, rootfs, "late", "echo late started; exec sleep 1000", nil)
	h := startHostInit(t, tree)
	select {
	case <-h.done:
	case <-time.After(time.Minute):
		t.Fatal("init did not power off within a minute of the request")
	}
	if code := h.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("init exited %d, want 0 (poweroff)", code)
	}
	h.expect(`001-after: still run`, time.Second)
	h.expect(`poweroff asked for during onboot: the services are not started`, time.Second)
	for _, l := range h.snapshot() {
		if strings.Contains(l, "late") {
			t.Errorf("the service was started: %s", l)
		}
	}
}
