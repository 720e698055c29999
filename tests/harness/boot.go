package harness

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/testenv"
	"github.com/minikit/minikit/tools/qemu"
)

// RequireQEMUEnv is the environment variable that turns a skip for missing
// qemu, kernel or image into a failure.
const RequireQEMUEnv = testenv.RequireQEMUEnv

// LogsEnv names a directory where console logs are kept after the tests;
// without it they go to the test's temporary directory.
const LogsEnv = "MINIKIT_TEST_LOGS"

// cleanupMargin is kept free before the test binary's deadline so the
// cleanup can still save the console log and explain the failure before
// go test panics.
const cleanupMargin = 10 * time.Second

// Machine is a booted image under test.
type Machine struct {
	t       testing.TB
	image   string
	vm      *qemu.VM
	cancel  context.CancelFunc
	logDir  string
	hostFor map[int]int // guest TCP port -> host port

	// panicked is cancelled, with the panic line as cause, when the kernel
	// panics, so that anything waiting on the console gives up at once.
	panicked       context.Context
	reportPanic    context.CancelCauseFunc
	watcherStopped chan struct{}

	waited atomic.Bool
}

// Boot starts the image whose files are prefix-kernel, prefix-initrd.img
// and prefix-cmdline (prefix is DIR/NAME as given to minikit build -o DIR).
// It skips the test, saying why, when qemu or any of the files is missing
// or in go test -short, unless MINIKIT_REQUIRE_QEMU=1 asks for a failure
// instead.
func Boot(t testing.TB, prefix string, opts ...Option) *Machine {
	t.Helper()
	if testing.Short() {
		unavailable(t, "booting %s in qemu is not a short test", prefix)
	}
	if _, err := qemu.LookPath(""); err != nil {
		unavailable(t, "%v", err)
	}
	kernel, initrd := prefix+"-kernel", prefix+"-initrd.img"
	for _, f := range []string{kernel, initrd} {
		if _, err := os.Stat(f); err != nil {
			unavailable(t, "image %s is not built: %v", prefix, err)
		}
	}
	cmdline, err := os.ReadFile(prefix + "-cmdline")
	if err != nil {
		unavailable(t, "image %s is not built: %v", prefix, err)
	}

	var c config
	for _, o := range opts {
		o(&c)
	}
	c.qemu.Kernel, c.qemu.Initrd = kernel, initrd
	c.qemu.Cmdline = c.kernelCmdline(string(cmdline))
	// A kernel+squashfs build: its root image is a disk, after the test's.
	if root := prefix + "-squashfs.img"; fileExists(root) {
		c.qemu.Disks = append(c.qemu.Disks, qemu.Disk{Path: root, ReadOnly: true})
	}
	return start(t, prefix, c)
}

// start starts the machine c describes, named name in messages.
func start(t testing.TB, prefix string, c config) *Machine {
	t.Helper()
	hostFor := make(map[int]int)
	for _, guest := range c.forwards {
		host, err := qemu.FreePort()
		if err != nil {
			t.Fatalf("forward guest port %d: %v", guest, err)
		}
		hostFor[guest] = host
		c.qemu.Forwards = append(c.qemu.Forwards, qemu.Forward{HostPort: host, GuestPort: guest})
	}

	logDir, err := logDirectory(t)
	if err != nil {
		t.Fatalf("console log directory: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			cancel()
			ctx, cancel = context.WithDeadline(context.Background(), deadline.Add(-cleanupMargin))
		}
	}
	vm, err := qemu.Start(ctx, c.qemu)
	if err != nil {
		cancel()
		t.Fatalf("boot %s: %v", prefix, err)
	}
	m := &Machine{
		t:              t,
		image:          prefix,
		vm:             vm,
		cancel:         cancel,
		logDir:         logDir,
		hostFor:        hostFor,
		watcherStopped: make(chan struct{}),
	}
	m.panicked, m.reportPanic = context.WithCancelCause(context.Background())
	go m.watchForPanic()
	t.Cleanup(m.cleanup)
	return m
}

// unavailable skips the test, or fails it when CI demands that everything
// needed to boot is present.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	testenv.Unavailable(t, RequireQEMUEnv, format, args...)
}

// logDirectory is $MINIKIT_TEST_LOGS, or the test's temporary directory.
// Asking for the temporary directory here, before Boot registers its
// cleanup, makes the testing package remove it only after that cleanup
// wrote the log.
func logDirectory(t testing.TB) (string, error) {
	if dir := os.Getenv(LogsEnv); dir != "" {
		return dir, os.MkdirAll(dir, 0o755)
	}
	return t.TempDir(), nil
}

// HostAddr is the host address ("127.0.0.1:PORT") that reaches guestPort,
// which must have been forwarded with WithForward.
func (m *Machine) HostAddr(guestPort int) string {
	m.t.Helper()
	host, ok := m.hostFor[guestPort]
	if !ok {
		m.t.Fatalf("guest port %d was not forwarded: boot with harness.WithForward(%d)", guestPort, guestPort)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(host))
}

// VM is the qemu process behind the machine, for what the harness does not
// wrap.
func (m *Machine) VM() *qemu.VM { return m.vm }

// Lines is a snapshot of the console so far.
func (m *Machine) Lines() []string { return m.vm.Console().Lines() }

// Powerdown presses the ACPI power button. Follow it with WaitExit.
func (m *Machine) Powerdown() {
	m.t.Helper()
	if err := m.vm.Powerdown(); err != nil {
		m.t.Fatalf("press the power button of %s: %v", m.image, err)
	}
}

// WaitExit waits up to timeout for the machine to stop, killing it after
// that (then the Exit says ExitTimedOut), and reports how it stopped.
func (m *Machine) WaitExit(timeout time.Duration) qemu.Exit {
	m.t.Helper()
	m.waited.Store(true)
	exit, err := m.vm.WaitTimeout(timeout)
	if err != nil {
		m.t.Logf("%s: %v", m.image, err)
	}
	return exit
}

// Shutdown presses the power button and fails the test unless the guest
// powers itself off within timeout.
func (m *Machine) Shutdown(timeout time.Duration) {
	m.t.Helper()
	m.Powerdown()
	if exit := m.WaitExit(timeout); !exit.Clean() {
		m.t.Fatalf("%s did not power off cleanly within %v after the power button: %v\n%s",
			m.image, timeout, exit, m.tail())
	}
}

// exitedEarly explains why the console ended.
func (m *Machine) exitedEarly() error {
	exit, err := m.vm.Wait()
	if err != nil {
		return fmt.Errorf("the machine stopped (%v): %w", exit, err)
	}
	return fmt.Errorf("the machine stopped (%v)", exit)
}

func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
