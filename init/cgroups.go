package main

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/minikit/minikit/internal/control"
)

// Every service runs in a cgroup of its own (cgroup2), which libcontainer
// creates from the spec's cgroupsPath (by default /minikit/NAME) and
// where it applies the spec's resources. Here it is only read, for the
// figures of `svcctl list` and `svcctl status`: five small files, read
// directly. (containerd's cgroups library read them before, at the cost
// of a third of init's binary: its protobuf stats types keep every method
// of every type alive.)

// cgroupDir is a service's cgroup, opened once when its container starts
// and read at every `svcctl list`: a list of 100 services reads 500
// files, and a path walk for each (or, where the group is missing, a
// failed one) would cost more than the reads.
type cgroupDir struct {
	group string
	mu    sync.Mutex // fd is closed when the container ends, maybe during a read
	fd    int
}

// openCgroup opens the cgroup at group, a path under the cgroup2 mount
// (/sys/fs/cgroup).
func openCgroup(mountpoint, group string) (*cgroupDir, error) {
	fd, err := unix.Open(filepath.Join(mountpoint, group), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", group, err)
	}
	return &cgroupDir{group: group, fd: fd}, nil
}

// Close lets the group go; Usage fails from then on.
func (d *cgroupDir) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fd >= 0 {
		unix.Close(d.fd)
		d.fd = -1
	}
}

// Usage reads the group's CPU, memory and pids figures. A figure whose
// controller is not enabled for the group stays 0.
func (d *cgroupDir) Usage() (*control.Usage, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fd < 0 {
		return nil, fmt.Errorf("cgroup %s: closed", d.group)
	}
	var buf [512]byte
	read := func(name string) []byte {
		fd, err := unix.Openat(d.fd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil
		}
		defer unix.Close(fd)
		n, err := unix.Read(fd, buf[:])
		if err != nil || n <= 0 {
			return nil
		}
		return buf[:n]
	}
	u := &control.Usage{Cgroup: d.group}
	u.MemoryBytes, _ = cgroupValue(read("memory.current"))
	u.MemoryLimit, _ = cgroupValue(read("memory.max"))
	u.Pids, _ = cgroupValue(read("pids.current"))
	u.PidsLimit, _ = cgroupValue(read("pids.max"))
	u.CPUMicros = cgroupKey(read("cpu.stat"), "usage_usec")
	return u, nil
}

// cgroupValue reads a cgroup file of one number; "max" (no limit) is 0.
func cgroupValue(b []byte) (uint64, error) {
	b = bytes.TrimSpace(b)
	if string(b) == "max" {
		return 0, nil
	}
	if len(b) == 0 {
		return 0, errors.New("empty")
	}
	return strconv.ParseUint(string(b), 10, 64)
}

// cgroupKey reads the value of key in a flat-keyed cgroup file ("key
// value" lines, as cpu.stat).
func cgroupKey(b []byte, key string) uint64 {
	for len(b) > 0 {
		line, rest, _ := bytes.Cut(b, []byte{'\n'})
		b = rest
		if k, v, ok := bytes.Cut(line, []byte{' '}); ok && string(k) == key {
			n, _ := strconv.ParseUint(string(v), 10, 64)
			return n
		}
	}
	return 0
}
