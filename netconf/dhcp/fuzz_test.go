package dhcp

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/rfc1035label"
	"github.com/minikit/minikit/netconf"
)

// FuzzReplyToResolvConf takes a server's reply as the client does, from
// the wire through the machine to the lease, and renders the resolv.conf
// that lease would write. Whatever the bytes, the client must not crash,
// and every value that leaves the lease must be one the system can use:
// resolv.conf has only a comment, one search line of DNS names and
// nameserver lines of unicast addresses.
func FuzzReplyToResolvConf(f *testing.F) {
	for _, mods := range [][]dhcpv4.Modifier{
		nil,
		{
			dhcpv4.WithOption(dhcpv4.OptDomainName("example.test.")),
			dhcpv4.WithOption(dhcpv4.OptDomainSearch(&rfc1035label.Labels{Labels: []string{"a.test", "b.test"}})),
			dhcpv4.WithOption(dhcpv4.OptHostName("guest")),
			dhcpv4.WithGeneric(dhcpv4.OptionInterfaceMTU, []byte{0x05, 0xdc}),
			dhcpv4.WithOption(dhcpv4.OptClasslessStaticRoute(
				&dhcpv4.Route{Dest: &net.IPNet{IP: net.IPv4(192, 168, 9, 0), Mask: net.CIDRMask(24, 32)}, Router: net.IPv4(10, 0, 0, 9)},
			)),
		},
		{
			dhcpv4.WithOption(dhcpv4.OptDomainName("x\nnameserver 6.6.6.6")),
			dhcpv4.WithOption(dhcpv4.OptDomainSearch(&rfc1035label.Labels{Labels: []string{"ok.test", "a b", "c\nd"}})),
			dhcpv4.WithOption(dhcpv4.OptDNS(net.IPv4(127, 0, 0, 1), net.IPv4bcast)),
			dhcpv4.WithGeneric(dhcpv4.OptionSubnetMask, []byte{255, 0, 255, 0}),
		},
	} {
		srv := newFakeServer()
		srv.extra = mods
		req, err := dhcpv4.NewDiscovery(testHW)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(srv.ack(f, req).ToBytes())
	}

	f.Fuzz(func(t *testing.T, packet []byte) {
		reply, err := dhcpv4.FromBytes(packet)
		if err != nil {
			return
		}
		m := testMachine()
		// The machine asks for an offer; whatever came is taken as it,
		// and as the answer to the REQUEST that follows.
		discover := mustNext(t, m, t0).send
		reply.TransactionID = discover.TransactionID
		reply.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeOffer))
		m.handle(t0, reply)
		if m.phase != requesting {
			t.Fatalf("an offer left the machine %v", m.phase)
		}
		mustNext(t, m, t0)
		reply.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeAck))
		events := m.handle(t0, reply)
		if len(events) != 1 || events[0].Kind != Bound {
			return
		}
		checkLease(t, events[0].Lease)
	})
}

func checkLease(t *testing.T, l *Lease) {
	t.Helper()
	s := l.Settings("eth0", true)
	if err := usableUnicast(s.Address.Addr()); err != nil || s.Address.Bits() == 0 {
		t.Errorf("address %v: %v", s.Address, err)
	}
	if s.MTU != 0 && s.MTU < 68 {
		t.Errorf("MTU %d", s.MTU)
	}
	if s.Hostname != "" {
		if err := netconf.ValidHostname(s.Hostname); err != nil {
			t.Errorf("host name: %v", err)
		}
	}
	for _, r := range s.Routes {
		if r.Gateway.IsValid() {
			if err := usableUnicast(r.Gateway); err != nil {
				t.Errorf("route %v: %v", r, err)
			}
		}
		if err := routableDst(r.Dst); err != nil {
			t.Errorf("route %v: %v", r, err)
		}
	}
	for _, name := range append([]string{s.DNS.Domain}, s.DNS.Search...) {
		if err := netconf.ValidDomainName(name); name != "" && err != nil {
			t.Errorf("search: %v", err)
		}
	}
	checkResolvConf(t, netconf.FormatResolvConf(map[string]netconf.DNS{"eth0": s.DNS}))
}

// checkResolvConf fails t unless rc is what FormatResolvConf may write:
// its comment, at most one search line of DNS names, nameserver lines
// with one unicast address each, and nothing else.
func checkResolvConf(t *testing.T, rc string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(rc, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "# Written by dhcpcd") || !strings.HasSuffix(rc, "\n") {
		t.Fatalf("resolv.conf does not start with its comment or end with a newline:\n%s", rc)
	}
	for i, line := range lines[1:] {
		fields := strings.Fields(line)
		if len(fields) < 2 || strings.Join(fields, " ") != line {
			t.Fatalf("resolv.conf line %q", line)
		}
		switch fields[0] {
		case "search":
			if i != 0 {
				t.Errorf("search is line %d, not the first after the comment:\n%s", i+2, rc)
			}
			for _, name := range fields[1:] {
				if err := netconf.ValidDomainName(name); err != nil {
					t.Errorf("resolv.conf searches %v", err)
				}
			}
		case "nameserver":
			a, err := netip.ParseAddr(fields[1])
			if len(fields) != 2 || err != nil {
				t.Fatalf("resolv.conf line %q", line)
			}
			if err := usableUnicast(a); err != nil {
				t.Errorf("resolv.conf names server %v: %v", a, err)
			}
		default:
			t.Fatalf("resolv.conf line %q", line)
		}
	}
}
