package tests

import (
	"testing"

	"github.com/minikit/minikit/tests/harness"
)

// TestLeastPrivilegeDefaults boots once and checks from inside that a
// bare busybox service runs confined (it cannot plant a core_pattern for
// the kernel to run as root, nor read the kernel's keys; it has
// no_new_privs and Docker's seccomp filter), and that the system
// containers that need more still do their jobs: sysctl's settings are in
// effect, dhcpcd configured the link and wrote resolv.conf.
func TestLeastPrivilegeDefaults(t *testing.T) {
	image := build(t, "security", "images/security.yml", "images/poweroff.yml")
	m := harness.Boot(t, image)

	m.Expect(`onboot 000-sysctl exited 0 in`, bootTimeout)
	m.Expect(`001-dhcpcd: .*msg="lease bound" iface=eth0 address=10\.0\.2\.15/24`, bootTimeout)
	for _, want := range []string{
		`probe: core_pattern: refused`,
		`probe: keys: 0 bytes`,
		`probe: status: NoNewPrivs: 1 Seccomp: 2 `,
		`probe: unshare: refused`,
		`probe: nofile: 1024:4096`,
		`probe: kexec_load_disabled: 1`, // set by the sysctl onboot entry
		`probe: in /run/minikit: control\.sock $`,
		`probe: resolv: nameserver 10\.0\.2\.3`,
	} {
		m.Expect(want, bootTimeout)
	}
	m.Expect(`probe: probe done`, bootTimeout)
	if exit := m.WaitExit(bootTimeout); !exit.Clean() {
		t.Fatalf("the system did not power off cleanly: %v", exit)
	}
}
