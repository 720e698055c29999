package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/minikit/minikit/init/boottime"
	"github.com/minikit/minikit/init/logs"
	"github.com/minikit/minikit/init/supervisor"
	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/internal/control"
	"github.com/minikit/minikit/rootfs"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// hostRootEnv names a directory that holds a system's /containers tree.
// When it is set, init runs in host test mode: as PID 1 of a new PID and
// mount namespace on a development machine, over that tree, without
// touching the machine's own root, modules or power state.
const hostRootEnv = "MINIKIT_HOST_ROOT"

// rootSwitchEnv carries the root switch's timing across the re-exec.
const rootSwitchEnv = "MINIKIT_ROOT_SWITCH"

// initSys is the running PID 1.
type initSys struct {
	root     string // "" on a real system; the tree's directory in host test mode
	consoles *logs.Consoles
	runner   *runner
	reaper   *reaper
	outputs  *logs.Outputs
	timeline *timeline
	sup      *supervisor.Supervisor
	guard    *guard
	opts     cmdline
	// rootDevice is the verity device the root image is mounted from;
	// "" when the root is not a verified image.
	rootDevice string
	// updates is what init knows of the disk's slots (update.go).
	updates *updater
	// observer ships the logs and serves the metrics (observe.go); nil
	// when the image asks for neither.
	observer *observerProc

	shutdownReq chan string // "poweroff" or "reboot"
}

func (in *initSys) hostMode() bool { return in.root != "" }

// path maps a path of the on-disk contract into this system's tree.
func (in *initSys) path(p string) string { return filepath.Join("/", in.root, p) }

// run is PID 1's life. On a real system it never returns; in host test
// mode it returns the exit status once the system has shut down.
func run() int {
	// Signals first: a signal that reaches the Go runtime's default
	// handling may end the process, and PID 1 exiting panics the kernel.
	sigs := catchSignals()

	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "init: must run as PID 1 (for tests: in a new PID namespace with "+hostRootEnv+" set)")
		return 1
	}
	tuneRuntime()
	in := &initSys{
		root:        os.Getenv(hostRootEnv),
		consoles:    logs.NewConsoles(openConsole()),
		reaper:      newReaper(),
		timeline:    newTimeline(),
		shutdownReq: make(chan string, 1),
	}
	in.guard = newGuard(in.giveUp)
	// init's own log and the way of every log to the consoles, whose
	// writer runs under the guard from now on.
	in.outputs = logs.New(in.consoles, in.path("/var/log"), in.goSafe)
	slog.SetDefault(slog.New(in.outputs.Handler(slog.LevelInfo)))
	in.goSafe("reaper", in.reaper.run)
	in.goSafe("signals", func() { in.handleSignals(sigs) })
	defer func() {
		if r := recover(); r != nil {
			in.fatal(fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
		}
	}()
	if err := in.boot(); err != nil {
		in.fatal(err)
	}
	return in.loop()
}

