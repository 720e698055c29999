package tests

import (
	"testing"

	"github.com/minikit/minikit/tests/harness"
)

// TestRuntimeInterfacesAndBoundNamespaces boots LinuxKit's wireguard shape:
// an onboot entry gets a WireGuard interface created in the root namespace
// and moved into its own, another a veth pair, both bind their network
// namespaces under /run/netns, and services that name those paths as
// their net: run inside them.
func TestRuntimeInterfacesAndBoundNamespaces(t *testing.T) {
	image := build(t, "namespaces", "images/namespaces.yml", "images/poweroff.yml")
	m := harness.Boot(t, image)
	m.Expect(`onboot 000-wg exited 0`, bootTimeout)
	m.Expect(`onboot 001-veth exited 0`, bootTimeout)
	m.Expect(`inwg: addr \d+: wg0 +inet 192\.168\.2\.1 peer 192\.168\.2\.2/32`, bootTimeout)
	links := m.Expect(`inwg: links: (.*)$`, bootTimeout)
	if links.Groups[1] != "lo wg0" {
		t.Errorf("the service in /run/netns/wg sees the links %q, want lo and wg0 alone", links.Groups[1])
	}
	m.Expect(`inveth: addr \d+: vin +inet 10\.9\.0\.2/24`, bootTimeout)
	// The peer stays in the root namespace, for a bridge; wg0 does not.
	m.Expect(`inroot: link \d+: vout@`, bootTimeout)
	m.Expect(`inroot: has wg0: 0`, bootTimeout)
	if exit := m.WaitExit(bootTimeout); !exit.Clean() {
		t.Fatalf("the system did not power off cleanly: %v", exit)
	}
}
