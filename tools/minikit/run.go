package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/minikit/minikit/tools/qemu"
)

const runUsage = `Usage: minikit run [flags] DIR/NAME

Boots the image that minikit build wrote as DIR/NAME-kernel,
DIR/NAME-initrd.img and DIR/NAME-cmdline, with its serial console on this
terminal. Ctrl-C or SIGTERM presses the ACPI power button; a second one, or
the end of the grace period, kills the machine. minikit run fails unless
the guest powers itself off cleanly.

Flags:
`

// runConsoleHistory is how many console lines minikit run keeps in memory:
// it shows them on the terminal and never looks back, so a machine that
// runs for weeks must not accumulate its whole console.
const runConsoleHistory = 100

// runCommand implements "minikit run".
func runCommand(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), runUsage)
		fs.PrintDefaults()
	}
	mem := fs.Int("mem", qemu.DefaultMemoryMiB, "guest memory in `MiB`")
	cpus := fs.Int("cpus", 0, "`N` virtual CPUs (default 2, or 1 on a one-CPU host)")
	accel := fs.String("accel", string(qemu.AccelAuto), "how to run the guest: `auto|kvm|tcg`; auto uses KVM when it works")
	var forwards forwardFlags
	fs.Var(&forwards, "publish", "forward `HOST:GUEST[/tcp|udp]` from 127.0.0.1 on the host into the guest (repeatable)")
	var disks diskFlags
	fs.Var(&disks, "disk", "attach `FILE[,size=N]` as a virtio disk, created sparse with N bytes (K, M, G, T suffixes) when missing (repeatable)")
	extra := fs.String("append", "", "more kernel command line `ARGS`")
	grace := fs.Duration("grace", 30*time.Second, "how long the guest may take to power off after Ctrl-C or SIGTERM before it is killed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("want one image, DIR/NAME, got %d arguments", fs.NArg())
	}
	prefix := fs.Arg(0)
	acc, err := qemu.ParseAccel(*accel)
	if err != nil {
		return fmt.Errorf("-accel: %w", err)
	}
	cmdline, err := os.ReadFile(prefix + "-cmdline")
	if err != nil {
		return fmt.Errorf("image %s: %w (build it with minikit build -o DIR first)", prefix, err)
	}

	opts := qemu.Options{
		Kernel:         prefix + "-kernel",
		Initrd:         prefix + "-initrd.img",
		Cmdline:        strings.TrimSpace(strings.TrimSpace(string(cmdline)) + " " + *extra),
		MemoryMiB:      *mem,
		CPUs:           *cpus,
		Accel:          acc,
		Forwards:       forwards,
		Disks:          disks,
		ConsoleInput:   os.Stdin,
		ConsoleOutput:  os.Stdout,
		Stderr:         os.Stderr,
		ConsoleHistory: runConsoleHistory,
	}

	// Listen before starting: a signal between Start and Notify would kill
	// minikit and leave qemu to its parent-death signal, never powering
	// the guest off.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)

	vm, err := qemu.Start(context.Background(), opts)
	if err != nil {
		return fmt.Errorf("boot %s: %w", prefix, err)
	}
	slog.Debug("qemu running", "image", prefix, "command", vm.CommandLine())
	return superviseRun(vm, prefix, signals, *grace)
}

// superviseRun waits for the guest to stop, turning the first signal into
// the power button and the second, or the end of the grace period, into a
// kill.
func superviseRun(vm *qemu.VM, image string, signals <-chan os.Signal, grace time.Duration) error {
	var graceOver <-chan time.Time
	killedAfterGrace := false
	for {
		select {
		case <-vm.Done():
			exit, err := vm.Wait()
			switch {
			case exit.Clean():
				slog.Info("guest powered off", "image", image)
				return nil
			case killedAfterGrace:
				return fmt.Errorf("%s did not power off within %v of the power button, so it was killed", image, grace)
			case err != nil:
				return fmt.Errorf("%s did not power off cleanly: %w\nqemu command: %s", image, err, vm.CommandLine())
			}
			return fmt.Errorf("%s did not power off cleanly: %v", image, exit)
		case sig := <-signals:
			if graceOver != nil {
				slog.Warn("second signal: killing the guest", "image", image, "signal", sig.String())
				vm.Kill()
				continue
			}
			slog.Info("pressing the power button", "image", image, "signal", sig.String(), "grace", grace)
			if err := vm.Powerdown(); err != nil {
				slog.Warn("power button failed, killing the guest", "image", image, "err", err)
				vm.Kill()
			}
			graceOver = time.After(grace)
		case <-graceOver:
			killedAfterGrace = true
			vm.Kill()
		}
	}
}

// forwardFlags collects repeated -publish flags.
type forwardFlags []qemu.Forward

func (f *forwardFlags) String() string {
	var s []string
	for _, fw := range *f {
		s = append(s, fw.String())
	}
	return strings.Join(s, " ")
}

func (f *forwardFlags) Set(value string) error {
	fw, err := qemu.ParseForward(value)
	if err != nil {
		return err
	}
	*f = append(*f, fw)
	return nil
}

// diskFlags collects repeated -disk flags.
type diskFlags []qemu.Disk

func (d *diskFlags) String() string {
	var s []string
	for _, disk := range *d {
		s = append(s, disk.Path)
	}
	return strings.Join(s, " ")
}

func (d *diskFlags) Set(value string) error {
	disk, err := qemu.ParseDisk(value)
	if err != nil {
		return err
	}
	*d = append(*d, disk)
	return nil
}
