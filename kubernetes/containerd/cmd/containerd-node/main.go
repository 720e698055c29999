// Command containerd-node runs containerd for a Kubernetes node and loads
// the node's own images into it, so that pods start without a registry.
//
//	containerd-node [-images DIR,...] [-address SOCKET] [-ctr PATH] -- CONTAINERD [ARG...]
//
// It starts CONTAINERD as its child, passes on the signals it gets, and
// once containerd answers on SOCKET imports every *.tar archive of the
// image directories (docker save or OCI archives) into the k8s.io
// namespace, where the CRI plugin looks: the sandbox image that the
// image carries, and whatever a system adds under /etc/kubernetes/images.
// A directory that is missing is skipped; an archive that fails is logged
// and the others are still imported: containerd keeps running either way,
// and a pod that needs a missing image says so in its events. It exits as
// containerd does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

func main() {
	images := flag.String("images", "/usr/share/minikit/images,/etc/kubernetes/images", "comma-separated `dirs` of image archives to import")
	address := flag.String("address", "/run/containerd/containerd.sock", "containerd's `socket`")
	ctr := flag.String("ctr", "/usr/bin/ctr", "the ctr `command`")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("prog", "containerd-node")
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: containerd-node [flags] -- CONTAINERD [ARG...]")
		os.Exit(2)
	}
	os.Exit(run(log, flag.Args(), strings.Split(*images, ","), *address, *ctr))
}

func run(log *slog.Logger, command, dirs []string, address, ctr string) int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP)
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		log.Error("start containerd", "err", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go importAll(ctx, log, dirs, address, ctr)

	for {
		select {
		case s := <-sigs:
			_ = cmd.Process.Signal(s)
		case err := <-done:
			return exitCode(log, err)
		}
	}
}

// exitCode is containerd's exit status as a shell would give it.
func exitCode(log *slog.Logger, err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			log.Error("containerd killed", "signal", ws.Signal())
			return 128 + int(ws.Signal())
		}
		log.Error("containerd exited", "status", ee.ExitCode())
		return ee.ExitCode()
	}
	log.Error("containerd", "err", err)
	return 1
}

// importAll waits for containerd to answer, then imports each archive.
func importAll(ctx context.Context, log *slog.Logger, dirs []string, address, ctr string) {
	archives := findArchives(log, dirs)
	if len(archives) == 0 {
		return
	}
	if err := waitForSocket(ctx, address); err != nil {
		return
	}
	for _, a := range archives {
		start := time.Now()
		cmd := exec.CommandContext(ctx, ctr, "--address", address, "--namespace", "k8s.io", "images", "import", a)
		out, err := cmd.CombinedOutput()
		if err != nil {
			log.Error("import image archive", "archive", a, "err", err, "output", strings.TrimSpace(string(out)))
			continue
		}
		log.Info("imported image archive", "archive", a, "took", time.Since(start).Round(time.Millisecond), "images", strings.TrimSpace(string(out)))
	}
}

// findArchives lists the *.tar files of dirs, each directory's in name order.
func findArchives(log *slog.Logger, dirs []string) []string {
	var archives []string
	for _, d := range dirs {
		if d == "" {
			continue
		}
		matches, err := filepath.Glob(filepath.Join(d, "*.tar"))
		if err != nil {
			log.Error("list image archives", "dir", d, "err", err)
			continue
		}
		sort.Strings(matches)
		archives = append(archives, matches...)
	}
	return archives
}

// waitForSocket returns once a connection to address succeeds, or when ctx
// ends (containerd has exited).
func waitForSocket(ctx context.Context, address string) error {
	for {
		c, err := net.DialTimeout("unix", address, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