// boot takes the system from the kernel's hand-off to running services.
func (in *initSys) boot() error {
	handoff := boottime.Now()
	slog.Info("minikit init starting", "kernel_to_init", handoff.Round(time.Millisecond))
	sealed := os.Getenv(selfSealEnv)
	os.Unsetenv(selfSealEnv) // containers inherit nothing of it
	if p := handoffPhases(sealed, handoff); len(p) == 2 {
		slog.Info("init runs from a sealed copy of its binary", "copy_took", (p[1].End - p[1].Start).Round(time.Millisecond))
	}
	if in.hostMode() {
		if err := in.hostSetup(); err != nil {
			return err
		}
	} else {
		switched, err := in.systemSetup(sealed)
		if err != nil || switched {
			return err
		}
	}
	cmdline := readFile("/proc/cmdline")
	in.opts = parseCmdline(cmdline)
	if in.opts.level != slog.LevelInfo {
		slog.SetDefault(slog.New(in.outputs.Handler(in.opts.level)))
	}
	logNamespaces()
	in.startObserver(cmdline)
	in.openUpdates(cmdline)

	if err := in.prepareRun(); err != nil {
		return err
	}
	in.runner = &runner{
		stateDir:     in.path(privateRun + "/runc"),
		rootsDir:     in.path(privateRun + "/rootfs"),
		cgroupPrefix: "/minikit",
		reaper:       in.reaper,
		starts:       make(chan struct{}, maxParallelStarts),
	}
	if in.hostMode() {
		// Containers of several test runs must not share cgroups.
		in.runner.cgroupPrefix = fmt.Sprintf("/minikit-test-%d", os.Getppid())
	}
	mountVolumes(in.path("/"), in.path(privateRun+"/volumes"))
	if err := in.checkRoot(); err != nil {
		return err
	}
	end := in.timeline.begin("onboot")
	ok := in.runToCompletion(context.Background(), "onboot", in.path(bundle.OnbootDir))
	end()
	if !ok {
		return fmt.Errorf("a required onboot container failed")
	}
	slog.Info("onboot done")
	if err := in.checkRoot(); err != nil {
		return err
	}
	if action, ok := in.shutdownAsked(); ok {
		// An onboot poweroff entry (LinuxKit's tests end with one) or the
		// power button: starting services only to stop them would delay
		// the shutdown and show them briefly alive.
		slog.Info(action+" asked for during onboot: the services are not started", "action", action)
		return nil
	}
	end = in.timeline.begin("services started")
	in.startServices(in.path(bundle.ServicesDir))
	end()
	in.watchTrial()
	if err := in.serveControl(in.path(ControlSocket)); err != nil {
		slog.Error("no control socket", "err", err)
	}
	showIssue(in.path(issueFile), in.outputs.ConsoleText)
	in.goSafe("settle after boot", func() { settleAfterBoot(in.sup) })
	return nil
}

// privateRun holds what init keeps from every container: runc's state,
// the writable layers of container roots and volumes, and the notify
// sockets. No image binds it; /run/minikit, which containers bind to use
// svcctl, holds only the control socket. It is 0711 rather than 0700 so
// that runc, inside a container's user namespace, can still reach that
// container's root by its full path.
const privateRun = "/run/init"

// netRun is what the network configuration leaves for other containers:
// dhcpcd's /run (resolv.conf, its lease state), bound alone into those
// that need it. /run/resolv.conf, where /etc/resolv.conf points, links to
// it, so that the system and LinuxKit images keep finding resolv.conf.
const netRun = "/run/net"

// prepareRun lays out /run before any container starts.
func (in *initSys) prepareRun() error {
	if err := os.MkdirAll(in.path(privateRun), 0o711); err != nil {
		return fmt.Errorf("make %s: %w", privateRun, err)
	}
	if err := os.Chmod(in.path(privateRun), 0o711); err != nil {
		return fmt.Errorf("make %s: %w", privateRun, err)
	}
	if err := os.MkdirAll(in.path(netRun), 0o755); err != nil {
		return fmt.Errorf("make %s: %w", netRun, err)
	}
	link := in.path("/run/resolv.conf")
	if _, err := os.Lstat(link); os.IsNotExist(err) {
		if err := os.Symlink("net/resolv.conf", link); err != nil {
			return fmt.Errorf("link /run/resolv.conf to %s: %w", netRun, err)
		}
	}
	return nil
}

