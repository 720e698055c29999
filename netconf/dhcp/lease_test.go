package dhcp

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/rfc1035label"
	"github.com/minikit/minikit/netconf"
)

func ackWith(t *testing.T, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	req, err := dhcpv4.NewDiscovery(testHW)
	if err != nil {
		t.Fatal(err)
	}
	srv := newFakeServer()
	srv.extra = mods
	return srv.ack(t, req)
}

func TestLeaseTimers(t *testing.T) {
	tests := []struct {
		name           string
		lease, t1, t2  time.Duration
		wantT1, wantT2 time.Duration
	}{
		{"defaults are half and seven eighths", 120 * time.Second, 0, 0, 60 * time.Second, 105 * time.Second},
		{"the server's T1 and T2 are used", 120 * time.Second, 10 * time.Second, 20 * time.Second, 10 * time.Second, 20 * time.Second},
		{"a T2 past the lease's end is replaced", 120 * time.Second, 10 * time.Second, 200 * time.Second, 10 * time.Second, 105 * time.Second},
		{"a T1 after T2 is replaced", 120 * time.Second, 110 * time.Second, 100 * time.Second, 60 * time.Second, 100 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer()
			srv.lease, srv.t1, srv.t2 = tt.lease, tt.t1, tt.t2
			req, _ := dhcpv4.NewDiscovery(testHW)
			l, err := leaseFromACK(srv.ack(t, req), t0)
			if err != nil {
				t.Fatal(err)
			}
			if l.Renew.Sub(t0) != tt.wantT1 || l.Rebind.Sub(t0) != tt.wantT2 || l.Expires.Sub(t0) != tt.lease {
				t.Errorf("T1 %v T2 %v end %v, want %v %v %v",
					l.Renew.Sub(t0), l.Rebind.Sub(t0), l.Expires.Sub(t0), tt.wantT1, tt.wantT2, tt.lease)
			}
		})
	}
}

func TestLeaseOptions(t *testing.T) {
	ack := ackWith(t,
		dhcpv4.WithOption(dhcpv4.OptDomainName("example.test.")),
		dhcpv4.WithOption(dhcpv4.OptDomainSearch(&rfc1035label.Labels{Labels: []string{"a.test", "b.test"}})),
		dhcpv4.WithOption(dhcpv4.OptHostName("guest")),
		dhcpv4.WithGeneric(dhcpv4.OptionInterfaceMTU, []byte{0x05, 0xdc}),
	)
	l, err := leaseFromACK(ack, t0)
	if err != nil {
		t.Fatal(err)
	}
	if l.Domain != "example.test" || !slices.Equal(l.Search, []string{"a.test", "b.test"}) || l.MTU != 1500 || l.Hostname != "guest" {
		t.Errorf("lease %+v", l)
	}
	s := l.Settings("eth0", false)
	want := []netconf.Route{{Dst: netconf.DefaultRoute, Gateway: netip.MustParseAddr("10.0.0.1")}}
	if !slices.Equal(s.Routes, want) || s.MTU != 1500 || s.Hostname != "" || !s.Expires.Equal(l.Expires) {
		t.Errorf("settings without the host name asked for: %+v", s)
	}
	if s := l.Settings("eth0", true); s.Hostname != "guest" {
		t.Errorf("settings with the host name asked for carry %q", s.Hostname)
	}
}

func TestClasslessRoutesReplaceTheRouterOption(t *testing.T) {
	ack := ackWith(t, dhcpv4.WithOption(dhcpv4.OptClasslessStaticRoute(
		&dhcpv4.Route{Dest: &net.IPNet{IP: net.IPv4(192, 168, 9, 0), Mask: net.CIDRMask(24, 32)}, Router: net.IPv4(10, 0, 0, 9)},
		&dhcpv4.Route{Dest: &net.IPNet{IP: net.IPv4(0, 0, 0, 0), Mask: net.CIDRMask(0, 32)}, Router: net.IPv4(10, 0, 0, 254)},
		&dhcpv4.Route{Dest: &net.IPNet{IP: net.IPv4(10, 9, 0, 0), Mask: net.CIDRMask(16, 32)}, Router: net.IPv4(0, 0, 0, 0)},
	)))
	l, err := leaseFromACK(ack, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := []netconf.Route{
		{Dst: netip.MustParsePrefix("192.168.9.0/24"), Gateway: netip.MustParseAddr("10.0.0.9")},
		{Dst: netconf.DefaultRoute, Gateway: netip.MustParseAddr("10.0.0.254")},
		{Dst: netip.MustParsePrefix("10.9.0.0/16")}, // router 0.0.0.0: on the link
	}
	if got := l.Settings("eth0", false).Routes; !slices.Equal(got, want) {
		t.Errorf("routes %v, want %v (the router option 10.0.0.1 ignored, RFC 3442)", got, want)
	}
}

func TestLeaseWithoutMaskIsClassful(t *testing.T) {
	ack := ackWith(t)
	ack.Options.Del(dhcpv4.OptionSubnetMask)
	l, err := leaseFromACK(ack, t0)
	if err != nil {
		t.Fatal(err)
	}
	if l.Address.Bits() != 8 {
		t.Errorf("10.0.0.50 without a mask got /%d, want /8 (class A)", l.Address.Bits())
	}
}

func TestUnusableLeases(t *testing.T) {
	noServer := ackWith(t)
	noServer.Options.Del(dhcpv4.OptionServerIdentifier)
	noAddress := ackWith(t, dhcpv4.WithYourIP(net.IPv4zero))
	tinyMTU := ackWith(t, dhcpv4.WithGeneric(dhcpv4.OptionInterfaceMTU, []byte{0, 20}))
	for name, ack := range map[string]*dhcpv4.DHCPv4{"no server identifier": noServer, "no address": noAddress} {
		if _, err := leaseFromACK(ack, t0); !errors.Is(err, ErrBadLease) {
			t.Errorf("%s: %v, want ErrBadLease", name, err)
		}
	}
	if l, err := leaseFromACK(tinyMTU, t0); err != nil || l.MTU != 0 {
		t.Errorf("an MTU of 20 gave %v, %v; want it ignored", l, err)
	}
}
