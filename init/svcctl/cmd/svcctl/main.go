// Neither svcctl, which lives for a moment, nor the observer, which is
// not confined to a CPU limit, needs GOMAXPROCS fitted to the cgroup's:
// leaving it out spares svcctl's start the cgroup files and the observer
// a wakeup a second.

//go:debug updatemaxprocs=0
//go:debug containermaxprocs=0

// Command svcctl is the control client of a minikit system
// (init/svcctl). Run under the name minikit-observe, as init runs it when
// the image ships logs or serves metrics, it is the observer
// (init/observer): the two share Prometheus' encoder, and the image
// carries one copy of it, outside PID 1.
package main

import (
	"os"
	"path/filepath"

	"github.com/minikit/minikit/init/observer"
	"github.com/minikit/minikit/init/svcctl"
	"github.com/minikit/minikit/internal/observe"
)

func main() {
	if filepath.Base(os.Args[0]) == observe.ObserverName {
		os.Exit(observer.Main(os.Args))
	}
	os.Exit(svcctl.Main())
}
