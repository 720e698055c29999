// Command init is minikit's PID 1: it prepares the root filesystem, loads
// kernel modules, runs the onboot containers in order, supervises the
// services and shuts the system down cleanly.
//
// libcontainer re-executes this same binary as "init" inside each new
// container, so that case is handled before anything else.
package main

import (
	"os"
	"runtime"

	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	// Registers the device-rule manager: without it cgroup v2 refuses any
	// container with device rules.
	_ "github.com/opencontainers/cgroups/devices"
)

func init() {
	// Keep the main goroutine on the main thread, the one /proc/1 shows.
	// libcontainer setns()es a locked thread into a new container's mount
	// namespace and lets the thread die when done; the main thread cannot
	// die, so had it been that thread, PID 1 would have stayed in the
	// container's namespace (/proc/1/root and /proc/1/mounts showed
	// getty's root in about one boot in three).
	runtime.LockOSThread()
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		// The container's init: nsenter's constructor has already joined
		// the namespaces; this never returns.
		libcontainer.Init()
	}
	os.Exit(run())
}
