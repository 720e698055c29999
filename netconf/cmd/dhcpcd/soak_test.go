package main

import (
	"flag"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/netconf"
)

// soakEnv runs the soak test along with the others.
const soakEnv = "MINIKIT_SOAK"

// TestSoakRenewalsForFiveMinutes is the acceptance run: with a
// 30-second lease's timers the client renews for five minutes and never
// loses its address. dnsmasq leases for two minutes at the least, so the
// lease is two minutes and the timers a 30-second lease gets (T1 15 s,
// T2 26 s) are sent as options 58 and 59: the client renews as often as
// with a 30-second lease, and would lose the address two minutes after a
// missed renewal instead of 30 seconds.
//
// It runs only with MINIKIT_SOAK=1 or when -run names it (-run Soak).
func TestSoakRenewalsForFiveMinutes(t *testing.T) {
	if os.Getenv(soakEnv) != "1" && !runNamesSoak() {
		t.Skip("takes five minutes: set " + soakEnv + "=1 or run it by name (-run Soak)")
	}
	l := newLAN(t)
	srv := l.dnsmasq(t, timers(15, 26)...)
	removed := l.removals(t)
	p := startDhcpcd(t, l.cli, nil)
	bound := p.expect(-1, leaseLine("bound", "eth0"), bootTimeout)
	addr := netip.MustParsePrefix(bound.groups[1])

	const soak = 5 * time.Minute
	for end := time.Now().Add(soak); time.Now().Before(end); time.Sleep(5 * time.Second) {
		addrs := l.addresses(t, "eth0")
		if !slices.ContainsFunc(addrs, func(a netconf.Address) bool { return a.Prefix == addr }) {
			t.Fatalf("%v before the end of the soak eth0 has %v, not %v", time.Until(end).Round(time.Second), addrs, addr)
		}
	}
	renewals := p.count(leaseLine("renewed", "eth0"))
	// 300 s / 15 s is 20 renewals; retransmission jitter may cost one.
	if renewals < 19 {
		t.Errorf("%d renewals in %v with T1 15 s, want about 20", renewals, soak)
	}
	if r := removed(); len(r) != 0 {
		t.Errorf("addresses were removed during the soak: %v", r)
	}
	if n := p.count(`lease (lost|rebound)|offer refused`); n != 0 {
		t.Errorf("%d leases lost, rebound or refused during the soak", n)
	}
	if n := strings.Count(srv.Log(), "DHCPNAK"); n != 0 {
		t.Errorf("dnsmasq sent %d NAKs", n)
	}
	t.Logf("%d renewals in %v, address %v kept throughout", renewals, soak, addr)
}

func runNamesSoak() bool {
	f := flag.Lookup("test.run")
	return f != nil && strings.Contains(f.Value.String(), "Soak")
}
