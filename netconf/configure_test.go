package netconf_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/netconf"
)

func mustAddrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func TestApplyThenRemoveSettings(t *testing.T) {
	h, ns := testLink(t)
	resolv := &netconf.ResolvConf{Path: filepath.Join(t.TempDir(), "resolv.conf")}
	var hostname string
	c := &netconf.Configurer{
		Links: h, Resolv: resolv, Protocol: netconf.ProtoDHCP,
		SetHostname: func(name string) error { hostname = name; return nil },
	}
	s := &netconf.Settings{
		Interface: "dh0",
		Address:   netip.MustParsePrefix("10.77.0.5/24"),
		Expires:   time.Now().Add(time.Hour),
		Metric:    1005,
		MTU:       1400,
		Routes: []netconf.Route{
			{Dst: netconf.DefaultRoute, Gateway: netip.MustParseAddr("10.77.0.1")},
			// A gateway outside the subnet, as classless static routes may name.
			{Dst: netip.MustParsePrefix("192.168.50.0/24"), Gateway: netip.MustParseAddr("10.78.0.1")},
		},
		DNS:      netconf.DNS{Servers: mustAddrs("10.77.0.53"), Domain: "example.test"},
		Hostname: "guest",
	}
	if err := c.Apply(nil, s); err != nil {
		t.Fatal(err)
	}

	link := ns.IP(t, "link", "show", "dh0")
	if !strings.Contains(link, "mtu 1400") || !strings.Contains(link, ",UP") {
		t.Errorf("dh0 is not up with mtu 1400:\n%s", link)
	}
	routes := ns.IP(t, "-4", "route", "show", "dev", "dh0")
	for _, want := range []string{
		"default via 10.77.0.1 proto dhcp metric 1005",
		"10.78.0.1 proto dhcp scope link metric 1005",
		"192.168.50.0/24 via 10.78.0.1 proto dhcp metric 1005",
	} {
		if !strings.Contains(routes, want) {
			t.Errorf("ip route has no %q:\n%s", want, routes)
		}
	}
	data, err := os.ReadFile(resolv.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "nameserver 10.77.0.53\n") || !strings.Contains(string(data), "search example.test\n") {
		t.Errorf("resolv.conf lacks the server or domain:\n%s", data)
	}
	if hostname != "guest" {
		t.Errorf("hostname set to %q, want guest", hostname)
	}

	// A renewal that moves the address and drops a route takes the old away.
	next := *s
	next.Address = netip.MustParsePrefix("10.77.0.6/24")
	next.Routes = s.Routes[:1]
	if err := c.Apply(s, &next); err != nil {
		t.Fatal(err)
	}
	addrs := ns.IP(t, "-4", "addr", "show", "dh0")
	if strings.Contains(addrs, "10.77.0.5/") || !strings.Contains(addrs, "10.77.0.6/24") {
		t.Errorf("after moving from .5 to .6:\n%s", addrs)
	}
	routes = ns.IP(t, "-4", "route", "show", "dev", "dh0")
	if strings.Contains(routes, "192.168.50.0") || strings.Contains(routes, "10.78.0.1") {
		t.Errorf("routes the new settings lack are still there:\n%s", routes)
	}
	if !strings.Contains(routes, "default via 10.77.0.1") {
		t.Errorf("the default route went with the old address:\n%s", routes)
	}

	if err := c.Remove(&next); err != nil {
		t.Fatal(err)
	}
	if addrs := ns.IP(t, "-4", "addr", "show", "dh0"); strings.Contains(addrs, "inet ") {
		t.Errorf("an address is left after Remove:\n%s", addrs)
	}
	if routes := ns.IP(t, "-4", "route", "show", "dev", "dh0"); strings.TrimSpace(routes) != "" {
		t.Errorf("routes are left after Remove:\n%s", routes)
	}
	data, _ = os.ReadFile(resolv.Path)
	if strings.Contains(string(data), "nameserver") {
		t.Errorf("resolv.conf still names a server after Remove:\n%s", data)
	}
}

func TestApplyRefusesAnExpiredAddress(t *testing.T) {
	h, ns := testLink(t)
	c := &netconf.Configurer{Links: h}
	err := c.Apply(nil, &netconf.Settings{
		Interface: "dh0",
		Address:   netip.MustParsePrefix("10.77.0.5/24"),
		Expires:   time.Now().Add(-time.Second),
	})
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Apply of an expired lease = %v, want an error saying it expired", err)
	}
	if addrs := ns.IP(t, "-4", "addr", "show", "dh0"); strings.Contains(addrs, "inet ") {
		t.Errorf("an expired address was added:\n%s", addrs)
	}
}

func TestDefaultRoutesOfTwoLinksLiveSideBySide(t *testing.T) {
	h, ns := testLink(t)
	peer := ns // a second veth pair inside the same namespace
	peer.IP(t, "link", "add", "dh1", "type", "veth", "peer", "name", "dh1p")
	peer.IP(t, "link", "set", "dh1p", "up")
	c := &netconf.Configurer{Links: h, Protocol: netconf.ProtoDHCP}
	for i, s := range []*netconf.Settings{
		{Interface: "dh0", Address: netip.MustParsePrefix("10.77.0.5/24"), Metric: 1001,
			Routes: []netconf.Route{{Dst: netconf.DefaultRoute, Gateway: netip.MustParseAddr("10.77.0.1")}}},
		{Interface: "dh1", Address: netip.MustParsePrefix("10.88.0.5/24"), Metric: 1002,
			Routes: []netconf.Route{{Dst: netconf.DefaultRoute, Gateway: netip.MustParseAddr("10.88.0.1")}}},
	} {
		if err := c.Apply(nil, s); err != nil {
			t.Fatalf("settings %d: %v", i, err)
		}
	}
	routes := ns.IP(t, "-4", "route", "show", "default")
	if !strings.Contains(routes, "via 10.77.0.1 dev dh0") || !strings.Contains(routes, "via 10.88.0.1 dev dh1") {
		t.Errorf("want a default route through each link:\n%s", routes)
	}
}
