package harness

import (
	"strings"

	"github.com/minikit/minikit/tools/qemu"
)

// Option changes the machine Boot starts.
type Option func(*config)

type config struct {
	qemu    qemu.Options
	cmdline []string
	// forwards are guest TCP ports to reach from the host on a free port.
	forwards []int
}

// WithMemory gives the guest mib MiB of RAM.
func WithMemory(mib int) Option { return func(c *config) { c.qemu.MemoryMiB = mib } }

// WithCPUs gives the guest n virtual CPUs.
func WithCPUs(n int) Option { return func(c *config) { c.qemu.CPUs = n } }

// WithAccel forces KVM or TCG instead of probing.
func WithAccel(a qemu.Accel) Option { return func(c *config) { c.qemu.Accel = a } }

// WithCmdline appends arguments to the kernel command line the image was
// built with.
func WithCmdline(args ...string) Option {
	return func(c *config) { c.cmdline = append(c.cmdline, args...) }
}

// WithForward makes a guest TCP port reachable from the host on a free
// local port; Machine.HostAddr tells which.
func WithForward(guestPort int) Option {
	return func(c *config) { c.forwards = append(c.forwards, guestPort) }
}

// WithDisk attaches a raw disk image, created sparse with size bytes when
// the file does not exist.
func WithDisk(path string, size int64) Option {
	return func(c *config) { c.qemu.Disks = append(c.qemu.Disks, qemu.Disk{Path: path, Size: size}) }
}

// WithQEMU changes the qemu options directly, for whatever the other
// options do not cover.
func WithQEMU(change func(*qemu.Options)) Option {
	return func(c *config) { change(&c.qemu) }
}

func (c *config) kernelCmdline(image string) string {
	return strings.TrimSpace(strings.Join(append([]string{strings.TrimSpace(image)}, c.cmdline...), " "))
}
