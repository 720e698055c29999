package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// ErrNotInstalled is wrapped by the error Start and LookPath return when
// the qemu binary is not on this host.
var ErrNotInstalled = errors.New("qemu-system-x86_64 not found: install the Debian package qemu-system-x86")

// How long Start waits for qemu to open its QMP socket, and a QMP command
// for its reply. Generous, because a loaded CI host can be slow to exec.
const (
	startTimeout   = 30 * time.Second
	commandTimeout = 10 * time.Second
)

// LookPath finds the qemu binary (Binary when name is empty) and explains
// how to install it when it is missing.
func LookPath(name string) (string, error) {
	if name == "" {
		name = Binary
	}
	path, err := exec.LookPath(name)
	if err != nil {
		if name == Binary {
			return "", ErrNotInstalled
		}
		return "", fmt.Errorf("qemu binary %s: %w", name, err)
	}
	return path, nil
}

// VM is a running qemu process and the guest inside it.
type VM struct {
	argv    []string
	cmd     *exec.Cmd
	console *Console
	stderr  *tailBuffer
	qmp     *qmpClient
	tmpDir  string // removed after exit when non-empty

	exited  chan struct{} // qemu's process has been reaped
	waitErr error         // cmd.Wait's result, valid after exited

	mu       sync.Mutex
	shutdown *shutdownEvent // the first SHUTDOWN event, if any
	killed   ExitReason     // why we killed qemu, if we did before SHUTDOWN

	done chan struct{} // exit and err are final
	exit Exit
	err  error
}

// Start boots a VM and returns once the guest is running. Cancelling ctx,
// or its deadline passing, kills qemu (like exec.CommandContext); Wait then
// reports ExitKilled or ExitTimedOut.
func Start(ctx context.Context, opts Options) (*VM, error) {
	o, err := opts.withDefaults(hostCPUs(), KVMAvailable)
	if err != nil {
		return nil, fmt.Errorf("qemu options: %w", err)
	}
	binary, err := LookPath(o.Binary)
	if err != nil {
		return nil, err
	}
	bootFiles := []string{o.Kernel, o.Initrd, o.ISO}
	if o.BootDisk != nil {
		bootFiles = append(bootFiles, o.BootDisk.Path)
	}
	for _, f := range bootFiles {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("boot file: %w", err)
		}
	}
	var ovmfCode, ovmfVarsTemplate string
	if o.Firmware == FirmwareEFI {
		if ovmfCode, ovmfVarsTemplate, err = FindOVMF(); err != nil {
			return nil, err
		}
	}
	for _, d := range o.Disks {
		if err := d.Create(); err != nil {
			return nil, err
		}
	}

	vm := &VM{
		console: newConsole(o.ConsoleHistory),
		stderr:  &tailBuffer{max: 8 << 10},
		exited:  make(chan struct{}),
		done:    make(chan struct{}),
	}
	// A directory of our own keeps the QMP socket's path short (unix
	// socket paths are limited to 107 bytes) and private, and holds the
	// guest's UEFI variables.
	if vm.tmpDir, err = os.MkdirTemp("", "minikit-qemu-"); err != nil {
		return nil, fmt.Errorf("qemu's temporary directory: %w", err)
	}
	socket := o.QMPSocket
	if socket == "" {
		socket = filepath.Join(vm.tmpDir, "qmp.sock")
	}
	var ovmfVars string
	if o.Firmware == FirmwareEFI {
		if ovmfVars, err = copyVars(ovmfVarsTemplate, vm.tmpDir); err != nil {
			vm.removeTmp()
			return nil, err
		}
	}
	vm.argv = append([]string{o.Binary}, o.args(socket, ovmfCode, ovmfVars)...)

	if err := vm.start(binary, o); err != nil {
		vm.removeTmp()
		return nil, err
	}
	go func() {
		select {
		case <-ctx.Done():
			reason := ExitKilled
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				reason = ExitTimedOut
			}
			vm.kill(reason)
		case <-vm.exited:
		}
	}()

	startCtx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	vm.qmp, err = dialQMP(startCtx, socket, vm.exited, vm.onEvent)
	if err == nil {
		// The guest starts paused (-S) so that no SHUTDOWN event can be
		// missed; now that we listen, let it run.
		err = vm.qmp.execute(startCtx, "cont")
	}
	if err != nil {
		vm.kill(ExitFailed)
		<-vm.exited
		vm.removeTmp()
		return nil, fmt.Errorf("start qemu: %w%s\ncommand: %s", err, vm.stderrNote(), vm.CommandLine())
	}
	go vm.finish()
	slog.Debug("qemu started", "pid", vm.cmd.Process.Pid, "accel", o.Accel, "command", vm.CommandLine())
	return vm, nil
}

