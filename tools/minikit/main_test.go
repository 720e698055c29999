package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minikit/minikit/tools/qemu"
)

// fakeRunEnv makes this test binary, when a test starts it again, play a
// process instead of running the tests:
//
//	idle    a process that only looks like something (its argv is the
//	        test's choice) and ends when its stdin closes
//	obey    minikit run whose guest powers off on the power button
//	ignore  minikit run whose guest ignores the power button
//	deaf    minikit run that no longer reacts to signals at all
//	nostart minikit run whose qemu does not start
//
// The minikit run ones go through the real state directory and
// supervision code; only qemu is replaced by a fakeVM.
const fakeRunEnv = "MINIKIT_TEST_FAKE_RUN"

func TestMain(m *testing.M) {
	switch mode := os.Getenv(fakeRunEnv); mode {
	case "":
		os.Exit(m.Run())
	case "idle":
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	default:
		status, err := fakeRun(mode, os.Args[2:])
		if err != nil {
			fmt.Fprintln(os.Stderr, "fake minikit run:", err)
			os.Exit(1)
		}
		os.Exit(status)
	}
}

// fakeRun is runMachine with a fakeVM in place of qemu.
func fakeRun(mode string, args []string) (int, error) {
	var f runFlags
	fs := newRunFlagSet(&f)
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	image := fs.Arg(0)
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	state, err := openState(f.state, image)
	if err != nil {
		return 0, err
	}
	defer state.close()
	if mode == "nostart" {
		err := errors.New("boot img: qemu-system-x86_64 not found")
		state.failed(err)
		return 0, err
	}
	vm := newFakeVM(mode == "obey")
	if mode == "deaf" {
		signal.Reset(syscall.SIGINT, syscall.SIGTERM)
		signal.Ignore(syscall.SIGINT, syscall.SIGTERM)
		if err := state.started(vm); err != nil {
			return 0, err
		}
		// Hung: only SIGKILL ends it.
		time.Sleep(24 * time.Hour)
	}
	return superviseStarted(vm, state, image, signals, f.grace)
}

// fakeVM stands in for qemu.VM: a guest that powers off on the power
// button or ignores it, and that Kill ends.
type fakeVM struct {
	obeys        bool  // the guest powers off when its power button is pressed
	powerdownErr error // what Powerdown returns: qemu did not take the request

	mu         sync.Mutex
	powerdowns int
	kills      int
	done       chan struct{}
	exit       qemu.Exit
	err        error
}

func newFakeVM(obeys bool) *fakeVM {
	return &fakeVM{obeys: obeys, done: make(chan struct{})}
}

func (v *fakeVM) Pid() int            { return os.Getpid() }
func (v *fakeVM) CommandLine() string { return "qemu-system-x86_64 -fake" }

func (v *fakeVM) Powerdown() error {
	v.mu.Lock()
	v.powerdowns++
	v.mu.Unlock()
	if v.powerdownErr != nil {
		return v.powerdownErr
	}
	if v.obeys {
		v.stop(qemu.Exit{Reason: qemu.ExitPoweroff, Shutdown: "guest-shutdown", Guest: true}, nil)
	}
	return nil
}

func (v *fakeVM) Kill() {
	v.mu.Lock()
	v.kills++
	v.mu.Unlock()
	v.stop(qemu.Exit{Reason: qemu.ExitKilled, Code: -1}, nil)
}

// stop ends the machine the way it ended first; later endings change
// nothing, as with qemu.
func (v *fakeVM) stop(e qemu.Exit, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	select {
	case <-v.done:
		return
	default:
	}
	v.exit, v.err = e, err
	close(v.done)
}

func (v *fakeVM) Done() <-chan struct{} { return v.done }

func (v *fakeVM) Wait() (qemu.Exit, error) {
	<-v.done
	return v.exit, v.err
}

func (v *fakeVM) counts() (powerdowns, kills int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.powerdowns, v.kills
}

// startIdle starts a process whose command line is argv and which does
// nothing until the test ends.
func startIdle(t *testing.T, dir string, argv ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Args = argv
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), fakeRunEnv+"=idle")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %q: %v", argv, err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	return cmd
}

// waitFor polls cond until it holds, failing the test after a deadline
// generous enough for a loaded machine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// writePid writes a pid file into the state directory dir.
func writePid(t *testing.T, dir, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, statePid), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

var errFakeQMP = errors.New("qmp system_powerdown: connection reset")
