package main

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/netconf/internal/nettest"
)

// bootTimeout bounds how long a test waits for something that should come
// within a few retransmissions; it measures nothing.
const bootTimeout = 30 * time.Second

func TestLeaseIsAppliedThenReleasedOnStop(t *testing.T) {
	t.Parallel()
	l := newLAN(t)
	srv := l.dnsmasq(t,
		"--dhcp-option=option:mtu,1400",
		// Classless static routes replace the router option (RFC 3442).
		"--dhcp-option=option:classless-static-route,192.168.50.0/24,10.234.0.2,0.0.0.0/0,10.234.0.1",
	)
	p := startDhcpcd(t, l.cli, nil)
	m := p.expect(-1, leaseLine("bound", "eth0")+` server=10\.234\.0\.1 .*lease=2m0s`, bootTimeout)
	addr := netip.MustParsePrefix(m.groups[1])
	if !netip.MustParsePrefix("10.234.0.0/24").Contains(addr.Addr()) || addr.Bits() != 24 {
		t.Fatalf("leased %v, want an address of 10.234.0.0/24", addr)
	}

	addrs := l.addresses(t, "eth0")
	if len(addrs) != 1 || addrs[0].Prefix != addr || addrs[0].Lifetime <= 0 || addrs[0].Lifetime > 2*time.Minute {
		t.Errorf("eth0 has %v, want %v with the lease's lifetime (at most 2m)", addrs, addr)
	}
	routes := l.cli.IP(t, "-4", "route", "show", "dev", "eth0")
	for _, want := range []string{"default via 10.234.0.1 proto dhcp", "192.168.50.0/24 via 10.234.0.2 proto dhcp"} {
		if !strings.Contains(routes, want) {
			t.Errorf("routes lack %q:\n%s", want, routes)
		}
	}
	if link := l.cli.IP(t, "link", "show", "eth0"); !strings.Contains(link, "mtu 1400") {
		t.Errorf("the lease's MTU was not applied:\n%s", link)
	}
	if rc := p.resolvConf(); !strings.Contains(rc, "nameserver 10.234.0.53\n") || !strings.Contains(rc, "search lan.test\n") {
		t.Errorf("resolv.conf:\n%s", rc)
	}
	st := p.state("eth0")
	if st.State != "bound" || st.Lease == nil || st.Lease.Address != addr ||
		st.Lease.Server != netip.MustParseAddr("10.234.0.1") || st.Lease.Expires.IsZero() {
		t.Errorf("state file: %+v", st)
	}
	mac := l.mac(t, "eth0")
	if lease := srv.LeaseFor(mac); !strings.Contains(lease, addr.Addr().String()) {
		t.Errorf("dnsmasq's lease for %s is %q, want one for %v", mac, lease, addr.Addr())
	}

	if err := p.stop(); err != nil {
		t.Errorf("dhcpcd exited with %v after SIGTERM, want status 0", err)
	}
	p.expect(m.index, `msg="lease released" iface=eth0`, time.Second)
	if lease := srv.LeaseFor(mac); lease != "" {
		t.Errorf("dnsmasq still holds the lease after the release: %q", lease)
	}
	if !strings.Contains(srv.Log(), "DHCPRELEASE(srv0) "+addr.Addr().String()) {
		t.Errorf("dnsmasq logged no DHCPRELEASE for %v", addr.Addr())
	}
	if addrs := l.addresses(t, "eth0"); len(addrs) != 0 {
		t.Errorf("addresses left after stopping: %v", addrs)
	}
	if rc := p.resolvConf(); strings.Contains(rc, "nameserver") {
		t.Errorf("resolv.conf still names a server after stopping:\n%s", rc)
	}
	if st := p.state("eth0"); st.State != "released" {
		t.Errorf("state after stopping: %q, want released", st.State)
	}
}

