package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/minikit/minikit/internal/bundle"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// killGrace is how long processes left after the services stopped get
// between SIGTERM and SIGKILL.
const killGrace = 2 * time.Second

// shutdown stops everything in order and then powers off or reboots. On a
// real system it never returns; in host test mode it returns the exit
// status for init (0 for poweroff, 1 for reboot).
func (in *initSys) shutdown(action string) int {
	slog.Info("shutdown: " + action)
	ctx := context.Background()

	if in.sup != nil {
		// Each service before those it depends on; no starts from now on.
		in.sup.StopAll(ctx)
	}
	slog.Info("shutdown: services stopped")

	in.runToCompletion(ctx, "onshutdown", in.path(bundle.OnshutdownDir))
	in.stopObserver()

	// Whatever is left: SIGTERM (and SIGCONT, so stopped processes see
	// it), a grace period, then SIGKILL.
	_ = unix.Kill(-1, unix.SIGTERM)
	_ = unix.Kill(-1, unix.SIGCONT)
	deadline := time.Now().Add(killGrace)
	for time.Now().Before(deadline) && countChildren() > 0 {
		in.reaper.reapOrphans()
		time.Sleep(50 * time.Millisecond)
	}
	_ = unix.Kill(-1, unix.SIGKILL)
	in.reaper.reapOrphans()

	slog.Info("shutdown: " + action + " now")
	in.flushConsole()
	if in.hostMode() {
		if action == "reboot" {
			return 1
		}
		return 0
	}
	unix.Sync()
	unmountAll()
	unix.Sync()
	for {
		if err := unix.Reboot(rebootCmd(action)); err != nil {
			slog.Error("reboot(2) failed", "err", err)
		}
		time.Sleep(time.Second)
	}
}

// countChildren counts our live children, zombies included.
func countChildren() int {
	n := 0
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range entries {
		if stat, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			if _, ppid, ok := parseStat(stat); ok && ppid == self {
				n++
			}
		}
	}
	return n
}

// unmountAll unmounts in reverse order of /proc/self/mountinfo, falling
// back to a read-only remount where a filesystem is still busy.
func unmountAll() {
	targets := mountTargets()
	for i := len(targets) - 1; i >= 0; i-- {
		t := targets[i]
		if t == "/" || t == "/proc" || t == "/dev" || t == "/sys" {
			continue
		}
		if err := unix.Unmount(t, 0); err != nil {
			if rerr := unix.Mount("", t, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); rerr != nil {
				slog.Debug("cannot unmount", "target", t, "err", err)
			}
		}
	}
}

// mountTargets lists every mount point in the order of
// /proc/self/mountinfo, which is the order they were mounted in.
func mountTargets() []string {
	mounts, err := mountinfo.GetMounts(nil)
	if err != nil {
		slog.Debug("cannot read the mount table", "err", err)
		return nil
	}
	targets := make([]string, 0, len(mounts))
	for _, m := range mounts {
		targets = append(targets, m.Mountpoint)
	}
	return targets
}
