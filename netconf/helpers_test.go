package netconf_test

import (
	"testing"

	"github.com/minikit/minikit/netconf"
	"github.com/minikit/minikit/netconf/internal/nettest"
)

// testLink makes a namespace holding one end ("dh0") of a veth pair whose
// other end sits, up, in a second namespace, and returns a Handle on the
// first.
func testLink(t *testing.T) (*netconf.Handle, *nettest.Namespace) {
	t.Helper()
	ns := nettest.NewNamespace(t)
	peer := nettest.NewNamespace(t)
	nettest.Veth(t, peer, "peer0", "", ns, "dh0")
	h, err := netconf.OpenAt(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h, ns
}
