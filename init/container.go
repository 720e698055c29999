package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	"github.com/minikit/minikit/internal/bundle"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// runner starts containers from bundles through libcontainer.
type runner struct {
	stateDir     string // libcontainer's state, on tmpfs
	rootsDir     string // writable overlays for containers without a read-only root
	cgroupPrefix string // parent cgroup of every container without a cgroupsPath
	reaper       *reaper
	// starts holds a token for each start under way; nil: no bound.
	starts chan struct{}
}

// maxParallelStarts bounds the containers started at once. A start
// spends most of its time in system calls that hold an OS thread
// (fork and exec, the reads that wait for libcontainer's helpers), the
// Go runtime never lets an idle thread go, and a hundred services
// starting together left init with 75 threads for good, each with its
// stacks. Past a few, more at once start no sooner on a machine of a few
// CPUs.
const maxParallelStarts = 4

// container is one started container.
type container struct {
	id      string
	c       *libcontainer.Container
	proc    *libcontainer.Process
	pid     int
	cleanup func()
	r       *runner
	exited  <-chan struct{} // closed by the reaper once pid has exited
}

// startOption changes a bundle's spec before its container is created,
// for what init adds at run time (a service's notify socket).
type startOption func(*specs.Spec)

// start creates and starts the container described by the bundle in
// dir. Its output goes to out. The caller must call wait.
func (r *runner) start(id, dir string, out io.Writer, opts ...startOption) (*container, error) {
	if r.starts != nil {
		r.starts <- struct{}{}
		defer func() { <-r.starts }()
	}
	spec, err := bundle.ReadSpec(dir)
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		o(spec)
	}
	rt, err := readRuntime(dir)
	if err != nil {
		return nil, err
	}
	if err := rt.prepare(); err != nil {
		return nil, fmt.Errorf("runtime section of %s: %w", id, err)
	}
	root, cleanup, err := r.rootfs(id, dir, spec)
	if err != nil {
		return nil, err
	}
	spec.Root.Path = root
	if spec.Linux != nil && spec.Linux.CgroupsPath == "" {
		spec.Linux.CgroupsPath = r.cgroupPrefix + "/" + id
	}
	cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName:   id,
		Spec:         spec,
		NoNewKeyring: true,
	})
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("convert spec of %s: %w", id, err)
	}
	// A container of the same name from an earlier run (a restart) goes first.
	if old, err := libcontainer.Load(r.stateDir, id); err == nil {
		_ = old.Destroy()
	}
	c, err := libcontainer.Create(r.stateDir, id, cfg)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("create container %s: %w", id, err)
	}
	p := &libcontainer.Process{
		Args:   spec.Process.Args,
		Env:    spec.Process.Env,
		Cwd:    spec.Process.Cwd,
		UID:    int(spec.Process.User.UID),
		GID:    int(spec.Process.User.GID),
		Stdout: out,
		Stderr: out,
		Init:   true,
	}
	for _, g := range spec.Process.User.AdditionalGids {
		p.AdditionalGroups = append(p.AdditionalGroups, int(g))
	}

	release := r.reaper.holdStart()
	// Start creates the container's init in its namespaces, waiting to
	// exec; what the runtime section does to those namespaces happens
	// before Exec lets it run the container's command.
	err = c.Start(p)
	var pid int
	var exited <-chan struct{}
	if err == nil {
		pid, err = p.Pid()
	}
	if err == nil {
		exited = r.reaper.own(pid)
		if err = rt.created(pid); err == nil {
			err = c.Exec()
		}
	}
	release()
	if err != nil {
		_ = c.Destroy()
		if pid != 0 {
			// Created, then killed by Destroy: collect it here, since the
			// reaper leaves the pids it was told are owned.
			_, _ = p.Wait()
			r.reaper.disown(pid)
		}
		cleanup()
		return nil, fmt.Errorf("start container %s: %w", id, err)
	}
	// The container's init has installed its seccomp filter; libcontainer
	// keeps the rules (hundreds of syscall names, 60 KiB a container with
	// Docker's profile) for as long as the container runs, and never reads
	// them again. Config returns a copy whose Seccomp points at its own.
	if sc := c.Config().Seccomp; sc != nil {
		sc.Syscalls = nil
	}
	return &container{id: id, c: c, proc: p, pid: pid, cleanup: cleanup, r: r, exited: exited}, nil
}