// systemSetup prepares a real system's root: it moves the initramfs onto
// a tmpfs (then re-executes init and reports switched), mounts the pseudo
// filesystems, makes / read-only and loads the kernel modules. sealed is
// what sealSelf passed on of the copy it made, for the timeline.
func (in *initSys) systemSetup(sealed string) (switched bool, err error) {
	start := boottime.Now()
	if err := (rootfs.SyscallMounter{}).Mount(rootfs.EarlyMounts[0]); err != nil {
		return false, fmt.Errorf("mount /proc: %w", err)
	}
	initramfs, err := rootfs.IsInitramfs()
	if err != nil {
		return false, err
	}
	switch {
	case initramfs && isStageOne():
		// The first stage: mount the image, switch to it and carry on
		// from there, as the image's own init would.
		if err := in.mountRootImage(); err != nil {
			return false, err
		}
		for _, p := range handoffPhases(sealed, start) {
			in.timeline.add(p)
		}
		in.timeline.add(control.Phase{Name: phaseRootMount, Start: start, End: boottime.Now()})
	case initramfs:
		// pivot_root cannot leave the initramfs: move it onto a tmpfs
		// and start again from there.
		_ = unix.Unmount("/proc", unix.MNT_DETACH)
		if err := rootfs.MoveToTmpfs(newRoot); err != nil {
			return false, err
		}
		env := append(os.Environ(), fmt.Sprintf("%s=%s,%d,%d", rootSwitchEnv, phaseRootSwitch, start, boottime.Now()))
		return true, unix.Exec("/sbin/init", os.Args, env)
	default:
		for _, p := range handoffPhases(os.Getenv(rootSwitchEnv), start) {
			in.timeline.add(p)
		}
		os.Unsetenv(rootSwitchEnv) // containers inherit nothing of it
	}
	end := in.timeline.begin("early mounts")
	optErrs, err := rootfs.MountAll(rootfs.SyscallMounter{}, rootfs.EarlyMounts)
	for _, e := range optErrs {
		slog.Warn("optional mount failed", "err", e)
	}
	if err != nil {
		return false, err
	}
	// The kernel sends SIGINT on Ctrl-Alt-Del instead of rebooting at once.
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF)
	in.consoles.AddActive("/sys")
	if err := rootfs.RemountReadOnly(); err != nil {
		return false, err
	}
	// Shared propagation, so that a mount made by an onboot container
	// through an rshared bind (mountie on /var/lib/...) reaches the root
	// and the services that bind it.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SHARED, ""); err != nil {
		return false, fmt.Errorf("make mounts shared: %w", err)
	}
	end()
	slog.Info("filesystems mounted; / is read-only")

	end = in.timeline.begin("modules")
	in.loadModules()
	mountModuleFilesystems()
	end()
	in.watchPowerButton()
	if lo, err := netlink.LinkByName("lo"); err == nil {
		_ = netlink.LinkSetUp(lo)
	}
	return false, nil
}

// mountModuleFilesystems mounts the filesystems of rootfs.ModuleMounts
// whose module the spec had loaded (binfmt_misc).
func mountModuleFilesystems() {
	f, err := os.Open("/proc/filesystems")
	if err != nil {
		slog.Warn("cannot read /proc/filesystems", "err", err)
		return
	}
	known, err := rootfs.KnownFilesystems(f)
	f.Close()
	if err != nil {
		slog.Warn("cannot read /proc/filesystems", "err", err)
		return
	}
	var table []rootfs.Mount
	for _, m := range rootfs.ModuleMounts {
		if known[m.FSType] {
			table = append(table, m)
		}
	}
	optErrs, _ := rootfs.MountAll(rootfs.SyscallMounter{}, table) // all optional
	for _, e := range optErrs {
		slog.Warn("optional mount failed", "err", e)
	}
}

// handoffPhases are the phases before this run of init: the kernel's, up
// to the first run of init, and the first run's own (the initramfs
// copied into a tmpfs), whose times crossed the re-exec in switchEnv
// ("NAME,START,END", times in nanoseconds since boot). Without one the
// kernel handed over to this run, at start.
func handoffPhases(switchEnv string, start time.Duration) []control.Phase {
	f := strings.Split(switchEnv, ",")
	if len(f) != 3 || f[0] == "" {
		return []control.Phase{{Name: "kernel", End: start}}
	}
	a, errA := strconv.ParseInt(f[1], 10, 64)
	b, errB := strconv.ParseInt(f[2], 10, 64)
	if errA != nil || errB != nil {
		return []control.Phase{{Name: "kernel", End: start}}
	}
	return []control.Phase{
		{Name: "kernel", End: time.Duration(a)},
		{Name: f[0], Start: time.Duration(a), End: time.Duration(b)},
	}
}

// hostSetup gives host test mode a /proc of its own PID namespace, in a
// mount namespace whose changes do not reach the machine.
func (in *initSys) hostSetup() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("host mode: make mounts private (is init in a new mount namespace?): %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("host mode: mount /proc: %w", err)
	}
	for _, d := range []string{"/run/minikit", "/var/log"} {
		if err := os.MkdirAll(in.path(d), 0o755); err != nil {
			return err
		}
	}
	slog.Info("host test mode", "root", in.root)
	return nil
}

