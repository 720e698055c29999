package main

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minikit/minikit/tools/qemu"
)

// stateFiles lists the files of a state directory, temporary ones
// included.
func stateFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func readStatus(t *testing.T, dir string) runStatus {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, stateStatus))
	if err != nil {
		t.Fatal(err)
	}
	var st runStatus
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("%s is not JSON: %v\n%s", stateStatus, err, data)
	}
	return st
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestStateDirectoryLifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m.state")
	// What a previous machine left behind must not be taken for this one's.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{stateQEMUPid, stateCommand, stateStatus, stateConsole} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writePid(t, dir, "1\n")

	s, err := openState(dir, "out/smoke")
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, statePid)); got != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("pid file %q, want this process's pid", got)
	}
	if got := stateFiles(t, dir); !slices.Equal(got, []string{stateConsole, statePid, stateSerial}) {
		t.Errorf("a fresh state directory holds %q", got)
	}
	if got := readFile(t, filepath.Join(dir, stateConsole)); got != "" {
		t.Errorf("the console log starts with the old machine's %q", got)
	}
	if fi, err := os.Stat(filepath.Join(dir, stateSerial)); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("%s is not a socket: %v", stateSerial, err)
	}

	vm := newFakeVM(true)
	if err := s.started(vm); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, stateQEMUPid)); got != strconv.Itoa(vm.Pid())+"\n" {
		t.Errorf("qemu.pid %q, want %d", got, vm.Pid())
	}
	if got := readFile(t, filepath.Join(dir, stateCommand)); got != vm.CommandLine()+"\n" {
		t.Errorf("command %q, want %q", got, vm.CommandLine())
	}

	before := time.Now().UTC().Add(-time.Second)
	s.stopped(qemu.Exit{Reason: qemu.ExitReset, Panic: "Kernel panic - not syncing: oops\n"}, statusPanic, nil)
	st := readStatus(t, dir)
	if st.Image != "out/smoke" || st.Status != statusPanic || st.Clean || st.Exit != "guest reset: Kernel panic - not syncing: oops" ||
		st.Panic != "Kernel panic - not syncing: oops\n" || st.Error != "" || st.Stopped.Before(before) {
		t.Errorf("status.json after a panic: %+v", st)
	}
	// A second record replaces the first whole.
	s.stopped(qemu.Exit{Reason: qemu.ExitFailed, Code: 1}, statusQEMUFailed, errors.New("qemu said no"))
	st = readStatus(t, dir)
	if st.Status != statusQEMUFailed || st.Clean || st.Panic != "" || st.Error != "qemu said no" || st.Exit != "qemu failed: exit code 1" {
		t.Errorf("status.json after qemu failed: %+v", st)
	}
	s.close()
	// Every file was replaced by a rename: no temporary file is left, and
	// the socket goes with the machine.
	want := []string{stateCommand, stateConsole, statePid, stateQEMUPid, stateStatus}
	if got := stateFiles(t, dir); !slices.Equal(got, want) {
		t.Errorf("after the machine stopped the state directory holds %q, want %q", got, want)
	}
}

func TestStatusJSON(t *testing.T) {
	dir := t.TempDir()
	s := &runState{dir: dir, image: "my.iso"}
	s.stopped(qemu.Exit{Reason: qemu.ExitPoweroff, Shutdown: "guest-shutdown", Guest: true}, statusPoweroff, nil)
	var fields map[string]any
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, stateStatus))), &fields); err != nil {
		t.Fatal(err)
	}
	// The keys scripts read; panic and error only when there is one.
	for _, k := range []string{"image", "status", "clean", "exit", "stopped"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("status.json lacks %q: %v", k, fields)
		}
	}
	for _, k := range []string{"panic", "error"} {
		if _, ok := fields[k]; ok {
			t.Errorf("status.json of a clean poweroff has %q: %v", k, fields)
		}
	}
	if fields["image"] != "my.iso" || fields["status"] != float64(0) || fields["clean"] != true || fields["exit"] != "guest powered off (guest-shutdown)" {
		t.Errorf("status.json = %v", fields)
	}
	if _, err := time.Parse(time.RFC3339Nano, fields["stopped"].(string)); err != nil {
		t.Errorf("stopped: %v", err)
	}
}

