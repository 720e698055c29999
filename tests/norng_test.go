package tests

import (
	"fmt"
	"strings"
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
	// CRNG is ready, which on such a machine comes well after the lease
	// (if at all before the test ends).
	crng := "not yet"
	for i, line := range m.Lines()[:bound.Index] {
		if strings.Contains(line, "random: crng init done") {
			crng = fmt.Sprintf("at console line %d, before the lease at line %d: this machine had entropy", i, bound.Index)
		}
	}
	t.Logf("lease: %s; the CRNG ready: %s", bound.Line, crng)
	m.Shutdown(bootTimeout)
}
