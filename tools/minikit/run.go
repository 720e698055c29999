package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/minikit/minikit/internal/sourcedate"
	"github.com/minikit/minikit/tools/diskimage"
	"github.com/minikit/minikit/tools/qemu"
)

const runUsage = `Usage: minikit run [flags] IMAGE
       minikit run -stop [-kill] STATEDIR

Boots IMAGE in qemu: DIR/NAME as minikit build -o DIR wrote it
(NAME-kernel, NAME-initrd.img, NAME-cmdline, and NAME-squashfs.img if
there), or an ISO or disk image it wrote (-format iso-bios, iso-efi,
iso-efi-initrd, raw-bios, raw-efi, qcow2-bios, qcow2-efi, aws, vhd, vmdk),
whose firmware, BIOS or UEFI, is read from the image. A disk image boots
as a snapshot: the file is never changed, unless -persist makes it a
machine's own disk, which keeps what the guest writes (an update) and
reboots inside the machine.

The serial console is on this terminal. Ctrl-C or SIGTERM presses the ACPI
power button; a second one, or the end of the grace period, kills the
machine.

With -detach, minikit run starts the machine in the background and
returns once it runs. Its state directory (-state, default IMAGE.state)
holds pid, qemu.pid, command (qemu's command line), console.log,
serial.sock (the console: socat -,raw,echo=0 UNIX-CONNECT:DIR/serial.sock)
and, once it stopped, status.json. minikit run -stop DIR presses its power
button, waits for it to stop and exits as minikit run would have; a
minikit run that has not stopped after -grace and 30 s more is killed.

Exit status: 0 the guest powered off cleanly; 1 minikit could not run it;
3 the kernel panicked; 4 the guest rebooted; 5 -timeout ran out; 6 the
machine was killed (after the grace period, a second signal, or qemu was
told to quit); 7 qemu failed.

Flags:
`

// runConsoleHistory is how many console lines minikit run keeps in memory:
// it shows them on the terminal and never looks back, so a machine that
// runs for weeks must not accumulate its whole console.
const runConsoleHistory = 100

// Exit statuses of minikit run, so that a script can tell how the guest
// ended. 1 is every error of minikit itself, 2 a usage error.
const (
	statusPoweroff   = 0
	statusPanic      = 3
	statusReset      = 4
	statusTimeout    = 5
	statusKilled     = 6
	statusQEMUFailed = 7
)

// statusOf is the exit status for how a machine stopped. A kernel panic
// is the story whatever ended qemu after it: a reset for panic=N, or a
// hang killed at the timeout.
func statusOf(e qemu.Exit) int {
	if e.Panicked() && !e.Clean() {
		return statusPanic
	}
	switch e.Reason {
	case qemu.ExitPoweroff:
		return statusPoweroff
	case qemu.ExitReset:
		return statusReset
	case qemu.ExitTimedOut:
		return statusTimeout
	case qemu.ExitKilled, qemu.ExitHostQuit:
		return statusKilled
	}
	return statusQEMUFailed
}

// runFlags are minikit run's flags.
type runFlags struct {
	mem, cpus       int
	accel, firmware string
	forwards        forwardFlags
	disks           diskFlags
	extra           string
	grace, timeout  time.Duration
	console         bool
	detach, stop    bool
	kill            bool
	state           string
	data, dataFile  string
	persist         bool
}

// newRunFlagSet defines minikit run's flags into f. runningPid reads a
// running machine's command line with it too, so both agree on the flags.
func newRunFlagSet(f *runFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), runUsage)
		fs.PrintDefaults()
	}
	fs.IntVar(&f.mem, "mem", qemu.DefaultMemoryMiB, "guest memory in `MiB`")
	fs.IntVar(&f.cpus, "cpus", 0, "`N` virtual CPUs (default 2, or 1 on a one-CPU host)")
	fs.StringVar(&f.accel, "accel", string(qemu.AccelAuto), "how to run the guest: `auto|kvm|tcg`; auto uses KVM when it works")
	fs.StringVar(&f.firmware, "firmware", "auto", "`auto|bios|efi`: auto reads it from an ISO or disk image; a kernel boots with BIOS")
	fs.Var(&f.forwards, "publish", "forward `HOST:GUEST[/tcp|udp]` from 127.0.0.1 on the host into the guest (repeatable)")
	fs.Var(&f.disks, "disk", "attach `[file=]FILE[,size=N][,format=F][,bus=B]` (LinuxKit's syntax, and bus), created sparse with N bytes (K, M, G, T suffixes; a bare number is GiB) when missing; F raw, qcow2, vhd, vmdk (default from the name); B virtio (/dev/vdX, the default), scsi or sata (/dev/sdX, as LinuxKit's qemu attaches disks) (repeatable)")
	fs.StringVar(&f.extra, "append", "", "more kernel command line `ARGS` (DIR/NAME images only)")
	fs.DurationVar(&f.grace, "grace", 30*time.Second, "how long the guest may take to power off after Ctrl-C or SIGTERM before it is killed")
	fs.DurationVar(&f.timeout, "timeout", 0, "kill the guest if it still runs after this `duration` (exit status 5); 0 never")
	fs.BoolVar(&f.console, "console", true, "show the serial console on this terminal and pass the terminal's input to it")
	fs.BoolVar(&f.detach, "detach", false, "run in the background, keeping state in -state DIR")
	fs.StringVar(&f.state, "state", "", "keep the running machine's `DIR`: pid, console log, serial socket, exit status (default with -detach: IMAGE.state)")
	fs.BoolVar(&f.stop, "stop", false, "stop the detached machine whose state directory is the argument")
	fs.BoolVar(&f.kill, "kill", false, "with -stop: kill the machine instead of pressing its power button")
	fs.StringVar(&f.data, "data", "", "pass `STRING` to the guest as user data on a CD-ROM, for minikit/metadata (or LinuxKit's) to write under /run/config")
	fs.StringVar(&f.dataFile, "data-file", "", "pass the contents of `FILE` to the guest as -data does")
	fs.BoolVar(&f.persist, "persist", false, "boot a disk image in place, as a machine boots its disk: what the guest writes (an update) stays in the file, and a reboot restarts the guest instead of ending minikit run")
	return fs
}

