package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"time"

	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/rootfs"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// initSys is the running PID 1.
type initSys struct {
	runner   *runner
	reaper   *reaper
	outputs  *outputs
	services []*service
	opts     cmdline
	shutdownReq chan string // "poweroff" or "reboot"
}

// run is PID 1's life: it returns only when init could not even start.
func run() int {
	// Signals first: a terminating signal not passed to Notify kills the
	// Go runtime, and PID 1 exiting panics the kernel. SIGURG is the
	// scheduler's own and is left alone.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGUSR1, unix.SIGUSR2,
		unix.SIGCHLD, unix.SIGPIPE, unix.SIGPWR, unix.SIGQUIT, unix.SIGALRM)

	console := openConsole()
	slog.SetDefault(slog.New(newConsoleHandler(console, slog.LevelInfo)))

	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "init: must run as PID 1")
		return 1
	}
	in := &initSys{reaper: newReaper(), shutdownReq: make(chan string, 1)}
	in.outputs = &outputs{console: console, logDir: "/var/log"}
	defer func() {
		if r := recover(); r != nil {
			in.fatal(fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
		}
	}()
	if err := in.boot(); err != nil {
		in.fatal(err)
	}
	in.loop(sigs)
	return 0
}

// boot takes the system from the kernel's hand-off to running services.
func (in *initSys) boot() error {
	start := time.Now()
	slog.Info("minikit init starting", "kernel_to_init", sinceBoot().Round(time.Millisecond))
	if err := rootfs.SyscallMounter.Mount(rootfs.SyscallMounter{}, rootfs.EarlyMounts[0]); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	initramfs, err := rootfs.IsInitramfs()
	if err != nil {
		return err
	}
	if initramfs {
		// pivot_root cannot leave the initramfs: move it onto a tmpfs
		// and start again from there.
		_ = unix.Unmount("/proc", unix.MNT_DETACH)
		if err := rootfs.MoveToTmpfs("/.newroot"); err != nil {
			return err
		}
		slog.Info("root moved onto tmpfs", "duration", time.Since(start).Round(time.Millisecond))
		return unix.Exec("/sbin/init", os.Args, os.Environ())
	}
	optErrs, err := rootfs.MountAll(rootfs.SyscallMounter{}, rootfs.EarlyMounts)
	for _, e := range optErrs {
		slog.Warn("optional mount failed", "err", e)
	}
	if err != nil {
		return err
	}
	in.opts = parseCmdline(readFile("/proc/cmdline"))
	if in.opts.debug {
		slog.SetDefault(slog.New(newConsoleHandler(in.outputs.console, slog.LevelDebug)))
	}
	// The kernel sends SIGINT on Ctrl-Alt-Del instead of rebooting at once.
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF)
	if err := rootfs.RemountReadOnly(); err != nil {
		return err
	}
	slog.Info("filesystems mounted; / is read-only", "duration", time.Since(start).Round(time.Millisecond))

	in.loadModules()
	in.watchPowerButton()
	if lo, err := netlink.LinkByName("lo"); err == nil {
		_ = netlink.LinkSetUp(lo)
	}
	logNamespaces()

	in.runner = &runner{stateDir: "/run/minikit/runc", rootsDir: "/run/minikit/rootfs", reaper: in.reaper}
	if !in.runToCompletion(context.Background(), "onboot", bundle.OnbootDir) {
		return fmt.Errorf("a required onboot container failed")
	}
	slog.Info("onboot done", "duration", time.Since(start).Round(time.Millisecond))
	in.startServices(bundle.ServicesDir)
	if err := in.serveControl(ControlSocket); err != nil {
		slog.Error("no control socket", "err", err)
	}
	return nil
}

// loop handles signals and shutdown requests until the system goes down.
func (in *initSys) loop(sigs chan os.Signal) {
	tick := time.NewTicker(5 * time.Second) // a safety net for coalesced SIGCHLDs
	defer tick.Stop()
	for {
		select {
		case sig := <-sigs:
			switch sig {
			case unix.SIGCHLD:
				in.reaper.reapOrphans()
			case unix.SIGTERM, unix.SIGUSR2, unix.SIGPWR:
				in.requestShutdown("poweroff")
			case unix.SIGINT:
				in.requestShutdown("reboot")
			default:
				slog.Debug("signal ignored", "signal", sig)
			}
		case <-tick.C:
			in.reaper.reapOrphans()
		case action := <-in.shutdownReq:
			// Keep reaping while shutting down.
			go func() {
				for range sigs {
					in.reaper.reapOrphans()
				}
			}()
			in.shutdown(action)
		}
	}
}

func (in *initSys) requestShutdown(action string) {
	select {
	case in.shutdownReq <- action:
	default: // one is already under way
	}
}

// goSafe runs fn in a goroutine whose panic is logged instead of killing
// PID 1.
func (in *initSys) goSafe(what string, fn func()) {
	go func() {
		defer func() {
			if r := recover(); r != nil {
				slog.Error("panic in "+what, "panic", r, "stack", string(debug.Stack()))
			}
		}()
		fn()
	}()
}

// fatal handles an error that stops boot, as minikit.onfail says.
func (in *initSys) fatal(err error) {
	slog.Error("boot failed: "+err.Error(), "onfail", in.opts.onfail)
	switch in.opts.onfail {
	case "reboot":
		in.shutdownNow("reboot")
	case "shell":
		slog.Error("no emergency shell in this image; powering off")
	}
	in.shutdownNow("poweroff")
}

func (in *initSys) shutdownNow(action string) {
	if in.runner == nil {
		unix.Sync()
		cmd := unix.LINUX_REBOOT_CMD_POWER_OFF
		if action == "reboot" {
			cmd = unix.LINUX_REBOOT_CMD_RESTART
		}
		for {
			_ = unix.Reboot(cmd)
			time.Sleep(time.Second)
		}
	}
	in.shutdown(action)
}

// cmdline holds init's options from the kernel command line.
type cmdline struct {
	onfail string // poweroff, reboot, shell
	debug  bool
}

func parseCmdline(s string) cmdline {
	c := cmdline{onfail: "poweroff"}
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "minikit.onfail":
			c.onfail = v
		case "minikit.debug":
			c.debug = v == "" || v == "1" || v == "true"
		}
	}
	return c
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// openConsole returns where init's log goes: stdout when the kernel gave
// init a console, else /dev/console opened by hand.
func openConsole() *os.File {
	if _, err := os.Stdout.Stat(); err == nil {
		return os.Stdout
	}
	if f, err := os.OpenFile("/dev/console", os.O_WRONLY, 0); err == nil {
		return f
	}
	return os.Stdout
}

// logNamespaces records init's own namespaces, so a reader of the log (or
// a test) can tell that a container runs in namespaces of its own.
func logNamespaces() {
	var parts []string
	for _, ns := range []string{"pid", "mnt", "net", "uts", "ipc"} {
		if l, err := os.Readlink("/proc/1/ns/" + ns); err == nil {
			parts = append(parts, l)
		}
	}
	slog.Info("init namespaces " + strings.Join(parts, " "))
}
