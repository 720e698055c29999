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
	server, ok := addr4(ack.ServerIdentifier())
	if !ok {
		return nil, fmt.Errorf("%w: no server identifier", ErrBadLease)
	}
	bits := classfulBits(ip)
	if mask := ack.SubnetMask(); mask != nil {
		ones, size := mask.Size()
		if size != 32 {
			return nil, fmt.Errorf("%w: subnet mask %v is not contiguous", ErrBadLease, mask)
		}
		bits = ones
	}
	l := &Lease{
		Address:  netip.PrefixFrom(ip, bits),
		Server:   server,
		Routers:  addrs4(ack.Router()),
		DNS:      addrs4(ack.DNS()),
		Domain:   strings.TrimSuffix(ack.DomainName(), "."),
		Hostname: strings.TrimSuffix(ack.HostName(), "."),
		Acquired: now,
		ack:      ack,
	}
	if labels := ack.DomainSearch(); labels != nil {
		l.Search = labels.Labels
	}
	for _, r := range ack.ClasslessStaticRoute() {
		dst, ok := ipNetPrefix(r.Dest)
		if !ok {
			continue
		}
		route := netconf.Route{Dst: dst}
		if gw, ok := addr4(r.Router); ok && !gw.IsUnspecified() {
			route.Gateway = gw
		}
		l.Routes = append(l.Routes, route)
	}
	if v := ack.Options.Get(dhcpv4.OptionInterfaceMTU); len(v) == 2 {
		// 68 is the least an IPv4 link may carry (RFC 791).
		if mtu := int(binary.BigEndian.Uint16(v)); mtu >= 68 {
			l.MTU = mtu
		}
	}
	l.setTimes(ack, now)
	return l, nil
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

func addrs4(ips []net.IP) []netip.Addr {
	var out []netip.Addr
	for _, ip := range ips {
		if a, ok := addr4(ip); ok && !a.IsUnspecified() {
			out = append(out, a)
		}
	}
	return out
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
