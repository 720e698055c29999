// Command pause is a pod's sandbox process. It holds the pod's
// namespaces open for as long as the pod lives, reaps the orphans a
// shared PID namespace hands it, and exits on SIGINT or SIGTERM.
//
// It takes the place of registry.k8s.io/pause, which a node without a
// registry cannot pull: the containerd image carries it as an archive that
// is imported at boot (see ../pause-archive).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if os.Getpid() != 1 {
		// As upstream's pause does: warn, but go on, since a pod may
		// share the host's PID namespace.
		os.Stderr.WriteString("pause: not running as PID 1\n")
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		// One SIGCHLD may stand for many children: reap until none is left.
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