func TestStateFailedReportsToTheParent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m.state")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// openState takes the descriptor over and closes it: give it one of
	// its own.
	fd, err := syscall.Dup(int(w.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Setenv(readyFDEnv, strconv.Itoa(fd))
	s, err := openState(dir, "img")
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if os.Getenv(readyFDEnv) != "" {
		t.Errorf("%s is left for qemu and other children to see", readyFDEnv)
	}
	s.failed(errors.New("boot img: qemu-system-x86_64 not found"))
	// The report is one line and the pipe is closed after it.
	var got []byte
	buf := make([]byte, 512)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	if string(got) != "error: boot img: qemu-system-x86_64 not found\n" {
		t.Errorf("the parent read %q", got)
	}
	if st := readStatus(t, dir); st.Status != 1 || st.Exit != "did not start" || st.Error != "boot img: qemu-system-x86_64 not found" {
		t.Errorf("status.json = %+v", st)
	}
}

func TestOpenStateRefusesARunningMachine(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m.state")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	other := startIdle(t, dir, "minikit", "run", "-state", dir, "-console=false", "img")
	writePid(t, dir, strconv.Itoa(other.Process.Pid)+"\n")
	// On a loaded machine /proc may not show the new process as it will
	// be for a moment: wait until it does, then ask.
	waitFor(t, "the other machine to show in /proc", func() bool {
		_, ok := runningPid(dir)
		return ok
	})
	_, err := openState(dir, "img")
	if err == nil || !strings.Contains(err.Error(), "a machine already runs with state directory "+dir) {
		t.Fatalf("openState while another machine runs: %v", err)
	}
	if got := readFile(t, filepath.Join(dir, statePid)); got != strconv.Itoa(other.Process.Pid)+"\n" {
		t.Errorf("the running machine's pid file was replaced by %q", got)
	}
}

func TestOpenStateSocketPathTooLong(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	_, err := openState(dir, "img")
	if err == nil || !strings.Contains(err.Error(), "choose a shorter -state") {
		t.Errorf("openState with a %d-byte socket path: %v", len(dir)+len(stateSerial)+1, err)
	}
}

func TestRunningPid(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "m.state")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if pid, ok := runningPid(dir); ok {
		t.Errorf("no pid file: running pid %d", pid)
	}
	for _, garbage := range []string{"", "\n", "not a pid\n", "12abc\n", "0\n", "-1\n", "99999999999999999999\n"} {
		writePid(t, dir, garbage)
		if pid, ok := runningPid(dir); ok {
			t.Errorf("pid file %q: running pid %d", garbage, pid)
		}
	}

	live := startIdle(t, root, "minikit", "run", "-state", dir, "-console=false", "-grace", "1m", "img")
	relative := startIdle(t, root, "minikit", "run", "-state=m.state", "img")
	tests := []struct {
		name string
		pid  int
		want bool
	}{
		{"minikit run of this directory", live.Process.Pid, true},
		{"minikit run of this directory, named from its working directory", relative.Process.Pid, true},
		{"a pid reused by an unrelated process", startIdle(t, root, "sleep", "1000").Process.Pid, false},
		{"a pid reused by this test", os.Getpid(), false},
		{"a process that is gone", exitedPid(t), false},
		{"minikit run of another directory of the same name",
			startIdle(t, root, "minikit", "run", "-state", filepath.Join(root, "other", "m.state"), "img").Process.Pid, false},
		{"the foreground half of minikit run -detach",
			startIdle(t, root, "minikit", "run", "-detach", "-state", dir, "img").Process.Pid, false},
		{"minikit run -stop of this directory",
			startIdle(t, root, "minikit", "run", "-stop", dir).Process.Pid, false},
		{"another command that names this directory",
			startIdle(t, root, "tail", "-f", filepath.Join(dir, stateConsole), "run").Process.Pid, false},
		{"minikit run whose image has the directory's name",
			startIdle(t, root, "minikit", "run", "-state", filepath.Join(root, "x"), filepath.Join(root, "m.state")).Process.Pid, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writePid(t, dir, strconv.Itoa(tt.pid)+"\n")
			pid, ok := runningPid(dir)
			if ok != tt.want || (ok && pid != tt.pid) {
				t.Errorf("runningPid = %d, %v; want %d, %v", pid, ok, tt.pid, tt.want)
			}
		})
	}
}