// start runs the qemu process with the serial console on pipes.
func (vm *VM) start(binary string, o Options) error {
	outR, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("console pipe: %w", err)
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return fmt.Errorf("console pipe: %w", err)
	}
	cmd := exec.Command(binary, vm.argv[1:]...)
	cmd.Args[0] = vm.argv[0]
	cmd.Stdin, cmd.Stdout = inR, outW
	cmd.Stderr = vm.stderr
	if o.Stderr != nil {
		cmd.Stderr = io.MultiWriter(vm.stderr, o.Stderr)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group, so a Ctrl-C at the caller's terminal does
		// not kill qemu behind the caller's back: the caller decides
		// whether to press the power button or kill.
		Setpgid: true,
		// Never outlive the program that started it.
		Pdeathsig: syscall.SIGKILL,
	}
	err = cmd.Start()
	// qemu has its copies; ours would keep the console open after it exits.
	inR.Close()
	outW.Close()
	if err != nil {
		outR.Close()
		inW.Close()
		return fmt.Errorf("run %s: %w", binary, err)
	}
	vm.cmd = cmd

	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		defer outR.Close()
		var w io.Writer = vm.console
		if o.ConsoleOutput != nil {
			w = teeWriter{vm.console, o.ConsoleOutput}
		}
		io.Copy(w, outR)
		vm.console.close()
	}()
	if o.ConsoleInput != nil {
		go io.Copy(inW, o.ConsoleInput)
	}
	go func() {
		vm.waitErr = cmd.Wait()
		// The console is complete only when qemu's stdout reached EOF.
		<-consoleDone
		inW.Close()
		close(vm.exited)
	}()
	return nil
}

// finish waits for qemu to end and records how it ended.
func (vm *VM) finish() {
	<-vm.exited
	// qemu sends SHUTDOWN before it exits; let the reader drain the
	// socket so the event is seen, but do not hang on a socket some
	// stray process might still hold.
	select {
	case <-vm.qmp.closed:
	case <-time.After(5 * time.Second):
	}
	vm.qmp.Close()
	vm.removeTmp()

	vm.mu.Lock()
	exit := classify(vm.shutdown, vm.killed, vm.cmd.ProcessState.ExitCode())
	vm.mu.Unlock()
	exit = withPanic(exit, vm.console.PanicLine())
	var err error
	if exit.Reason == ExitFailed {
		err = fmt.Errorf("qemu exited (%v) without the guest shutting down%s", vm.waitErr, vm.stderrNote())
	}
	vm.exit, vm.err = exit, err
	slog.Debug("qemu exited", "pid", vm.cmd.Process.Pid, "exit", exit.String())
	close(vm.done)
}

func (vm *VM) onEvent(e qmpEvent) {
	if e.Event != "SHUTDOWN" {
		return
	}
	var s shutdownEvent
	if err := json.Unmarshal(e.Data, &s); err != nil {
		slog.Warn("qemu SHUTDOWN event unreadable", "err", err, "data", string(e.Data))
	}
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if vm.shutdown == nil && vm.killed == ExitUnknown {
		vm.shutdown = &s
	}
}

// kill ends qemu at once. The reason is recorded only if the guest had not
// already shut down: then it is what ended the VM.
func (vm *VM) kill(reason ExitReason) {
	vm.mu.Lock()
	if vm.shutdown == nil && vm.killed == ExitUnknown {
		vm.killed = reason
	}
	vm.mu.Unlock()
	if err := vm.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		slog.Warn("kill qemu", "pid", vm.cmd.Process.Pid, "err", err)
	}
}

