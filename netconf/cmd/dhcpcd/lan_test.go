package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/minikit/minikit/netconf"
	"github.com/minikit/minikit/netconf/internal/nettest"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// lan is a server namespace whose link srv0 (10.234.0.1/24) is wired to
// the link eth0 of a client namespace, where dhcpcd runs.
type lan struct {
	srv, cli *nettest.Namespace
}

func newLAN(t *testing.T) *lan {
	t.Helper()
	l := &lan{srv: nettest.NewNamespace(t), cli: nettest.NewNamespace(t)}
	nettest.Veth(t, l.srv, "srv0", "10.234.0.1/24", l.cli, "eth0")
	return l
}

// addLink wires another pair: srvN with addr in the server namespace and
// name in the client's.
func (l *lan) addLink(t *testing.T, srvName, addr, name string) {
	t.Helper()
	nettest.Veth(t, l.srv, srvName, addr, l.cli, name)
}

// dnsmasqArgs serve 10.234.0.10-50 on srv0 with two-minute leases (the
// least dnsmasq gives), a router, a DNS server and a domain.
var dnsmasqArgs = []string{
	"--interface=srv0",
	"--dhcp-range=10.234.0.10,10.234.0.50,255.255.255.0,2m",
	"--dhcp-option=option:router,10.234.0.1",
	"--dhcp-option=option:dns-server,10.234.0.53",
	"--dhcp-option=option:domain-name,lan.test",
}

// timers makes dnsmasq send T1 and T2 (options 58 and 59): dnsmasq will
// not lease for less than two minutes, so short timers are how a test
// sees renewals and rebinding quickly.
func timers(t1, t2 int) []string {
	return []string{"--dhcp-option=58," + strconv.Itoa(t1), "--dhcp-option=59," + strconv.Itoa(t2)}
}

func (l *lan) dnsmasq(t *testing.T, extra ...string) *nettest.Dnsmasq {
	t.Helper()
	return nettest.StartDnsmasq(t, l.srv, append(append([]string{}, dnsmasqArgs...), extra...)...)
}

// handle is a netconf.Handle on the client namespace.
func (l *lan) handle(t *testing.T) *netconf.Handle {
	t.Helper()
	h, err := netconf.OpenAt(l.cli.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func (l *lan) mac(t *testing.T, link string) string {
	t.Helper()
	lk, err := l.handle(t).Link(link)
	if err != nil {
		t.Fatal(err)
	}
	return lk.HardwareAddr.String()
}

// addresses is the IPv4 addresses of a client link.
func (l *lan) addresses(t *testing.T, link string) []netconf.Address {
	t.Helper()
	addrs, err := l.handle(t).Addresses(link)
	if err != nil {
		t.Fatal(err)
	}
	return addrs
}

// removals records every IPv4 address removed in the client namespace
// from now until the test ends.
func (l *lan) removals(t *testing.T) func() []netip.Prefix {
	t.Helper()
	ns, err := netns.GetFromPath(l.cli.Path())
	if err != nil {
		t.Fatal(err)
	}
	updates := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	if err := netlink.AddrSubscribeWithOptions(updates, done, netlink.AddrSubscribeOptions{Namespace: &ns}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var removed []netip.Prefix
	go func() {
		for u := range updates {
			if u.NewAddr || u.LinkAddress.IP.To4() == nil {
				continue
			}
			a, _ := netip.AddrFromSlice(u.LinkAddress.IP.To4())
			ones, _ := u.LinkAddress.Mask.Size()
			mu.Lock()
			removed = append(removed, netip.PrefixFrom(a, ones))
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { close(done); ns.Close() })
	return func() []netip.Prefix {
		mu.Lock()
		defer mu.Unlock()
		return append([]netip.Prefix(nil), removed...)
	}
}

// writeConf writes a dhcpcd.conf into a temporary directory.
func writeConf(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dhcpcd.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// leaseLine matches dhcpcd's log line for a lease on iface and captures
// the address.
func leaseLine(kind, iface string) string {
	return `msg="lease ` + kind + `" iface=` + regexp.QuoteMeta(iface) + ` address=(\S+)`
}
