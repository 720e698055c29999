package dhcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/minikit/minikit/netconf"
)

// Lease is an address leased from a DHCP server, with what came with it.
// It is written out as JSON in the client's state file.
type Lease struct {
	Address netip.Prefix `json:"address"`
	Server  netip.Addr   `json:"server"`
	// Routers is the router option; Routes, the classless static routes
	// (option 121), replace it when present, as RFC 3442 says.
	Routers  []netip.Addr    `json:"routers,omitempty"`
	Routes   []netconf.Route `json:"routes,omitempty"`
	DNS      []netip.Addr    `json:"dns,omitempty"`
	Domain   string          `json:"domain,omitempty"`
	Search   []string        `json:"search,omitempty"`
	MTU      int             `json:"mtu,omitempty"`
	Hostname string          `json:"hostname,omitempty"`
	// Dropped says, for each value of the ACK the client would not use
	// (a domain that is no DNS name, a loopback DNS server, …), what it
	// was and why; nothing of it reaches the system.
	Dropped []string `json:"dropped,omitempty"`

	// Acquired is when the server acknowledged the lease; the times below
	// count from it.
	Acquired time.Time `json:"acquired"`
	// Duration is the lease time; zero means the lease never ends.
	Duration time.Duration `json:"-"`
	// Seconds is Duration as the server sent it, for the state file.
	Seconds uint32 `json:"lease_seconds"`
	// Renew (T1), Rebind (T2) and Expires are zero for an infinite lease.
	Renew   time.Time `json:"renew,omitzero"`
	Rebind  time.Time `json:"rebind,omitzero"`
	Expires time.Time `json:"expires,omitzero"`

	ack *dhcpv4.DHCPv4
}

// infinite is the lease time that never ends (RFC 2131, 3.3).
const infinite = 0xffffffff

// defaultLeaseTime is assumed when an ACK carries no lease time, which RFC
// 2131 forbids but which happens; dhcpcd assumes the same hour.
const defaultLeaseTime = time.Hour

// ErrBadLease is wrapped by errors about an ACK that cannot be used.
var ErrBadLease = errors.New("unusable lease")

// leaseFromACK reads the lease an ACK grants, received at now.
func leaseFromACK(ack *dhcpv4.DHCPv4, now time.Time) (*Lease, error) {
	ip, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok || ip.IsUnspecified() {
		return nil, fmt.Errorf("%w: no address (yiaddr %v)", ErrBadLease, ack.YourIPAddr)
	}
	if err := usableUnicast(ip); err != nil {
		return nil, fmt.Errorf("%w: address %v: %v", ErrBadLease, ip, err)
	}
	server, ok := addr4(ack.ServerIdentifier())
	if !ok {
		return nil, fmt.Errorf("%w: no server identifier", ErrBadLease)
	}
	// Renewals are sent to the server identifier.
	if err := usableUnicast(server); err != nil {
		return nil, fmt.Errorf("%w: server identifier %v: %v", ErrBadLease, server, err)
	}
	l := &Lease{Server: server, Acquired: now, ack: ack}
	l.Address = netip.PrefixFrom(ip, l.prefixBits(ack, ip))
	l.Routers = l.unicast("option 3 (router)", ack.Router())
	l.DNS = l.unicast("option 6 (domain name server)", ack.DNS())
	l.Domain = l.domainName("option 15 (domain name)", ack.DomainName())
	l.Hostname = l.hostname(ack.HostName())
	if labels := ack.DomainSearch(); labels != nil {
		for _, name := range labels.Labels {
			if name = l.domainName("option 119 (domain search)", name); name != "" {
				l.Search = append(l.Search, name)
			}
		}
	}
	l.Routes = l.classlessRoutes(ack.ClasslessStaticRoute())
	if v := ack.Options.Get(dhcpv4.OptionInterfaceMTU); v != nil {
		// 68 is the least an IPv4 link may carry (RFC 791).
		if len(v) == 2 && binary.BigEndian.Uint16(v) >= 68 {
			l.MTU = int(binary.BigEndian.Uint16(v))
		} else {
			l.drop("option 26 (interface MTU) %x: want 2 bytes, at least 68", v)
		}
	}
	l.setTimes(ack, now)
	return l, nil
}

