package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/minikit/minikit/init/boottime"
	"github.com/opencontainers/runc/libcontainer/exeseal"
	"golang.org/x/sys/unix"
)

// A container must never reach the binary of the runtime that started it
// (CVE-2019-5736), so libcontainer gives each new container's init a
// sealed clone of /proc/self/exe. It tries a read-only overlay mount of
// the binary's directory first, which costs nothing, but PID 1's binary
// is the initramfs copy, deleted when the first stage switches to the
// root image: the overlay cannot find it, and every container start
// copied 8 MiB into a new memfd (0.27 s a start under TCG). When
// /proc/self/exe is a sealed memfd already, libcontainer uses it as it
// is. So PID 1 makes that copy once, at the start, and runs from it.
//
// The copy costs no memory: the initramfs copy, mapped by nothing once
// PID 1 runs from the memfd, is freed with the rest of the initramfs.

// sealSelf re-executes PID 1 from a sealed memfd copy of its binary, when
// it runs from the initramfs of a first stage or in host test mode. It
// returns only when it did not: already sealed, another kind of root
// (where the overlay works, and a copy would hold 8 MiB for nothing), or
// a failure, which costs only the copy at each start and is said on the
// console.
func sealSelf() {
	err := reexecSealed(boottime.Now())
	if err != nil && !errors.Is(err, errNoSealNeeded) {
		fmt.Fprintf(os.Stderr, "init: each container start copies init's binary: running from a sealed copy failed: %v\n", err)
	}
}

var errNoSealNeeded = errors.New("no sealed copy needed")

// selfSealEnv carries when the copy began and ended across the exec, for
// the boot timeline.
const selfSealEnv = "MINIKIT_SELF_SEAL"

func reexecSealed(start time.Duration) error {
	if os.Getenv(hostRootEnv) == "" {
		if !isStageOne() {
			return errNoSealNeeded
		}
		// The kernel starts PID 1 with nothing mounted. /proc is mounted
		// to open the binary and to run the copy through
		// /proc/self/fd/N; it stays mounted across the exec, and the new
		// PID 1 unmounts it here, so that init starts again from the
		// state the kernel left (but for the empty directory, which the
		// early mounts would have made).
		if os.Getenv(selfSealEnv) == "" {
			if err := os.MkdirAll("/proc", 0o555); err != nil {
				return err
			}
			if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
				return fmt.Errorf("mount /proc: %w", err)
			}
		}
		defer unix.Unmount("/proc", unix.MNT_DETACH)
	}
	if exeseal.IsSelfExeCloned() {
		nameThreads()
		return errNoSealNeeded
	}
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		return err
	}
	defer self.Close()
	// exeseal.Memfd, not CloneBinary, which falls back to a file that is
	// not a memfd: libcontainer would not take it as sealed, and PID 1
	// would make its copy at every start of its own.
	clone, seal, err := exeseal.Memfd(filepath.Base(os.Args[0]))
	if err != nil {
		return err
	}
	defer clone.Close()
	if err := copyInKernel(clone, self); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if err := seal(&clone); err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	if !exeseal.IsCloned(clone) {
		return errors.New("the copy is not sealed")
	}
	// syscall.Exec, not a bare execveat of the descriptor: Go raised this
	// process's RLIMIT_NOFILE soft limit, and Exec puts back the one the
	// kernel gave, which the containers' inits then start from (a bare
	// exec left every container the raised limit instead of the one its
	// spec asks for).
	env := append(os.Environ(), fmt.Sprintf("%s=%s,%d,%d", selfSealEnv, phaseSelfSeal, start, boottime.Now()))
	return syscall.Exec("/proc/self/fd/"+strconv.Itoa(int(clone.Fd())), os.Args, env)
}

// nameThreads gives every thread of PID 1 the name of the command it was
// started as ("init"): the kernel names a process after the path it ran,
// here /proc/self/fd/N, and ps, top and /proc/1/status would show a
// number. Threads started later inherit the name.
func nameThreads() {
	name := []byte(filepath.Base(os.Args[0]))
	if len(name) > 15 { // TASK_COMM_LEN, with its NUL
		name = name[:15]
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return
	}
	for _, t := range tasks {
		_ = os.WriteFile("/proc/self/task/"+t.Name()+"/comm", name, 0)
	}
}

// copyInKernel copies src to the end of dst with sendfile(2), which moves
// the pages within the kernel: io.Copy, which cannot use copy_file_range
// from the initramfs to a memfd (another filesystem), reads every page
// into a buffer and writes it out again, two copies where one does, and
// this copy is on the boot's critical path. It falls back to io.Copy
// where sendfile cannot go.
func copyInKernel(dst, src *os.File) error {
	var copied int64
	for {
		n, err := unix.Sendfile(int(dst.Fd()), int(src.Fd()), nil, 1<<30)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if (errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS)) && copied == 0 {
			_, err = io.Copy(dst, src)
			return err
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		copied += int64(n)
	}
}
