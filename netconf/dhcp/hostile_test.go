package dhcp

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/rfc1035label"
	"github.com/minikit/minikit/netconf"
)

// A server that puts resolv.conf syntax into its domain name and search
// list gets none of it into the resolv.conf the lease writes: the guest's
// resolver keeps asking the server's own DNS server, never 6.6.6.6.
func TestHostileDomainNamesDoNotReachResolvConf(t *testing.T) {
	srv := newFakeServer()
	srv.lease = time.Hour
	srv.extra = []dhcpv4.Modifier{
		dhcpv4.WithOption(dhcpv4.OptDomainName("x\nnameserver 6.6.6.6")),
		dhcpv4.WithOption(dhcpv4.OptDomainSearch(&rfc1035label.Labels{Labels: []string{
			"good.test",
			"evil.test\nnameserver 6.6.6.7",
			"spaced out.test",
			"options ndots:15",
		}})),
		dhcpv4.WithOption(dhcpv4.OptHostName("host\nname")),
	}
	lease := leaseFrom(t, srv)

	r := &netconf.ResolvConf{Path: filepath.Join(t.TempDir(), "resolv.conf")}
	if err := r.Set("eth0", lease.Settings("eth0", true).DNS); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(r.Path)
	if err != nil {
		t.Fatal(err)
	}
	want := "# Written by dhcpcd from eth0; it is rewritten whenever a lease changes.\n" +
		"search good.test\n" +
		"nameserver 10.0.0.53\n"
	if string(data) != want {
		t.Errorf("resolv.conf written from a hostile lease:\n%s\nwant\n%s", data, want)
	}
	if s := lease.Settings("eth0", true); s.Hostname != "" {
		t.Errorf("host name %q set from the lease", s.Hostname)
	}
	if len(lease.Dropped) != 5 {
		t.Errorf("the lease notes %d dropped values, want 5 (domain, 3 search domains, host name): %q", len(lease.Dropped), lease.Dropped)
	}
}

// Addresses a host cannot use as its own, its DNS server or its gateway
// are left out of the lease, as are routes to loopback or multicast.
func TestUnusableAddressesAreDropped(t *testing.T) {
	srv := newFakeServer()
	srv.lease = time.Hour
	srv.extra = []dhcpv4.Modifier{
		dhcpv4.WithOption(dhcpv4.OptDNS(net.IPv4(127, 0, 0, 1), net.IPv4(10, 0, 0, 53), net.IPv4(224, 0, 0, 251), net.IPv4bcast)),
		dhcpv4.WithOption(dhcpv4.OptRouter(net.IPv4(0, 0, 0, 1), net.IPv4(10, 0, 0, 1))),
		dhcpv4.WithOption(dhcpv4.OptClasslessStaticRoute(
			&dhcpv4.Route{Dest: &net.IPNet{IP: net.IPv4(127, 0, 0, 0), Mask: net.CIDRMask(8, 32)}, Router: net.IPv4(10, 0, 0, 9)},
			&dhcpv4.Route{Dest: &net.IPNet{IP: net.IPv4(224, 0, 0, 0), Mask: net.CIDRMask(4, 32)}, Router: net.IPv4(10, 0, 0, 9)},
			&dhcpv4.Route{Dest: &net.IPNet{IP: net.IPv4(192, 168, 9, 0), Mask: net.CIDRMask(24, 32)}, Router: net.IPv4(127, 0, 0, 1)},
			&dhcpv4.Route{Dest: &net.IPNet{IP: net.IPv4(0, 0, 0, 0), Mask: net.CIDRMask(0, 32)}, Router: net.IPv4(10, 0, 0, 254)},
		)),
	}
	lease := leaseFrom(t, srv)
	if got := addrList(lease.DNS); got != "10.0.0.53" {
		t.Errorf("DNS servers %s, want only 10.0.0.53", got)
	}
	if got := addrList(lease.Routers); got != "10.0.0.1" {
		t.Errorf("routers %s, want only 10.0.0.1", got)
	}
	if len(lease.Routes) != 1 || lease.Routes[0].Dst.Bits() != 0 || lease.Routes[0].Gateway.String() != "10.0.0.254" {
		t.Errorf("routes %v, want only the default via 10.0.0.254", lease.Routes)
	}
	if len(lease.Dropped) != 7 {
		t.Errorf("the lease notes %d dropped values, want 7: %q", len(lease.Dropped), lease.Dropped)
	}
}

func TestLeaseOfALoopbackAddressIsRefused(t *testing.T) {
	srv := newFakeServer()
	srv.yiaddr = net.IPv4(127, 0, 0, 2)
	req, err := dhcpv4.NewDiscovery(testHW)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := leaseFromACK(srv.ack(t, req), t0); err == nil {
		t.Errorf("a lease of 127.0.0.2 was taken: %v", l)
	}
}

// leaseFrom runs the client against srv until it is bound.
func leaseFrom(t *testing.T, srv *fakeServer) *Lease {
	t.Helper()
	conn := &fakeConn{t: t, srv: srv}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan Event, 10)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, Config{Interface: "eth0"}, conn, conn, time.Now, func(e Event) { events <- e })
	}()
	var e Event
	select {
	case e = <-events:
	case err := <-done:
		t.Fatalf("the client stopped before it was bound: %v", err)
	}
	cancel()
	<-done
	if e.Kind != Bound {
		t.Fatalf("first event %+v, want Bound", e)
	}
	return e.Lease
}

func addrList[T interface{ String() string }](addrs []T) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}
