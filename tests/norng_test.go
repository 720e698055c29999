package tests

import (
	"testing"

	"github.com/minikit/minikit/tests/harness"
	"github.com/minikit/minikit/tools/qemu"
)

// TestDHCPWithoutHardwareRNG boots the DHCP system on a machine with no
// randomness but its own timing: no virtio-rng, a CPU without RDRAND or
// RDSEED, and TCG, under which the kernel's CRNG is ready only some 40 s
// after boot. A DHCP transaction id needs no secret randomness, so the
// onboot dhcpcd -1 must get its lease as soon as the link is up, not time
// out (after 30 s) waiting for the CRNG.
func TestDHCPWithoutHardwareRNG(t *testing.T) {
	image := build(t, "dhcp", "images/dhcp.yml")
	m := harness.Boot(t, image,
		harness.WithAccel(qemu.AccelTCG),
		harness.WithQEMU(func(o *qemu.Options) { o.NoRNG = true }))

	bound := m.Expect(`000-dhcpcd: .*msg="lease bound" iface=eth0 address=10\.0\.2\.15/24 `, bootTimeout)
	m.ExpectAfter(bound, `onboot 000-dhcpcd exited 0 in`, bootTimeout)
	m.Expect(`netcheck: resolv nameserver 10\.0\.2\.3$`, bootTimeout)
	// Whether this boot tested what it means to: the kernel says when its
	// CRNG is ready, which on such a machine comes after the lease.
	crng := m.Expect(`random: crng init done`, bootTimeout)
	t.Logf("console: the lease at line %d: %s", bound.Index, bound.Line)
	t.Logf("console: the CRNG ready at line %d: %s", crng.Index, crng.Line)
	m.Shutdown(bootTimeout)
}