func TestRenewsAtT1WithoutLosingTheAddress(t *testing.T) {
	t.Parallel()
	l := newLAN(t)
	srv := l.dnsmasq(t, timers(4, 8)...)
	removed := l.removals(t)
	p := startDhcpcd(t, l.cli, nil)
	bound := p.expect(-1, leaseLine("bound", "eth0"), bootTimeout)
	addr := netip.MustParsePrefix(bound.groups[1])
	prev := bound
	for i := range 3 {
		m := p.expect(prev.index, leaseLine("renewed", "eth0")+`.*renew_in=4s`, bootTimeout)
		if got := netip.MustParsePrefix(m.groups[1]); got != addr {
			t.Errorf("renewal %d gave %v, want %v again", i+1, got, addr)
		}
		prev = m
	}
	if n := strings.Count(srv.Log(), "DHCPACK(srv0) "+addr.Addr().String()); n < 4 {
		t.Errorf("dnsmasq sent %d ACKs, want the first and three renewals", n)
	}
	// A renewal refreshes the kernel's lifetime of the address.
	if addrs := l.addresses(t, "eth0"); len(addrs) != 1 || addrs[0].Lifetime < 100*time.Second {
		t.Errorf("after renewals eth0 has %v, want %v with nearly two minutes left", addrs, addr)
	}
	if r := removed(); len(r) != 0 {
		t.Errorf("addresses were removed while renewing: %v", r)
	}
	if n := p.count(`lease (lost|rebound)`); n != 0 {
		t.Errorf("%d leases lost or rebound with a server that answers every renewal", n)
	}
}

func TestServerGoneThenBackBeforeTheLeaseEnds(t *testing.T) {
	t.Parallel()
	l := newLAN(t)
	srv := l.dnsmasq(t, timers(3, 6)...)
	removed := l.removals(t)
	p := startDhcpcd(t, l.cli, []string{}, "-d")
	bound := p.expect(-1, leaseLine("bound", "eth0"), bootTimeout)
	srv.Stop()
	// Renewing goes unanswered; at T2 the client broadcasts.
	p.expect(bound.index, `msg=send iface=eth0 type=REQUEST to=255\.255\.255\.255 phase=rebinding`, bootTimeout)
	srv.Start(append(append([]string{}, dnsmasqArgs...), timers(3, 6)...)...)
	m := p.expect(bound.index, leaseLine("rebound", "eth0"), 2*time.Minute)
	if m.groups[1] != bound.groups[1] {
		t.Errorf("rebinding gave %s, want %s again", m.groups[1], bound.groups[1])
	}
	if r := removed(); len(r) != 0 {
		t.Errorf("addresses were removed though the server came back before the lease ended: %v", r)
	}
	if p.count(`lease lost`) != 0 {
		t.Errorf("the lease was lost though the server came back in time")
	}
}

func TestLeaseLostWhenTheServerStaysAwayThenRegained(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a two-minute lease to run out")
	}
	t.Parallel()
	l := newLAN(t)
	srv := l.dnsmasq(t, timers(3, 6)...)
	p := startDhcpcd(t, l.cli, nil)
	bound := p.expect(-1, leaseLine("bound", "eth0"), bootTimeout)
	addr := netip.MustParsePrefix(bound.groups[1])
	srv.Stop()

	lost := p.expect(bound.index, `msg="lease lost" iface=eth0 address=`+addr.String()+` .*reason=expired`, 3*time.Minute)
	if addrs := l.addresses(t, "eth0"); len(addrs) != 0 {
		t.Errorf("eth0 keeps %v after the lease was lost", addrs)
	}
	if routes := l.cli.IP(t, "-4", "route", "show", "dev", "eth0"); strings.TrimSpace(routes) != "" {
		t.Errorf("routes left after the lease was lost:\n%s", routes)
	}
	if rc := p.resolvConf(); strings.Contains(rc, "nameserver") {
		t.Errorf("resolv.conf keeps a server after the lease was lost:\n%s", rc)
	}
	if st := p.state("eth0"); st.State != "discovering" || st.Reason != "expired" || st.Lease != nil {
		t.Errorf("state after the loss: %+v", st)
	}

	srv.Start(append(append([]string{}, dnsmasqArgs...), timers(3, 6)...)...)
	again := p.expect(lost.index, leaseLine("bound", "eth0"), 2*time.Minute)
	if again.groups[1] != bound.groups[1] {
		t.Errorf("after the server came back: %s, want the old address %s (it is asked for)", again.groups[1], bound.groups[1])
	}
}

