package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/minikit/minikit/internal/atomicfile"
	"github.com/minikit/minikit/tools/qemu"
)

// The files of a machine's state directory.
const (
	statePid     = "pid"      // minikit run's process, the one to signal
	stateQEMUPid = "qemu.pid" // qemu's process
	stateCommand = "command"  // qemu's command line, ready for a shell
	stateConsole = "console.log"
	stateSerial  = "serial.sock"
	stateStatus  = "status.json" // written when the machine stopped
	stateLog     = "minikit.log" // a detached minikit run's own messages
)

// readyFDEnv tells a detached minikit run which file descriptor to report
// on, once, whether the machine started ("ok") or why not.
const readyFDEnv = "MINIKIT_RUN_READY_FD"

// runStatus is status.json: how the machine stopped.
type runStatus struct {
	Image   string    `json:"image"`
	Status  int       `json:"status"` // minikit run's exit status
	Clean   bool      `json:"clean"`  // the guest powered off by itself
	Exit    string    `json:"exit"`   // how it stopped, in words
	Panic   string    `json:"panic,omitempty"`
	Error   string    `json:"error,omitempty"`
	Stopped time.Time `json:"stopped"`
}

// runState is the state directory of a running machine.
type runState struct {
	dir     string
	image   string
	console *os.File
	serial  net.Listener
	hub     *serialHub
	ready   *os.File // a detached run's report to its parent, or nil
}

// openState takes over the state directory dir for a machine about to
// boot image, refusing it while another machine runs there.
func openState(dir, image string) (*runState, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if pid, ok := runningPid(dir); ok {
		return nil, fmt.Errorf("a machine already runs with state directory %s (pid %d): stop it with minikit run -stop %s", dir, pid, dir)
	}
	for _, f := range []string{stateQEMUPid, stateCommand, stateSerial, stateStatus} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("state directory: %w", err)
		}
	}
	s := &runState{dir: dir, image: image, hub: newSerialHub()}
	if fd, err := strconv.Atoi(os.Getenv(readyFDEnv)); err == nil {
		s.ready = os.NewFile(uintptr(fd), "ready")
		os.Unsetenv(readyFDEnv)
	}
	if err := atomicfile.Write(filepath.Join(dir, statePid), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return nil, err
	}
	var err error
	if s.console, err = os.Create(filepath.Join(dir, stateConsole)); err != nil {
		return nil, fmt.Errorf("console log: %w", err)
	}
	sock := filepath.Join(dir, stateSerial)
	if s.serial, err = net.Listen("unix", sock); err != nil {
		s.console.Close()
		return nil, fmt.Errorf("serial socket %s: %w (a unix socket path must be under 108 bytes: choose a shorter -state)", sock, err)
	}
	return s, nil
}

// serveSerial lets clients of serial.sock read the console and type into
// it; what they type goes to input.
func (s *runState) serveSerial(input io.Writer) {
	s.hub.input = input
	go s.hub.serve(s.serial)
}

// started records the running machine and tells a waiting parent.
func (s *runState) started(vm machine) error {
	if err := atomicfile.Write(filepath.Join(s.dir, stateQEMUPid), []byte(strconv.Itoa(vm.Pid())+"\n"), 0o644); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(s.dir, stateCommand), []byte(vm.CommandLine()+"\n"), 0o644); err != nil {
		return err
	}
	s.report("ok")
	return nil
}

// failed tells a waiting parent why the machine did not start.
func (s *runState) failed(err error) {
	s.record(runStatus{Status: 1, Exit: "did not start", Error: err.Error()})
	s.report("error: " + err.Error())
}

// stopped records how the machine stopped.
func (s *runState) stopped(exit qemu.Exit, status int, err error) {
	st := runStatus{Status: status, Clean: exit.Clean(), Exit: exit.String(), Panic: exit.Panic}
	if err != nil {
		st.Error = err.Error()
	}
	s.record(st)
}

func (s *runState) record(st runStatus) {
	st.Image, st.Stopped = s.image, time.Now().UTC()
	data, _ := json.MarshalIndent(st, "", "  ")
	if err := atomicfile.Write(filepath.Join(s.dir, stateStatus), []byte(string(data)+"\n"), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "minikit run: %v\n", err)
	}
}

func (s *runState) report(msg string) {
	if s.ready == nil {
		return
	}
	fmt.Fprintln(s.ready, msg)
	s.ready.Close()
	s.ready = nil
}

func (s *runState) close() {
	s.serial.Close() // removes the socket file
	s.hub.closeAll()
	s.console.Close()
}

// runningPid returns the pid of the minikit run that keeps dir, if it
// still runs. A pid file alone proves nothing after a crash or a reboot,
// so the process must exist and be a minikit run with this directory.
func runningPid(dir string) (int, bool) {
	data, err := os.ReadFile(filepath.Join(dir, statePid))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	if _, ok := keepsState(pid, dir); !ok {
		return 0, false
	}
	return pid, true
}

// keepsState reports whether process pid is a minikit run whose -state is
// dir, and which image it boots. Its command line is read with minikit
// run's own flags, so that a directory merely named on it (an image,
// -stop, another program's argument) or another directory of the same
// name does not count; a relative -state is resolved in the process's
// working directory.
func keepsState(pid int, dir string) (image string, ok bool) {
	proc := filepath.Join("/proc", strconv.Itoa(pid))
	cmdline, err := os.ReadFile(filepath.Join(proc, "cmdline"))
	if err != nil {
		return "", false
	}
	args := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
	if len(args) < 2 || args[1] != "run" {
		return "", false
	}
	var f runFlags
	fs := newRunFlagSet(&f)
	fs.SetOutput(io.Discard)
	// The foreground half of -detach and -stop name the directory but do
	// not keep it.
	if fs.Parse(args[2:]) != nil || f.state == "" || f.detach || f.stop {
		return "", false
	}
	state := f.state
	if !filepath.IsAbs(state) {
		cwd, err := os.Readlink(filepath.Join(proc, "cwd"))
		if err != nil {
			return "", false
		}
		state = filepath.Join(cwd, state)
	}
	theirs, err := os.Stat(state)
	if err != nil {
		return "", false
	}
	ours, err := os.Stat(dir)
	if err != nil || !os.SameFile(theirs, ours) {
		return "", false
	}
	return fs.Arg(0), true
}

