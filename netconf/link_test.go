package netconf_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/minikit/minikit/netconf"
)

func TestLinkUpAndDownAreSeenByIP(t *testing.T) {
	h, ns := testLink(t)
	if err := h.LinkDown("dh0"); err != nil {
		t.Fatal(err)
	}
	if l, _ := h.Link("dh0"); l.Up {
		t.Errorf("dh0 is up after LinkDown")
	}
	if out := ns.IP(t, "link", "show", "dh0"); strings.Contains(out, ",UP") {
		t.Errorf("ip still shows dh0 up after LinkDown:\n%s", out)
	}
	if err := h.LinkUp("dh0"); err != nil {
		t.Fatal(err)
	}
	l, err := h.Link("dh0")
	if err != nil {
		t.Fatal(err)
	}
	if !l.Up || !l.Carrier {
		t.Errorf("after LinkUp dh0 is up=%v carrier=%v, want both (its peer is up)", l.Up, l.Carrier)
	}
	if len(l.HardwareAddr) != 6 {
		t.Errorf("dh0 has hardware address %v, want an Ethernet one", l.HardwareAddr)
	}
}

func TestLinkThatDoesNotExist(t *testing.T) {
	h, _ := testLink(t)
	err := h.LinkUp("nosuch0")
	if !errors.Is(err, netconf.ErrNoLink) || !strings.Contains(err.Error(), "nosuch0") {
		t.Errorf("LinkUp(nosuch0) = %v, want an error naming it and wrapping ErrNoLink", err)
	}
}

func TestSetMTU(t *testing.T) {
	h, ns := testLink(t)
	if err := h.SetMTU("dh0", 1400); err != nil {
		t.Fatal(err)
	}
	if out := ns.IP(t, "link", "show", "dh0"); !strings.Contains(out, "mtu 1400") {
		t.Errorf("ip link shows no mtu 1400 after SetMTU:\n%s", out)
	}
	if err := h.SetMTU("dh0", 1400); err != nil {
		t.Errorf("setting the same MTU again: %v", err)
	}
}

func TestLinksListsLoopbackAndVeth(t *testing.T) {
	h, _ := testLink(t)
	links, err := h.Links()
	if err != nil {
		t.Fatal(err)
	}
	var lo, dh0 bool
	for _, l := range links {
		lo = lo || (l.Name == "lo" && l.Loopback)
		dh0 = dh0 || (l.Name == "dh0" && !l.Loopback)
	}
	if !lo || !dh0 {
		t.Errorf("Links() = %+v, want lo (loopback) and dh0", links)
	}
}