// wait waits for the container's init to exit, destroys the container and
// returns the exit code (128+signal for a killed process).
func (c *container) wait() (int, error) {
	// libcontainer's Wait holds an OS thread in waitid(2) for as long as
	// the container runs (os.Process.Wait does): a thread, its stacks
	// and its signal stack for each service. Once the process has
	// exited, it returns at once.
	if err := awaitExit(c.pid); err != nil {
		slog.Debug("waiting for a container's exit with a thread of its own", "container", c.id, "err", err)
	}
	state, err := c.proc.Wait()
	c.r.reaper.disown(c.pid)
	code := -1
	if state != nil {
		code = exitCode(state.Sys().(syscall.WaitStatus))
		err = nil // a non-zero exit is a result, not a failure to wait
	}
	// Anything else left in the container (a pid: host container's
	// children, say) goes with it.
	_ = c.c.Signal(unix.SIGKILL)
	if derr := c.c.Destroy(); derr != nil && err == nil {
		err = fmt.Errorf("destroy %s: %w", c.id, derr)
	}
	c.cleanup()
	return code, err
}

func (c *container) signal(sig os.Signal) error {
	return c.proc.Signal(sig)
}

// awaitExit returns once the child pid has exited, leaving it to be
// reaped, without holding a thread while it runs: a pidfd becomes
// readable when its process exits, and Go's poller waits for that as
// for a socket. pid must be a child that nothing else reaps (the
// reaper leaves owned pids alone).
func awaitExit(pid int) error {
	f, err := openPidfd(pid)
	if err != nil {
		return err
	}
	defer f.Close()
	var waitErr error
	err = pollPidfd(f, func(fd int) bool {
		var exited bool
		exited, waitErr = hasExited(unix.P_PIDFD, fd)
		if errors.Is(waitErr, unix.EINTR) {
			return false
		}
		return waitErr != nil || exited
	})
	if err != nil {
		return err
	}
	return waitErr
}

// openPidfd opens a pidfd for pid, non-blocking, so that Go's poller
// can wait on it.
func openPidfd(pid int) (*os.File, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	return os.NewFile(uintptr(fd), "pidfd"), nil
}

// pollPidfd calls done with f's descriptor at once and again each time
// f becomes readable, until it reports true; f's read deadline, if set,
// bounds the wait. It holds no thread while it waits.
func pollPidfd(f *os.File, done func(fd int) bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Read(func(fd uintptr) bool { return done(int(fd)) })
}

func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// rootfs returns the root for the container: the bundle's rootfs itself
// when it is read-only, else an overlay with a tmpfs upper layer, since the
// image's root filesystem is read-only.
func (r *runner) rootfs(id, bundle string, spec *specs.Spec) (string, func(), error) {
	lower := spec.Root.Path
	if !filepath.IsAbs(lower) {
		lower = filepath.Join(bundle, lower)
	}
	if spec.Root.Readonly {
		return lower, func() {}, nil
	}
	dir := filepath.Join(r.rootsDir, id)
	_ = unmountOverlay(dir)
	_ = os.RemoveAll(dir)
	upper, work, merged := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "rootfs")
	for _, d := range []string{upper, work, merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", nil, err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return "", nil, fmt.Errorf("writable root for %s: overlay: %w (is the overlay module loaded?)", id, err)
	}
	return merged, func() {
		_ = unmountOverlay(dir)
		_ = os.RemoveAll(dir)
	}, nil
}

func unmountOverlay(dir string) error {
	err := unix.Unmount(filepath.Join(dir, "rootfs"), unix.MNT_DETACH)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}
