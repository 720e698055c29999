package netconf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Protocol says who installed a route, as `ip route` shows it ("proto
// dhcp"); it also lets a program find its own routes again.
type Protocol int

// The route protocols netconf's users install routes with.
const (
	ProtoBoot   Protocol = unix.RTPROT_BOOT
	ProtoStatic Protocol = unix.RTPROT_STATIC
	ProtoDHCP   Protocol = unix.RTPROT_DHCP
)

// Route is an IPv4 route in the main table through one link.
type Route struct {
	// Dst is the destination; 0.0.0.0/0 is the default route.
	Dst netip.Prefix `json:"dst"`
	// Gateway is the next hop; the zero Addr means the destination is on
	// the link itself.
	Gateway netip.Addr `json:"gateway,omitzero"`
	// Metric orders routes to the same destination: the lowest wins.
	Metric int `json:"metric,omitempty"`
	// Protocol is who installed it; SetRoute treats zero as ProtoBoot.
	Protocol Protocol `json:"-"`
}

func (r Route) String() string {
	s := r.Dst.String()
	if r.Gateway.IsValid() {
		s += " via " + r.Gateway.String()
	}
	if r.Metric != 0 {
		s += fmt.Sprintf(" metric %d", r.Metric)
	}
	return s
}

// DefaultRoute is the destination of a default route.
var DefaultRoute = netip.PrefixFrom(netip.IPv4Unspecified(), 0)

func (h *Handle) netlinkRoute(link string, r Route) (*netlink.Route, error) {
	l, err := h.link(link)
	if err != nil {
		return nil, err
	}
	nr := &netlink.Route{
		LinkIndex: l.Attrs().Index,
		Dst:       prefixToIPNet(r.Dst.Masked()),
		Priority:  r.Metric,
		Protocol:  netlink.RouteProtocol(r.Protocol),
		Table:     unix.RT_TABLE_MAIN,
		Family:    netlink.FAMILY_V4,
		Scope:     netlink.SCOPE_LINK,
	}
	if nr.Protocol == 0 {
		nr.Protocol = netlink.RouteProtocol(ProtoBoot)
	}
	if r.Gateway.IsValid() {
		nr.Gw = net.IP(r.Gateway.AsSlice())
		nr.Scope = netlink.SCOPE_UNIVERSE
	}
	return nr, nil
}

// SetRoute installs the route, replacing one to the same destination with
// the same metric.
func (h *Handle) SetRoute(link string, r Route) error {
	nr, err := h.netlinkRoute(link, r)
	if err != nil {
		return err
	}
	if err := h.nl.RouteReplace(nr); err != nil {
		return fmt.Errorf("set route %v on %s: %w", r, link, err)
	}
	return nil
}

// RemoveRoute deletes the route; one that is already gone (the kernel
// drops routes with the address they depend on) is no error.
func (h *Handle) RemoveRoute(link string, r Route) error {
	nr, err := h.netlinkRoute(link, r)
	if err != nil {
		return err
	}
	nr.Protocol = 0 // match whoever installed it
	if err := h.nl.RouteDel(nr); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("remove route %v from %s: %w", r, link, err)
	}
	return nil
}

// Routes lists the IPv4 routes of the main table that go through the link,
// including the ones the kernel adds for an address's subnet.
func (h *Handle) Routes(link string) ([]Route, error) {
	l, err := h.link(link)
	if err != nil {
		return nil, err
	}
	filter := &netlink.Route{LinkIndex: l.Attrs().Index, Table: unix.RT_TABLE_MAIN}
	nrs, err := h.nl.RouteListFiltered(netlink.FAMILY_V4, filter, netlink.RT_FILTER_OIF|netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes of %s: %w", link, err)
	}
	var out []Route
	for _, nr := range nrs {
		r := Route{Dst: DefaultRoute, Metric: nr.Priority, Protocol: Protocol(nr.Protocol)}
		if nr.Dst != nil {
			if p, ok := ipNetToPrefix(nr.Dst); ok {
				r.Dst = p
			}
		}
		if nr.Gw != nil {
			if gw, ok := netip.AddrFromSlice(nr.Gw); ok {
				r.Gateway = gw.Unmap()
			}
		}
		out = append(out, r)
	}
	return out, nil
}