// exitedPid is the pid of a process that has ended and been reaped.
func exitedPid(t *testing.T) int {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, err := os.StartProcess(self, []string{"minikit", "run", "-state", "m.state", "img"}, &os.ProcAttr{
		Env: append(os.Environ(), fakeRunEnv+"=idle"),
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Wait()
	return p.Pid
}

// detachFake starts a fake minikit run the way minikit run -detach starts
// the real one, and returns its state directory once the machine runs.
func detachFake(t *testing.T, mode string, flags ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "m.state")
	t.Setenv(fakeRunEnv, mode)
	args := append([]string{"-detach"}, flags...)
	args = append(args, "img")
	if err := detach(args, "img", dir); err != nil {
		t.Fatalf("detach: %v", err)
	}
	t.Cleanup(func() {
		if pid, ok := runningPid(dir); ok {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	if _, ok := runningPid(dir); !ok {
		t.Fatalf("detach returned, but no machine runs in %s", dir)
	}
	return dir
}

func TestDetachRefusesARunningMachine(t *testing.T) {
	dir := detachFake(t, "obey")
	err := detach([]string{"-detach", "img"}, "img", dir)
	if err == nil || !strings.Contains(err.Error(), "a machine already runs with state directory") {
		t.Errorf("a second detach on the same state directory: %v", err)
	}
}

func TestDetachReportsAFailedStart(t *testing.T) {
	err := detachFails(t, "nostart", filepath.Join(t.TempDir(), "m.state"))
	if err == nil || err.Error() != "boot img: qemu-system-x86_64 not found" {
		t.Errorf("detach of a machine whose qemu does not start: %v", err)
	}
}

func TestDetachReportsAnEarlyEnd(t *testing.T) {
	// The background minikit run fails before it can report: its serial
	// socket's path is too long. What it said is in its log.
	err := detachFails(t, "obey", filepath.Join(t.TempDir(), strings.Repeat("d", 100)))
	for _, want := range []string{"minikit run in the background ended before the machine started", "choose a shorter -state"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("detach of a minikit run that ends early: %v, want it to contain %q", err, want)
		}
	}
}

func detachFails(t *testing.T, mode, dir string) error {
	t.Helper()
	t.Setenv(fakeRunEnv, mode)
	err := detach([]string{"-detach", "img"}, "img", dir)
	// It reports before it ends; the next minikit run must then find the
	// state directory free.
	waitFor(t, "the background minikit run to end", func() bool {
		_, ok := runningPid(dir)
		return !ok
	})
	return err
}

func TestStopMachine(t *testing.T) {
	tests := []struct {
		name   string
		mode   string
		flags  []string
		kill   bool
		status int
		exit   string
	}{
		{"the guest powers off on the power button", "obey", nil, false, statusPoweroff, "guest powered off (guest-shutdown)"},
		{"a guest that ignores the power button is killed after the grace", "ignore", []string{"-grace", "10ms"}, false, statusKilled, "killed"},
		{"-kill kills at once", "ignore", []string{"-grace", "1h"}, true, statusKilled, "killed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := detachFake(t, tt.mode, tt.flags...)
			status, err := stopMachine(dir, tt.kill, time.Minute)
			if err != nil {
				t.Fatalf("stopMachine: %v", err)
			}
			if status != tt.status {
				t.Errorf("status %d, want %d", status, tt.status)
			}
			if st := readStatus(t, dir); st.Exit != tt.exit || st.Status != tt.status {
				t.Errorf("status.json %+v, want exit %q", st, tt.exit)
			}
			if _, ok := runningPid(dir); ok {
				t.Error("the machine still runs")
			}
			if _, err := os.Stat(filepath.Join(dir, stateSerial)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the serial socket outlived the machine: %v", err)
			}
			// Stopping it again tells how it stopped, without waiting.
			again, err := stopMachine(dir, false, 0)
			if err != nil || again != tt.status {
				t.Errorf("stopMachine of a stopped machine = %d, %v; want %d", again, err, tt.status)
			}
		})
	}
}

func TestStopMachineNothingThere(t *testing.T) {
	dir := t.TempDir()
	if _, err := stopMachine(dir, false, time.Minute); !errors.Is(err, errNotRunning) {
		t.Errorf("stopMachine of an empty directory: %v, want %v", err, errNotRunning)
	}
	writePid(t, dir, strconv.Itoa(os.Getpid()))
	if _, err := stopMachine(dir, false, time.Minute); !errors.Is(err, errNotRunning) {
		t.Errorf("stopMachine with a stale pid file: %v, want %v", err, errNotRunning)
	}
}

func TestDetachedSerialSocket(t *testing.T) {
	dir := detachFake(t, "obey")
	c, err := net.Dial("unix", filepath.Join(dir, stateSerial))
	if err != nil {
		t.Fatalf("connect to the serial socket: %v", err)
	}
	defer c.Close()
	if _, err := stopMachine(dir, false, time.Minute); err != nil {
		t.Fatal(err)
	}
	// The machine's end closes every client's connection.
	buf := make([]byte, 1)
	if _, err := c.Read(buf); err == nil {
		t.Error("the serial socket's client is still connected after the machine stopped")
	}
}

func TestStopMachineKillsAMinikitRunThatDoesNotStop(t *testing.T) {
	dir := detachFake(t, "deaf")
	// It never stops by itself: how long to wait only decides how soon it
	// is killed.
	status, err := stopMachine(dir, false, 10*time.Millisecond)
	if err != nil {
		t.Fatalf("stopMachine: %v", err)
	}
	if status != statusKilled {
		t.Errorf("status %d, want %d", status, statusKilled)
	}
	if _, ok := runningPid(dir); ok {
		t.Error("the machine still runs")
	}
	st := readStatus(t, dir)
	if st.Status != statusKilled || st.Image != "img" || !strings.HasPrefix(st.Exit, "killed: minikit run did not stop within") {
		t.Errorf("status.json %+v", st)
	}
}
