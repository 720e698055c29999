// svcctl lives for a moment and is not confined to a CPU limit, so its
// GOMAXPROCS need not follow a cgroup's. (The runtime still reads the
// cgroup files at start: these settings only leave the limit unapplied.)

//go:debug updatemaxprocs=0
//go:debug containermaxprocs=0

// Command svcctl is the control client of a minikit system
// (init/svcctl). It carries that alone: the observer, which ships logs
// and serves metrics, is a binary of its own (init/observer), so that
// `svcctl list` starts as fast as a small Go program can.
package main

import (
	"os"

	"github.com/minikit/minikit/init/svcctl"
)

func main() { os.Exit(svcctl.Main()) }
