package main

import (
	"fmt"
	"math"

	"github.com/containerd/cgroups/v3/cgroup2"
	"github.com/minikit/minikit/internal/control"
)

// Every service runs in a cgroup of its own (cgroup2), which libcontainer
// creates from the spec's cgroupsPath (by default /minikit/NAME) and
// where it applies the spec's resources. Here it is only read, for the
// figures of `svcctl list` and `svcctl status`.

// cgroupUsage reads the CPU, memory and pids figures of the cgroup at
// group, a path under the cgroup2 mount (/sys/fs/cgroup).
func cgroupUsage(mountpoint, group string) (*control.Usage, error) {
	m, err := cgroup2.Load(group, cgroup2.WithMountpoint(mountpoint))
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", group, err)
	}
	st, err := m.StatFiltered(cgroup2.StatCPU | cgroup2.StatMemory | cgroup2.StatPids)
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", group, err)
	}
	u := &control.Usage{Cgroup: group}
	if st.Memory != nil {
		u.MemoryBytes = st.Memory.Usage
		u.MemoryLimit = noLimit(st.Memory.UsageLimit)
	}
	if st.CPU != nil {
		u.CPUMicros = st.CPU.UsageUsec
	}
	if st.Pids != nil {
		u.Pids = st.Pids.Current
		u.PidsLimit = noLimit(st.Pids.Limit)
	}
	return u, nil
}

// noLimit turns the "max" of a cgroup file, which the library reads as
// the largest number, into 0.
func noLimit(v uint64) uint64 {
	if v == math.MaxUint64 {
		return 0
	}
	return v
}