// detach starts this minikit run again in the background, in a session of
// its own with its state in stateDir, and returns once the machine runs or
// failed to start.
func detach(args []string, image, stateDir string) error {
	if stateDir == "" {
		stateDir = defaultStateDir(image)
	}
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	if pid, ok := runningPid(abs); ok {
		return fmt.Errorf("a machine already runs with state directory %s (pid %d): stop it with minikit run -stop %s", stateDir, pid, stateDir)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// The same flags, without -detach, with the state directory and
	// without a terminal to show the console on.
	childArgs := []string{"run", "-state", abs, "-console=false"}
	for _, a := range args {
		switch strings.TrimLeft(a, "-") {
		case "detach", "detach=true", "detach=1":
			continue
		}
		childArgs = append(childArgs, a)
	}
	log, err := os.Create(filepath.Join(abs, stateLog))
	if err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	defer log.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer readyR.Close()
	cmd := exec.Command(self, childArgs...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.ExtraFiles = []*os.File{readyW} // fd 3
	cmd.Env = append(os.Environ(), readyFDEnv+"=3")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		readyW.Close()
		return fmt.Errorf("start minikit run in the background: %w", err)
	}
	readyW.Close()
	pid := cmd.Process.Pid
	cmd.Process.Release()
	line, err := bufio.NewReader(readyR).ReadString('\n')
	line = strings.TrimSpace(line)
	switch {
	case line == "ok":
		fmt.Printf("%s runs in the background (pid %d); state in %s\n", image, pid, stateDir)
		fmt.Printf("console: %s, stop: minikit run -stop %s\n", filepath.Join(stateDir, stateConsole), stateDir)
		return nil
	case strings.HasPrefix(line, "error: "):
		return errors.New(strings.TrimPrefix(line, "error: "))
	}
	logged, _ := os.ReadFile(filepath.Join(abs, stateLog))
	return fmt.Errorf("minikit run in the background ended before the machine started (%v):\n%s", err, logged)
}

// killWait is how long stopMachine waits for a minikit run it sent
// SIGKILL to disappear.
const killWait = 30 * time.Second

// stopMachine stops the machine detached with state directory dir: it
// signals that minikit run, which presses the power button (or, with kill,
// kills the machine), waits up to wait for it to end and returns the
// status it recorded. A minikit run that still runs then no longer answers
// its signals: it is killed, and qemu with it (qemu has minikit run's
// death for its parent-death signal).
func stopMachine(dir string, kill bool, wait time.Duration) (int, error) {
	pid, running := runningPid(dir)
	if running {
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			return 0, fmt.Errorf("stop the machine of %s (pid %d): %w", dir, pid, err)
		}
		if kill {
			// The second signal kills the machine at once. It must be
			// another signal: two SIGTERMs sent together can arrive as one.
			syscall.Kill(pid, syscall.SIGINT)
		}
		if !waitStopped(dir, wait) {
			if image, still := keepsState(pid, dir); still {
				return killMachine(dir, pid, image, wait)
			}
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, stateStatus))
	if errors.Is(err, fs.ErrNotExist) {
		if running {
			return 0, fmt.Errorf("the machine of %s stopped without recording how (see %s)", dir, filepath.Join(dir, stateLog))
		}
		return 0, fmt.Errorf("%s: %w", dir, errNotRunning)
	}
	if err != nil {
		return 0, err
	}
	var st runStatus
	if err := json.Unmarshal(data, &st); err != nil {
		return 0, fmt.Errorf("%s: %w", filepath.Join(dir, stateStatus), err)
	}
	if !running {
		fmt.Printf("%s had already stopped: %s\n", st.Image, st.Exit)
	} else {
		fmt.Printf("%s stopped: %s\n", st.Image, st.Exit)
	}
	if st.Error != "" {
		fmt.Fprintln(os.Stderr, "minikit run:", st.Error)
	}
	return st.Status, nil
}

// waitStopped reports whether the minikit run keeping dir ended within
// wait.
func waitStopped(dir string, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for {
		if _, still := runningPid(dir); !still {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// killMachine kills the minikit run pid that did not stop within wait of
// being asked, and records that it was killed, since it cannot.
func killMachine(dir string, pid int, image string, wait time.Duration) (int, error) {
	slog.Warn("minikit run did not stop: killing it and its machine", "state", dir, "pid", pid, "waited", wait)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return 0, fmt.Errorf("kill the machine of %s (pid %d): %w", dir, pid, err)
	}
	if !waitStopped(dir, killWait) {
		return 0, fmt.Errorf("the machine of %s (pid %d) still runs %v after it was killed", dir, pid, killWait)
	}
	st := runStatus{
		Status: statusKilled,
		Exit:   fmt.Sprintf("killed: minikit run did not stop within %v of minikit run -stop", wait),
	}
	(&runState{dir: dir, image: image}).record(st)
	fmt.Printf("%s stopped: %s\n", image, st.Exit)
	return statusKilled, nil
}