// drop notes a value of the ACK that the lease leaves out.
func (l *Lease) drop(format string, args ...any) {
	l.Dropped = append(l.Dropped, fmt.Sprintf(format, args...))
}

// prefixBits is the subnet mask's length, or the address class's when
// the server sent none or one that cannot be used.
func (l *Lease) prefixBits(ack *dhcpv4.DHCPv4, ip netip.Addr) int {
	v := ack.Options.Get(dhcpv4.OptionSubnetMask)
	if v == nil {
		return classfulBits(ip)
	}
	ones, size := net.IPMask(v).Size()
	switch {
	case len(v) != 4 || size != 32:
		l.drop("option 1 (subnet mask) %x: not a contiguous IPv4 mask", v)
	case ones == 0:
		// A /0 would put every address on the link.
		l.drop("option 1 (subnet mask) %v: /0", net.IP(v))
	default:
		return ones
	}
	return classfulBits(ip)
}

// unicast keeps the addresses a host can send to.
func (l *Lease) unicast(option string, ips []net.IP) []netip.Addr {
	var out []netip.Addr
	for _, ip := range ips {
		a, ok := addr4(ip)
		if !ok {
			l.drop("%s %v: not an IPv4 address", option, ip)
			continue
		}
		if err := usableUnicast(a); err != nil {
			l.drop("%s %v: %v", option, a, err)
			continue
		}
		out = append(out, a)
	}
	return out
}

// domainName is name without its trailing dot, or "" (noted) when it is
// no DNS name: it goes into resolv.conf, where a newline or a space would
// add lines or words of the server's choosing.
func (l *Lease) domainName(option, name string) string {
	name = strings.TrimSuffix(name, ".")
	if name == "" {
		return ""
	}
	if err := netconf.ValidDomainName(name); err != nil {
		l.drop("%s: %v", option, err)
		return ""
	}
	return name
}

func (l *Lease) hostname(name string) string {
	name = strings.TrimSuffix(name, ".")
	if name == "" {
		return ""
	}
	if err := netconf.ValidHostname(name); err != nil {
		l.drop("option 12 (host name): %v", err)
		return ""
	}
	return name
}

// classlessRoutes keeps the routes of option 121 that go somewhere a
// host may route to, through a gateway it can send to.
func (l *Lease) classlessRoutes(routes []*dhcpv4.Route) []netconf.Route {
	var out []netconf.Route
	for _, r := range routes {
		dst, ok := ipNetPrefix(r.Dest)
		if !ok {
			l.drop("option 121 (classless static route) %v: not an IPv4 destination", r.Dest)
			continue
		}
		if err := routableDst(dst); err != nil {
			l.drop("option 121 (classless static route) %v: %v", dst, err)
			continue
		}
		route := netconf.Route{Dst: dst}
		gw, ok := addr4(r.Router)
		if !ok {
			l.drop("option 121 (classless static route) %v via %v: not an IPv4 gateway", dst, r.Router)
			continue
		}
		// A gateway of 0.0.0.0 means the destination is on the link.
		if !gw.IsUnspecified() {
			if err := usableUnicast(gw); err != nil {
				l.drop("option 121 (classless static route) %v via %v: %v", dst, gw, err)
				continue
			}
			route.Gateway = gw
		}
		out = append(out, route)
	}
	return out
}

// usableUnicast accepts an address a host on a link may have or send to:
// not 0.0.0.0/8 ("this network"), loopback, multicast or the broadcast.
func usableUnicast(a netip.Addr) error {
	switch {
	case !a.Is4():
		return errors.New("not an IPv4 address")
	case a.As4()[0] == 0:
		return errors.New("in 0.0.0.0/8, which names this host")
	case a.IsLoopback():
		return errors.New("a loopback address")
	case a.IsMulticast():
		return errors.New("a multicast address")
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return errors.New("the broadcast address")
	}
	return nil
}