// runCommand implements "minikit run".
func runCommand(args []string) error {
	var f runFlags
	fs := newRunFlagSet(&f)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if os.Getenv(readyFDEnv) != "" {
		// The background half of -detach: no terminal to show the
		// console on, whatever the flags said.
		f.console = false
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("want one image (or, with -stop, one state directory), got %d arguments", fs.NArg())
	}
	if f.stop {
		status, err := stopMachine(fs.Arg(0), f.kill, f.grace+30*time.Second)
		if err != nil {
			return err
		}
		exitWith(status)
		return nil
	}
	image := fs.Arg(0)
	opts, err := machineOptions(image, f)
	if err != nil {
		return err
	}
	if f.detach {
		return detach(args, image, f.state)
	}
	status, err := runMachine(image, opts, f)
	if err != nil {
		return err
	}
	exitWith(status)
	return nil
}

// exitWith ends minikit with status unless it is 0.
func exitWith(status int) {
	if status != statusPoweroff {
		os.Exit(status)
	}
}

// machineOptions describes the machine that boots image.
func machineOptions(image string, f runFlags) (qemu.Options, error) {
	acc, err := qemu.ParseAccel(f.accel)
	if err != nil {
		return qemu.Options{}, fmt.Errorf("-accel: %w", err)
	}
	opts := qemu.Options{
		MemoryMiB:      f.mem,
		CPUs:           f.cpus,
		Accel:          acc,
		Forwards:       f.forwards,
		Disks:          f.disks,
		Stderr:         os.Stderr,
		ConsoleHistory: runConsoleHistory,
	}
	if err := bootFrom(&opts, image, f); err != nil {
		return opts, err
	}
	if f.persist {
		if opts.BootDisk == nil {
			return opts, fmt.Errorf("-persist: %s is no disk image (raw-bios, raw-efi or qcow2-bios)", image)
		}
		opts.WriteBootDisk, opts.AllowReboot = true, true
	}
	return opts, nil
}

// bootFrom fills in what opts boots: a file is an ISO or disk image, read
// to learn its firmware; anything else is the DIR/NAME of a kernel build.
func bootFrom(opts *qemu.Options, image string, f runFlags) error {
	if fi, err := os.Stat(image); err == nil && fi.Mode().IsRegular() {
		kind, fw, err := diskimage.Detect(image)
		if err != nil {
			return fmt.Errorf("boot %w", err)
		}
		if f.extra != "" {
			return fmt.Errorf("-append: %s boots with the command line its bootloader holds; only DIR/NAME images take more", image)
		}
		opts.Firmware = qemu.Firmware(fw)
		if f.firmware != "auto" {
			if opts.Firmware, err = qemu.ParseFirmware(f.firmware); err != nil {
				return fmt.Errorf("-firmware: %w", err)
			}
		}
		switch kind {
		case diskimage.ISO:
			opts.ISO = image
		case diskimage.VHD:
			opts.BootDisk = &qemu.Disk{Path: image, Format: "vpc"} // qemu's name for VHD
		default:
			opts.BootDisk = &qemu.Disk{Path: image, Format: string(kind)}
		}
		return nil
	}
	cmdline, err := os.ReadFile(image + "-cmdline")
	if err != nil {
		return fmt.Errorf("image %s: %w (give DIR/NAME as minikit build -o DIR wrote it, or an ISO or disk image)", image, err)
	}
	opts.Kernel, opts.Initrd = image+"-kernel", image+"-initrd.img"
	opts.Cmdline = strings.TrimSpace(strings.TrimSpace(string(cmdline)) + " " + f.extra)
	// kernel+squashfs: the root image is a disk of its own, after the
	// user's, so that their names (/dev/vda …) stay what a spec expects.
	if root := image + "-squashfs.img"; fileExists(root) {
		opts.Disks = append(opts.Disks, qemu.Disk{Path: root, ReadOnly: true})
	}
	if f.firmware != "auto" {
		if opts.Firmware, err = qemu.ParseFirmware(f.firmware); err != nil {
			return fmt.Errorf("-firmware: %w", err)
		}
	}
	return nil
}

