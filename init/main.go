// The runtime's periodic check of the cgroup's CPU limit (Go 1.25) and its
// reading of the cgroup files at every start are not for this binary: PID 1
// runs at the cgroup root, svcctl for a moment, libcontainer's init until it
// execs, and none needs GOMAXPROCS fitted to a limit, nor a wakeup a second.

//go:debug updatemaxprocs=0
//go:debug containermaxprocs=0

// Command init is minikit's PID 1: it prepares the root filesystem, loads
// kernel modules, runs the onboot containers in order, supervises the
// services and shuts the system down cleanly.
//
// The same binary is svcctl, the control client, when it runs under that
// name (/usr/bin/svcctl links to /sbin/init), so that the image carries
// one Go binary rather than two; and libcontainer re-executes it as
// "init" inside each new container. Both cases are handled before
// anything else.
package main

import (
	"os"
	"path/filepath"
	"runtime"

	"github.com/minikit/minikit/init/svcctl"
	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	// Registers the device-rule manager: without it cgroup v2 refuses any
	// container with device rules.
	_ "github.com/opencontainers/cgroups/devices"
)

// asSvcctl reports whether this process is svcctl rather than init.
func asSvcctl() bool { return filepath.Base(os.Args[0]) == svcctl.Name }

func init() {
	if asSvcctl() {
		return // a short-lived client: no thread of its own to keep
	}
	// Keep the main goroutine on the main thread, the one /proc/1 shows.
	// libcontainer setns()es a locked thread into a new container's mount
	// namespace and lets the thread die when done; the main thread cannot
	// die, so had it been that thread, PID 1 would have stayed in the
	// container's namespace (/proc/1/root and /proc/1/mounts showed
	// getty's root in about one boot in three).
	runtime.LockOSThread()
}

func main() {
	if asSvcctl() {
		os.Exit(svcctl.Main())
	}
	if len(os.Args) > 1 && os.Args[1] == "init" {
		// The container's init: nsenter's constructor has already joined
		// the namespaces; this never returns.
		allowHugePages()
		libcontainer.Init()
	}
	os.Exit(run())
}