// routableDst refuses destinations that belong to the host itself
// (loopback) or are no unicast networks: routes to them through a link
// would take traffic that never leaves the host, or is not routed.
func routableDst(dst netip.Prefix) error {
	a := dst.Addr()
	switch {
	case dst.Bits() == 0:
		return nil
	case dst.Bits() >= 8 && a.IsLoopback():
		return errors.New("a loopback destination")
	case dst.Bits() >= 4 && a.IsMulticast():
		return errors.New("a multicast destination")
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return errors.New("the broadcast address")
	}
	return nil
}

// setTimes applies RFC 2131, 4.4.5: T1 and T2 default to half and seven
// eighths of the lease, and times out of order are replaced by those.
func (l *Lease) setTimes(ack *dhcpv4.DHCPv4, now time.Time) {
	secs := uint32(defaultLeaseTime / time.Second)
	if v := ack.Options.Get(dhcpv4.OptionIPAddressLeaseTime); len(v) == 4 {
		secs = binary.BigEndian.Uint32(v)
	}
	l.Seconds = secs
	if secs == infinite {
		return
	}
	l.Duration = time.Duration(secs) * time.Second
	t1 := ack.IPAddressRenewalTime(l.Duration / 2)
	t2 := ack.IPAddressRebindingTime(l.Duration * 7 / 8)
	if t2 <= 0 || t2 >= l.Duration {
		t2 = l.Duration * 7 / 8
	}
	if t1 <= 0 || t1 >= t2 {
		t1 = min(l.Duration/2, t2)
	}
	l.Renew, l.Rebind, l.Expires = now.Add(t1), now.Add(t2), now.Add(l.Duration)
}

// Infinite reports whether the lease never ends.
func (l *Lease) Infinite() bool { return l.Seconds == infinite }

// Settings is what configuring an interface with this lease takes: its
// address until the lease ends, a default route through the first router
// (or the classless static routes), DNS, MTU, and the host name when
// withHostname asks for it.
func (l *Lease) Settings(iface string, withHostname bool) *netconf.Settings {
	s := &netconf.Settings{
		Interface: iface,
		Address:   l.Address,
		Expires:   l.Expires,
		MTU:       l.MTU,
		DNS:       netconf.DNS{Servers: l.DNS, Domain: l.Domain, Search: l.Search},
	}
	switch {
	case len(l.Routes) > 0:
		s.Routes = append(s.Routes, l.Routes...)
	case len(l.Routers) > 0:
		s.Routes = []netconf.Route{{Dst: netconf.DefaultRoute, Gateway: l.Routers[0]}}
	}
	if withHostname && l.Hostname != "" && netconf.ValidHostname(l.Hostname) == nil {
		s.Hostname = l.Hostname
	}
	return s
}

func (l *Lease) String() string {
	end := "forever"
	if !l.Infinite() {
		end = "for " + l.Duration.String()
	}
	return fmt.Sprintf("%v from %v %s", l.Address, l.Server, end)
}

// classfulBits is the prefix length of the address's class, which RFC
// 2131 tells a client to assume when the server sends no subnet mask.
func classfulBits(ip netip.Addr) int {
	switch b := ip.As4()[0]; {
	case b < 128:
		return 8
	case b < 192:
		return 16
	default:
		return 24
	}
}

func addr4(ip net.IP) (netip.Addr, bool) {
	if ip4 := ip.To4(); ip4 != nil {
		return netip.AddrFrom4([4]byte(ip4)), true
	}
	return netip.Addr{}, false
}

func ipNetPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := addr4(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, bits := n.Mask.Size()
	if bits != 32 {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, ones).Masked(), true
}
