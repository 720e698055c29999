package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/testenv"
	"github.com/minikit/minikit/tools/qemu"
)

// runMinikit runs minikit with args and returns its output and exit status.
func runMinikit(t *testing.T, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	cmd := exec.Command(minikit(t), args...)
	// Should the test die, a minikit run dies with it, and its qemu too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("minikit %v: %v", args, err)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// TestRunDetachedAndStopped boots the smoke image (which runs until told
// to stop) in the background with a port forward and a disk to create,
// reads its console from the serial socket, and stops it with -stop.
func TestRunDetachedAndStopped(t *testing.T) {
	testenv.QEMU(t)
	requireQEMU(t)
	image := build(t, "smoke", "images/smoke.yml")
	state := filepath.Join(t.TempDir(), "st")
	disk := filepath.Join(t.TempDir(), "data.img")
	port := freePort(t)
	stdout, stderr, status := runMinikit(t, "run", "-detach", "-timeout", "5m", "-state", state,
		"-publish", strconv.Itoa(port)+":22", "-disk", disk+",size=16M", image)
	if status != 0 {
		t.Fatalf("minikit run -detach exited %d:\n%s%s", status, stdout, stderr)
	}
	t.Cleanup(func() {
		// Whatever happened, leave no machine behind.
		runMinikit(t, "run", "-stop", "-kill", state)
	})
	if !strings.Contains(stdout, "runs in the background") {
		t.Errorf("minikit run -detach said %q, want it to say the machine runs in the background", stdout)
	}
	for _, f := range []string{"pid", "qemu.pid", "command", "console.log", "serial.sock"} {
		if _, err := os.Stat(filepath.Join(state, f)); err != nil {
			t.Errorf("state directory: %v", err)
		}
	}
	if fi, err := os.Stat(disk); err != nil || fi.Size() != 16<<20 {
		t.Errorf("-disk %s,size=16M: %v, want a 16 MiB file", disk, err)
	}
	// qemu listens on the published port of the host, guest service or not.
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second); err != nil {
		t.Errorf("-publish %d:22: nothing listens on the host: %v", port, err)
	} else {
		c.Close()
	}
	if _, _, again := runMinikit(t, "run", "-detach", "-state", state, image); again == 0 {
		t.Error("a second machine started with the state directory of a running one")
	}

	// The serial socket carries the console.
	conn, err := net.Dial("unix", filepath.Join(state, "serial.sock"))
	if err != nil {
		t.Fatalf("serial socket: %v", err)
	}
	conn.SetReadDeadline(time.Now().Add(bootTimeout))
	lines := bufio.NewScanner(conn)
	seen := false
	for lines.Scan() {
		if strings.Contains(lines.Text(), "reader says: written by onboot") {
			seen = true
			break
		}
	}
	conn.Close()
	if !seen {
		log, _ := os.ReadFile(filepath.Join(state, "console.log"))
		t.Fatalf("the serial socket never showed the reader service (%v); console.log:\n%s", lines.Err(), tail(string(log), 40))
	}

	stdout, stderr, status = runMinikit(t, "run", "-stop", state)
	if status != 0 {
		t.Errorf("minikit run -stop exited %d, want 0 for a clean poweroff:\n%s%s", status, stdout, stderr)
	}
	var st struct {
		Status int
		Clean  bool
		Exit   string
	}
	data, err := os.ReadFile(filepath.Join(state, "status.json"))
	if err != nil {
		t.Fatalf("status.json: %v", err)
	}
	if err := json.Unmarshal(data, &st); err != nil || !st.Clean || st.Status != 0 {
		t.Errorf("status.json = %s, want a clean poweroff", data)
	}
	log, _ := os.ReadFile(filepath.Join(state, "console.log"))
	if !bytes.Contains(log, []byte("power button pressed")) {
		t.Errorf("-stop did not press the power button; console.log:\n%s", tail(string(log), 20))
	}
	if _, err := os.Stat(filepath.Join(state, "serial.sock")); err == nil {
		t.Error("the serial socket outlived the machine")
	}
	// Stopping a stopped machine reports how it ended.
	if out, _, status := runMinikit(t, "run", "-stop", state); status != 0 || !strings.Contains(out, "already stopped") {
		t.Errorf("a second -stop exited %d saying %q, want 0 and that it had already stopped", status, out)
	}
}

// TestRunExitStatusSaysHowTheGuestEnded checks the exit statuses a script
// relies on, for endings other than a clean poweroff.
func TestRunExitStatusSaysHowTheGuestEnded(t *testing.T) {
	testenv.QEMU(t)
	requireQEMU(t)
	image := build(t, "smoke", "images/smoke.yml")
	tests := []struct {
		name   string
		args   []string
		status int
		says   string
	}{
		// Without an initramfs /init the kernel looks for a root
		// filesystem it does not have, and panics.
		{"a kernel panic", []string{"-append", "rdinit=/nonexistent"}, 3, "Kernel panic"},
		{"a timeout", []string{"-timeout", "3s"}, 5, "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"run", "-console=false"}, tt.args...), image)
			_, stderr, status := runMinikit(t, args...)
			if status != tt.status || !strings.Contains(stderr, tt.says) {
				t.Errorf("minikit %s exited %d saying:\n%s\nwant status %d and %q", strings.Join(args, " "), status, stderr, tt.status, tt.says)
			}
		})
	}
}

// TestRunRefusesWhatItCannotBoot checks the errors that need no VM.
func TestRunRefusesWhatItCannotBoot(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("not an image\n"), 0o644)
	for _, tt := range []struct {
		args []string
		says string
	}{
		{[]string{"run", filepath.Join(dir, "missing")}, "give DIR/NAME"},
		{[]string{"run", text}, "neither an ISO nor a disk"},
		{[]string{"run", "-stop", dir}, "no machine is running"},
	} {
		_, stderr, status := runMinikit(t, tt.args...)
		if status != 1 || !strings.Contains(stderr, tt.says) {
			t.Errorf("minikit %v exited %d saying %q, want 1 and %q", tt.args, status, stderr, tt.says)
		}
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	port, err := qemu.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}
