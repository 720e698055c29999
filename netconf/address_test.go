package netconf_test

import (
	"net/netip"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/minikit/minikit/netconf"
)

func TestAddressLifetimeIsTheKernels(t *testing.T) {
	h, ns := testLink(t)
	p := netip.MustParsePrefix("10.77.0.5/24")
	if err := h.SetAddress("dh0", netconf.Address{Prefix: p, Lifetime: 90 * time.Second}); err != nil {
		t.Fatal(err)
	}
	out := ns.IP(t, "-4", "addr", "show", "dh0")
	m := regexp.MustCompile(`inet 10\.77\.0\.5/24 .*\n\s+valid_lft (\d+)sec preferred_lft (\d+)sec`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("ip shows no 10.77.0.5/24 with a lifetime:\n%s", out)
	}
	if v, _ := strconv.Atoi(m[1]); v < 80 || v > 90 {
		t.Errorf("valid_lft %ss, want about 90s", m[1])
	}

	// Setting it again refreshes the lifetime rather than adding a second address.
	if err := h.SetAddress("dh0", netconf.Address{Prefix: p, Lifetime: 3600 * time.Second}); err != nil {
		t.Fatal(err)
	}
	addrs, err := h.Addresses("dh0")
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 1 || addrs[0].Prefix != p || addrs[0].Lifetime < 3500*time.Second {
		t.Errorf("after refreshing: %v, want only %v with about an hour left", addrs, p)
	}

	// And from a lifetime to none.
	if err := h.SetAddress("dh0", netconf.Address{Prefix: p}); err != nil {
		t.Fatal(err)
	}
	if addrs, _ := h.Addresses("dh0"); len(addrs) != 1 || addrs[0].Lifetime != 0 {
		t.Errorf("after setting it forever: %v", addrs)
	}
}

func TestRemoveAddress(t *testing.T) {
	h, _ := testLink(t)
	p := netip.MustParsePrefix("10.77.0.5/24")
	if err := h.SetAddress("dh0", netconf.Address{Prefix: p}); err != nil {
		t.Fatal(err)
	}
	if err := h.RemoveAddress("dh0", p); err != nil {
		t.Fatal(err)
	}
	if addrs, _ := h.Addresses("dh0"); len(addrs) != 0 {
		t.Errorf("addresses after removal: %v", addrs)
	}
	if err := h.RemoveAddress("dh0", p); err != nil {
		t.Errorf("removing an address that is gone: %v, want no error", err)
	}
}

func TestAddressExpiresInTheKernel(t *testing.T) {
	if testing.Short() {
		t.Skip("waits two seconds for the kernel to expire an address")
	}
	h, _ := testLink(t)
	p := netip.MustParsePrefix("10.77.0.5/24")
	if err := h.SetAddress("dh0", netconf.Address{Prefix: p, Lifetime: time.Second}); err != nil {
		t.Fatal(err)
	}
	// The kernel checks lifetimes on a timer of its own; give it a while.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if addrs, _ := h.Addresses("dh0"); len(addrs) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	addrs, _ := h.Addresses("dh0")
	t.Errorf("address with a one-second lifetime still there after 10s: %v", addrs)
}
