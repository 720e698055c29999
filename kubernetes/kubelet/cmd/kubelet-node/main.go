// Command kubelet-node joins this machine to a Kubernetes cluster. It reads
// the "kubernetes" object of the machine's user data (README.md: the API
// server, its CA, and a bootstrap token or the node's client certificate),
// writes kubelet's kubeconfig and configuration under its root directory,
// waits for the container runtime's socket, and then becomes kubelet:
//
//	kubelet-node [-userdata FILE] [-dir DIR] [-runtime SOCKET] [-- KUBELET-FLAGS...]
//
// Flags after -- are added to kubelet's, after the ones it writes, so a
// spec's command can override any of them. The user data is read at every
// start: it is the truth about which cluster the node belongs to.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

func main() {
	userdata := flag.String("userdata", "/run/config/userdata", "the machine's user data `file`")
	dir := flag.String("dir", "/var/lib/kubelet", "kubelet's root `directory`, where the files are written")
	kubelet := flag.String("kubelet", "/usr/bin/kubelet", "kubelet's `path`")
	runtime := flag.String("runtime", "/run/containerd/containerd.sock", "the container runtime's CRI `socket`")
	wait := flag.Duration("wait", 2*time.Minute, "how long to wait for the runtime's socket before starting kubelet anyway")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("prog", "kubelet-node")

	args, err := prepare(*userdata, *dir, *runtime)
	if err != nil {
		log.Error("cannot join the cluster", "err", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *wait)
	if err := waitForSocket(ctx, *runtime); err != nil {
		// kubelet says itself what it cannot reach, and exits to be restarted.
		log.Warn("container runtime not answering yet; starting kubelet anyway", "socket", *runtime, "waited", *wait)
	}
	cancel()
	argv := append(append([]string{"kubelet"}, args...), flag.Args()...)
	log.Info("starting kubelet", "args", strings.Join(argv[1:], " "))
	if err := syscall.Exec(*kubelet, argv, os.Environ()); err != nil {
		log.Error("exec kubelet", "path", *kubelet, "err", err)
		os.Exit(1)
	}
}

// prepare reads and checks the user data and writes kubelet's files,
// returning kubelet's flags.
func prepare(userdata, dir, runtime string) ([]string, error) {
	data, err := os.ReadFile(userdata)
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("no user data at %s: give the machine user data with a \"kubernetes\" object (server, ca, token or clientCertificate)", userdata)
	}
	if err != nil {
		return nil, err
	}
	j, err := ParseUserData(data)
	if err != nil {
		return nil, fmt.Errorf("user data %s: %w", userdata, err)
	}
	hostname, err := os.Hostname()
	if err != nil {
		return nil, err
	}
	return Write(j, dir, strings.ToLower(hostname), runtime)
}

// waitForSocket returns once a connection to path succeeds, or ctx's error.
func waitForSocket(ctx context.Context, path string) error {
	for {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", path)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