func TestNakRestartsDiscovery(t *testing.T) {
	t.Parallel()
	l := newLAN(t)
	first := append([]string{"--interface=srv0", "--dhcp-range=10.234.0.10,10.234.0.19,255.255.255.0,2m"}, timers(3, 6)...)
	srv := nettest.StartDnsmasq(t, l.srv, first...)
	removed := l.removals(t)
	p := startDhcpcd(t, l.cli, nil)
	bound := p.expect(-1, leaseLine("bound", "eth0"), bootTimeout)
	old := netip.MustParsePrefix(bound.groups[1])

	// The server comes back serving another range and forgetting its
	// leases: the renewal of the old address is refused.
	srv.Stop()
	srv.ForgetLeases()
	srv.Start("--interface=srv0", "--dhcp-authoritative", "--dhcp-range=10.234.0.100,10.234.0.119,255.255.255.0,2m")
	lost := p.expect(bound.index, `msg="lease lost" iface=eth0 address=`+old.String()+` .*reason="NAK from 10\.234\.0\.1`, bootTimeout)
	again := p.expect(lost.index, leaseLine("bound", "eth0"), bootTimeout)
	now := netip.MustParsePrefix(again.groups[1])
	if !netip.MustParsePrefix("10.234.0.96/27").Contains(now.Addr()) {
		t.Errorf("after the NAK the client got %v, want one of the new range", now)
	}
	addrs := l.addresses(t, "eth0")
	if len(addrs) != 1 || addrs[0].Prefix != now {
		t.Errorf("eth0 has %v, want only %v", addrs, now)
	}
	if r := removed(); !slices.Contains(r, old) {
		t.Errorf("the refused address %v was never removed (removed: %v)", old, r)
	}
}

func TestTwoInterfacesAndOneHotplugged(t *testing.T) {
	t.Parallel()
	l := newLAN(t)
	l.addLink(t, "srv1", "10.235.0.1/24", "eth1")
	// One server for all three links, the third of which comes later.
	l.dnsmasq(t,
		"--interface=srv1",
		"--dhcp-range=10.235.0.10,10.235.0.50,255.255.255.0,2m",
		"--dhcp-option=tag:srv1,option:router,10.235.0.1",
		"--dhcp-option=tag:srv1,option:dns-server,10.235.0.53",
		"--interface=srv2",
		"--dhcp-range=10.236.0.10,10.236.0.50,255.255.255.0,2m",
		"--dhcp-option=tag:srv2,option:router,10.236.0.1",
		"--dhcp-option=tag:srv2,option:dns-server,10.236.0.53",
	)
	p := startDhcpcd(t, l.cli, nil)
	a := p.expect(-1, leaseLine("bound", "eth0"), bootTimeout)
	b := p.expect(-1, leaseLine("bound", "eth1"), bootTimeout)
	if !strings.HasPrefix(a.groups[1], "10.234.0.") || !strings.HasPrefix(b.groups[1], "10.235.0.") {
		t.Errorf("eth0 got %s and eth1 %s, want one of each subnet", a.groups[1], b.groups[1])
	}

	// A third link appears after dhcpcd started.
	l.addLink(t, "srv2", "10.236.0.1/24", "eth2")
	p.expect(-1, `msg="interface added" iface=eth2`, bootTimeout)
	c := p.expect(-1, leaseLine("bound", "eth2"), bootTimeout)
	if !strings.HasPrefix(c.groups[1], "10.236.0.") {
		t.Errorf("the hot-plugged eth2 got %s, want 10.236.0.x", c.groups[1])
	}

	defaults := l.cli.IP(t, "-4", "route", "show", "default")
	for _, want := range []string{"via 10.234.0.1 dev eth0", "via 10.235.0.1 dev eth1", "via 10.236.0.1 dev eth2"} {
		if !strings.Contains(defaults, want) {
			t.Errorf("default routes lack %q:\n%s", want, defaults)
		}
	}
	rc := p.resolvConf()
	for _, want := range []string{"nameserver 10.234.0.53", "nameserver 10.235.0.53", "nameserver 10.236.0.53"} {
		if !strings.Contains(rc, want) {
			t.Errorf("resolv.conf lacks %q:\n%s", want, rc)
		}
	}

	// And goes away again.
	l.cli.IP(t, "link", "del", "eth2")
	p.expect(c.index, `msg="interface removed" iface=eth2`, bootTimeout)
	deadline := time.Now().Add(bootTimeout)
	for strings.Contains(p.resolvConf(), "10.236.0.53") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if rc := p.resolvConf(); strings.Contains(rc, "10.236.0.53") || !strings.Contains(rc, "10.235.0.53") {
		t.Errorf("after eth2 went, resolv.conf:\n%s", rc)
	}
}