// shutdownAsked reports a shutdown requested so far, leaving it for loop
// to carry out.
func (in *initSys) shutdownAsked() (string, bool) {
	select {
	case action := <-in.shutdownReq:
		select {
		case in.shutdownReq <- action:
		default: // another came in meanwhile; loop carries that one out
		}
		return action, true
	default:
		return "", false
	}
}

// loop waits for a shutdown request and carries it out.
func (in *initSys) loop() int {
	return in.shutdown(<-in.shutdownReq)
}

func (in *initSys) requestShutdown(action string) {
	select {
	case in.shutdownReq <- action:
	default: // one is already under way
	}
}

// fatal handles an error that stops boot, as minikit.onfail says (on the
// trial boot of an update: reboot, so that the good slot runs).
func (in *initSys) fatal(err error) {
	slog.Error("boot failed: "+err.Error(), "onfail", in.opts.onfail)
	in.recordTrialFailure("boot failed: " + err.Error())
	switch in.opts.onfail {
	case "reboot":
		in.shutdownNow("reboot")
	case "shell":
		in.flushConsole() // its messages before the shell's prompt
		emergencyShell()
	}
	in.shutdownNow("poweroff")
}

// emergencyShell runs /bin/sh on the console if the image has one; the
// system powers off when it exits.
func emergencyShell() {
	if _, err := os.Stat("/bin/sh"); err != nil {
		slog.Error("minikit.onfail=shell: this image has no /bin/sh")
		return
	}
	slog.Error("starting an emergency shell; the system powers off when it exits")
	p, err := os.StartProcess("/bin/sh", []string{"sh"}, &os.ProcAttr{
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Env:   []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=linux"},
		Sys:   &unix.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0},
	})
	if err != nil {
		slog.Error("emergency shell", "err", err)
		return
	}
	_, _ = p.Wait()
}

func (in *initSys) shutdownNow(action string) {
	if in.runner == nil || in.hostMode() {
		in.flushConsole()
		if in.hostMode() {
			os.Exit(1)
		}
		unix.Sync()
		for {
			_ = unix.Reboot(rebootCmd(action))
			time.Sleep(time.Second)
		}
	}
	in.shutdown(action)
}

func rebootCmd(action string) int {
	if action == "reboot" {
		return unix.LINUX_REBOOT_CMD_RESTART
	}
	return unix.LINUX_REBOOT_CMD_POWER_OFF
}

// cmdline holds init's options from the kernel command line:
// minikit.onfail=poweroff|reboot|shell says what a fatal boot error does,
// minikit.loglevel=debug|info|warn|error sets init's log level, and
// minikit.debug is minikit.loglevel=debug. minikit.trial, which GRUB adds
// to the trial boot of an update, makes a fatal error reboot whatever
// minikit.onfail says, so that GRUB falls back to the good slot.
type cmdline struct {
	onfail string
	level  slog.Level
}

func parseCmdline(s string) cmdline {
	c := cmdline{onfail: "poweroff", level: slog.LevelInfo}
	trial := false
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "minikit.onfail":
			switch v {
			case "poweroff", "reboot", "shell":
				c.onfail = v
			default:
				slog.Warn("minikit.onfail: unknown value, using poweroff", "value", v)
			}
		case "minikit.loglevel":
			if err := c.level.UnmarshalText([]byte(v)); err != nil {
				slog.Warn("minikit.loglevel: unknown level", "value", v)
			}
		case "minikit.debug":
			if v == "" || v == "1" || v == "true" {
				c.level = slog.LevelDebug
			}
		case "minikit.trial":
			trial = true
		}
	}
	if trial {
		c.onfail = "reboot"
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

// flushConsole gives the console a bounded moment to show what init
// logged, before the system goes down or a shell takes the console.
func (in *initSys) flushConsole() {
	if in.outputs != nil {
		in.outputs.FlushConsole()
	}
}