// runMachine boots the machine and supervises it to the end, keeping its
// state in f.state when one is given, and returns its exit status.
func runMachine(image string, opts qemu.Options, f runFlags) (int, error) {
	var state *runState
	if f.state != "" {
		var err error
		if state, err = openState(f.state, image); err != nil {
			return 0, err
		}
		defer state.close()
	}
	// The guest's console goes to the terminal, the state's log and the
	// serial socket's clients; its input comes from the terminal and the
	// socket's clients.
	var outputs []io.Writer
	input, feed := io.Pipe()
	defer feed.Close()
	if f.console {
		outputs = append(outputs, os.Stdout)
		go io.Copy(feed, os.Stdin)
	}
	if state != nil {
		outputs = append(outputs, state.console, state.hub)
		state.serveSerial(feed)
	}
	opts.ConsoleOutput = io.MultiWriter(outputs...)
	opts.ConsoleInput = input

	// Listen before starting: a signal between Start and Notify would kill
	// minikit and leave qemu to its parent-death signal, never powering
	// the guest off.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)

	ctx := context.Background()
	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	if iso, err := dataISO(ctx, f); err != nil {
		return 0, err
	} else if iso != "" {
		defer os.RemoveAll(filepath.Dir(iso))
		opts.CDROMs = append(opts.CDROMs, iso)
	}
	vm, err := qemu.Start(ctx, opts)
	if err != nil {
		err = fmt.Errorf("boot %s: %w", image, err)
		if state != nil {
			state.failed(err)
		}
		return 0, err
	}
	slog.Debug("qemu running", "image", image, "command", vm.CommandLine())
	return superviseStarted(vm, state, image, signals, f.grace)
}

// machine is what minikit run needs of a running qemu.VM, so that the
// supervision can be exercised without booting one.
type machine interface {
	Pid() int
	CommandLine() string
	Powerdown() error
	Kill()
	Done() <-chan struct{}
	Wait() (qemu.Exit, error)
}

// superviseStarted records the running machine in state (when there is
// one), supervises it to the end, records how it ended and returns its
// exit status.
func superviseStarted(vm machine, state *runState, image string, signals <-chan os.Signal, grace time.Duration) (int, error) {
	if state != nil {
		if err := state.started(vm); err != nil {
			vm.Kill()
			vm.Wait()
			return 0, err
		}
	}
	exit, err := superviseRun(vm, image, signals, grace)
	status := statusOf(exit)
	if state != nil {
		state.stopped(exit, status, err)
	}
	return status, err
}

// superviseRun waits for the guest to stop, turning the first signal into
// the power button and the second, or the end of the grace period, into a
// kill, and says how it stopped. The error is for a qemu that failed; any
// other ending that is not a clean poweroff is explained on stderr.
func superviseRun(vm machine, image string, signals <-chan os.Signal, grace time.Duration) (qemu.Exit, error) {
	var graceOver <-chan time.Time
	killedAfterGrace := false
	for {
		select {
		case <-vm.Done():
			exit, err := vm.Wait()
			switch {
			case exit.Clean():
				slog.Info("guest powered off", "image", image)
			case err != nil:
				return exit, fmt.Errorf("%s did not power off cleanly: %w\nqemu command: %s", image, err, vm.CommandLine())
			case killedAfterGrace:
				fmt.Fprintf(os.Stderr, "minikit run: %s did not power off within %v of the power button, so it was killed\n", image, grace)
			default:
				fmt.Fprintf(os.Stderr, "minikit run: %s did not power off cleanly: %v\n", image, exit)
			}
			return exit, nil
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

// defaultStateDir is where -detach keeps a machine's state unless told:
// beside the image.
func defaultStateDir(image string) string {
	return filepath.Clean(image) + ".state"
}

var errNotRunning = errors.New("no machine is running there")

// dataISO makes the CD-ROM of -data or -data-file in a directory of its
// own, which the caller removes; "" when neither flag is given.
func dataISO(ctx context.Context, f runFlags) (string, error) {
	data := []byte(f.data)
	switch {
	case f.data != "" && f.dataFile != "":
		return "", errors.New("-data and -data-file: give one of them")
	case f.dataFile != "":
		var err error
		if data, err = os.ReadFile(f.dataFile); err != nil {
			return "", fmt.Errorf("-data-file: %w", err)
		}
	case f.data == "":
		return "", nil
	}
	dir, err := os.MkdirTemp("", "minikit-data-")
	if err != nil {
		return "", err
	}
	iso := filepath.Join(dir, "data.iso")
	epoch, err := sourcedate.Epoch()
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	if err := diskimage.DataISO(ctx, iso, data, epoch); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("-data: %w", err)
	}
	return iso, nil
}

func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