func TestCarrierBackMeansAskingAtOnce(t *testing.T) {
	t.Parallel()
	l := newLAN(t)
	l.dnsmasq(t)
	l.srv.IP(t, "link", "set", "srv0", "down") // eth0 loses its carrier
	p := startDhcpcd(t, l.cli, nil, "-d")
	// Unanswered DISCOVERs back off: 4 s, then 8 s, …
	third := p.expect(-1, `msg=send iface=eth0 type=DISCOVER .*phase=selecting try=3`, bootTimeout)
	l.srv.IP(t, "link", "set", "srv0", "up")
	up := p.expect(third.index, `msg="carrier up" iface=eth0`, bootTimeout)
	// The next DISCOVER starts the backoff over instead of being the
	// fourth of the series, sent when its 16 s wait ends.
	next := p.expect(up.index, `msg=send iface=eth0 type=DISCOVER .*try=(\d+)`, bootTimeout)
	if next.groups[1] != "1" {
		t.Errorf("after the carrier came back the client sent try %s, want 1 (asked at once)", next.groups[1])
	}
	p.expect(next.index-1, leaseLine("bound", "eth0"), bootTimeout)
}

// A domain name that would add a line to resolv.conf is logged and left
// out; the rest of the lease is applied.
func TestServersDomainThatIsNoDNSNameIsLoggedAndLeftOut(t *testing.T) {
	t.Parallel()
	l := newLAN(t)
	nettest.StartDnsmasq(t, l.srv,
		"--interface=srv0",
		"--dhcp-range=10.234.0.10,10.234.0.50,255.255.255.0,2m",
		"--dhcp-option=option:router,10.234.0.1",
		"--dhcp-option=option:dns-server,10.234.0.53",
		"--dhcp-option=option:domain-name,evil.test nameserver 6.6.6.6",
	)
	p := startDhcpcd(t, l.cli, nil)
	ignored := p.expect(-1, `level=WARN msg="ignored from the server" iface=eth0 server=10\.234\.0\.1 value="option 15 \(domain name\): domain name \\"evil\.test nameserver 6\.6\.6\.6\\": `, bootTimeout)
	p.expect(ignored.index, leaseLine("bound", "eth0"), bootTimeout)
	want := "# Written by dhcpcd from eth0; it is rewritten whenever a lease changes.\nnameserver 10.234.0.53\n"
	if rc := p.resolvConf(); rc != want {
		t.Errorf("resolv.conf:\n%s\nwant\n%s", rc, want)
	}
}
