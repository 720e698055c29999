package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/internal/verity"
	"github.com/minikit/minikit/rootfs"
	"github.com/minikit/minikit/rootfs/kmod"
)

// Init's first stage runs when the initramfs holds a root image instead
// of the root itself: it loads the modules that mount the image, sets up
// the verity device the kernel command line describes, mounts the image
// read-only, frees the initramfs and switches to the image. Then init
// carries on as on any root: the image holds the same init, and running
// it again would only read 15 MB through the verity device for nothing.
//
// From then on every block read from the image is checked against the
// root hash, and one that does not match cannot be read. init checks the
// device's state before onboot and before the services start, and
// watches its corruption events for as long as it runs: a tampered image
// stops the system, with the reason on the console.

// newRoot is where the first stage mounts the new root before switching.
const newRoot = "/.newroot"

// isStageOne reports whether this initramfs is a first stage: it holds
// the modules that mount a root image (and the image itself, or a disk
// holds it).
func isStageOne() bool {
	_, err := os.Stat(bundle.RootModulesList)
	return err == nil
}

// rootWait is how long the first stage waits for the disk that holds the
// root image, unless minikit.rootwait=SECONDS says otherwise.
const rootWait = 30 * time.Second

// mountRootImage is the first stage; the root is the image when it
// returns nil.
func (in *initSys) mountRootImage() error {
	// /proc is mounted; loop-control and the device-mapper's control node
	// need /dev, the modules need nothing more.
	for _, m := range []rootfs.Mount{rootfs.EarlyMounts[1], rootfs.EarlyMounts[2]} {
		if err := (rootfs.SyscallMounter{}).Mount(m); err != nil {
			return fmt.Errorf("root image: %s: %w", m, err)
		}
	}
	cmdline := readFile("/proc/cmdline")
	in.opts = parseCmdline(cmdline) // minikit.onfail decides what a failure here does
	params, checked, err := verity.FromCmdline(cmdline)
	if err != nil {
		return fmt.Errorf("root image: %w", err)
	}
	var p *verity.Params
	if checked {
		p = &params
	} else {
		slog.Warn("the root image is NOT verified: it was built with -verity=false, so nothing checks it against what was built")
	}
	list, err := kmod.ReadList(bundle.RootModulesList)
	if errors.Is(err, fs.ErrNotExist) {
		list = &kmod.List{}
	} else if err != nil {
		return fmt.Errorf("root image: %w", err)
	}
	// A module that fails to load is logged; the mount then says what is
	// missing.
	(&kmod.Loader{Logger: slog.Default()}).LoadList(list)

	m, err := in.findRootImage(cmdline, p, list.Paths)
	if err != nil {
		return err
	}
	slog.Info("root image mounted", "device", m.Device, "verified", m.Verified)
	if m.Verified {
		in.rootDevice = m.DevName
		in.watchVerity()
	}
	// The mounts of the initramfs go; the image gets its own.
	for _, d := range []string{"/dev", "/sys", "/proc"} {
		_ = unix.Unmount(d, unix.MNT_DETACH)
	}
	if err := rootfs.SwitchRoot(newRoot); err != nil {
		return fmt.Errorf("switch to the root image: %w", err)
	}
	return nil
}

// findRootImage mounts the root image: the one in the initramfs, or the
// one on a disk, once the drivers of the disks present are loaded.
func (in *initSys) findRootImage(cmdline string, p *verity.Params, loaded []string) (*rootfs.MountedImage, error) {
	if _, err := os.Stat(bundle.RootImage); err == nil {
		return rootfs.MountImage(bundle.RootImage, p, newRoot)
	}
	d, err := newDrivers(&kmod.Loader{Logger: slog.Default()}, bundle.RootColdplugList, loaded)
	if err != nil {
		return nil, fmt.Errorf("root image: %w", err)
	}
	opts := rootfs.FindOptions{Timeout: rootWaitFrom(cmdline)}
	if d != nil {
		// Each poll walks again: the disk awaited may be slow to appear.
		opts.Poll = func() { d.coldplug("/sys/devices", nil) }
	}
	slog.Info("looking for the disk that holds the root image", "timeout", opts.Timeout)
	return rootfs.FindImage(p, newRoot, opts)
}

// rootWaitFrom reads minikit.rootwait=SECONDS from the command line.
func rootWaitFrom(cmdline string) time.Duration {
	for _, f := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(f, "minikit.rootwait="); ok {
			if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
				return time.Duration(secs) * time.Second
			}
			slog.Warn("minikit.rootwait: not a number of seconds, using the default", "value", v, "default", rootWait)
		}
	}
	return rootWait
}

// checkRoot fails when the root's verity device has met a block that does
// not match: nothing more may run from the image.
func (in *initSys) checkRoot() error {
	if in.rootDevice != "" && rootfs.VerityFailed() {
		return rootfs.ErrVerification
	}
	return nil
}

// watchVerity turns a corruption event of the root's verity device into a
// shutdown, as minikit.onfail says, whenever it comes.
func (in *initSys) watchVerity() {
	events, err := openUevents()
	if err != nil {
		slog.Error("the root's verity device is not watched: "+err.Error(), "err", err)
		return
	}
	in.goSafe("root verification", func() {
		for {
			ev, err := events.next()
			if err != nil {
				slog.Error("the root's verity device is no longer watched: "+err.Error(), "err", err)
				return
			}
			block, ok := ev[verityErrorKey]
			if !ok || !strings.HasSuffix(ev["DEVPATH"], "/"+in.rootDevice) {
				continue
			}
			in.giveUp("root verification", fmt.Errorf("%w (dm-verity: %s block %s)", rootfs.ErrVerification, verityBlockKind(block), block))
			return
		}
	})
}

// verityErrorKey is the variable of dm-verity's uevent for a block that did
// not match: "TYPE,BLOCK", TYPE 0 for data, 1 for the hash tree.
const verityErrorKey = "DM_VERITY_ERR_BLOCK_NR"

func verityBlockKind(v string) string {
	if strings.HasPrefix(v, "1,") {
		return "hash tree"
	}
	return "data"
}

// The names of the phase before the second stage, in the boot timeline.
const (
	phaseRootMount  = "root mount"  // the first stage mounted a root image
	phaseRootSwitch = "root switch" // the initramfs was copied into a tmpfs
	phaseSelfSeal   = "sealed copy" // init copied itself into a sealed memfd and ran it
)
