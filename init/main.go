// The runtime's periodic check of the cgroup's CPU limit (Go 1.25) and its
// reading of the cgroup files at every start are not for this binary: PID 1
// runs at the cgroup root, libcontainer's init until it execs, and neither needs GOMAXPROCS fitted to a limit, nor a wakeup a second.

//go:debug updatemaxprocs=0
//go:debug containermaxprocs=0

// Command init is minikit's PID 1: it prepares the root filesystem, loads
// kernel modules, runs the onboot containers in order, supervises the
// services and shuts the system down cleanly.
//
// libcontainer re-executes it as "init" inside each new container, which
// is handled before anything else. svcctl, the control client, is a
// binary of its own (init/svcctl/cmd/svcctl): the re-execution pays for
// every megabyte of this one at each container start, and PID 1 keeps
// them resident.
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
		allowHugePages()
		libcontainer.Init()
	}
	if os.Getpid() == 1 {
		sealSelf()
	}
	os.Exit(run())
}