func (vm *VM) removeTmp() {
	if vm.tmpDir != "" {
		os.RemoveAll(vm.tmpDir)
	}
}

func (vm *VM) stderrNote() string {
	if s := vm.stderr.String(); s != "" {
		return "\nqemu said: " + s
	}
	return ""
}

// Console is the guest's serial output.
func (vm *VM) Console() *Console { return vm.console }

// Pid is the process id of qemu.
func (vm *VM) Pid() int { return vm.cmd.Process.Pid }

// CommandLine is the exact qemu command, quoted for a POSIX shell, so that
// a failure can be reproduced by hand. Its QMP socket lives in a temporary
// directory that no longer exists after the VM exits; qemu recreates it
// only if the directory is there.
func (vm *VM) CommandLine() string { return shellQuote(vm.argv) }

// Powerdown presses the ACPI power button. It returns once qemu took the
// request; the guest decides when (and whether) to power off, which Wait
// reports.
func (vm *VM) Powerdown() error {
	return vm.command("system_powerdown")
}

// Quit asks qemu to exit at once, as pulling the plug would; Wait reports
// ExitHostQuit.
func (vm *VM) Quit() error {
	err := vm.command("quit")
	if errors.Is(err, errQMPClosed) {
		// qemu may close the socket before it answers a quit.
		return nil
	}
	return err
}

// HotplugNIC plugs a network card of the given model (e1000,
// virtio-net-pci, …) into the empty root port hotplugN (Options.
// HotplugSlots) while the guest runs, on a user-mode network of its own
// named id. The guest sees a PCIe hotplug event, as on a server whose
// operator adds a card.
func (vm *VM) HotplugNIC(id, model string, slot int) error {
	if err := vm.command("netdev_add", map[string]any{"type": "user", "id": id}); err != nil {
		return err
	}
	return vm.command("device_add", map[string]any{
		"driver": model, "id": id, "netdev": id, "bus": fmt.Sprintf("hotplug%d", slot),
	})
}

// CtrlAltDel presses Ctrl-Alt-Del on the guest's keyboard.
func (vm *VM) CtrlAltDel() error {
	keys := []map[string]string{}
	for _, k := range []string{"ctrl", "alt", "delete"} {
		keys = append(keys, map[string]string{"type": "qcode", "data": k})
	}
	return vm.command("send-key", map[string]any{"keys": keys})
}

func (vm *VM) command(name string, args ...map[string]any) error {
	select {
	case <-vm.exited:
		return fmt.Errorf("qmp %s: qemu has already exited", name)
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	return vm.qmp.execute(ctx, name, args...)
}

// Kill ends qemu at once without asking the guest; Wait reports ExitKilled
// unless the guest had already shut down.
func (vm *VM) Kill() { vm.kill(ExitKilled) }

// Done is closed when the VM has stopped and Wait would not block.
func (vm *VM) Done() <-chan struct{} { return vm.done }

// Wait blocks until qemu has exited and the whole console has been read,
// and says how the VM stopped. The error is non-nil only for ExitFailed,
// with qemu's own words; every other ending is described by Exit alone.
func (vm *VM) Wait() (Exit, error) {
	<-vm.done
	return vm.exit, vm.err
}

// WaitTimeout is Wait, but kills qemu when it is still running after d and
// then reports ExitTimedOut.
func (vm *VM) WaitTimeout(d time.Duration) (Exit, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-vm.done:
	case <-timer.C:
		vm.kill(ExitTimedOut)
	}
	return vm.Wait()
}

// teeWriter feeds the console and copies to an extra writer whose errors
// are ignored: a closed terminal must not stall the guest.
type teeWriter struct {
	console *Console
	extra   io.Writer
}

func (t teeWriter) Write(p []byte) (int, error) {
	t.console.Write(p)
	t.extra.Write(p)
	return len(p), nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
