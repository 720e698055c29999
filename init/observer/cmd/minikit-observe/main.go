// The observer is not confined to a CPU limit, so it needs no GOMAXPROCS
// fitted to a cgroup's: leaving it out spares it a wakeup a second.

//go:debug updatemaxprocs=0
//go:debug containermaxprocs=0

// Command minikit-observe is the observer (init/observer), which init
// starts when the image ships logs or serves metrics. It is a binary of
// its own, apart from svcctl: TLS, net/http and the log shippers would
// make every svcctl command slower to start, and PID 1 larger.
package main

import (
	"os"

	"github.com/minikit/minikit/init/observer"
)

func main() { os.Exit(observer.Main(os.Args)) }
