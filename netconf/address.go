package netconf

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Address is an address on a link with its prefix length, as in
// 10.0.2.15/24, and how long the kernel keeps it.
type Address struct {
	Prefix netip.Prefix
	// Lifetime is both the valid and the preferred lifetime: the kernel
	// removes the address, and the routes that depend on it, when it
	// passes. Zero means forever.
	Lifetime time.Duration
}

// forever is the kernel's "infinite" lifetime.
const forever = math.MaxUint32

func (a Address) String() string {
	if a.Lifetime == 0 {
		return a.Prefix.String() + " forever"
	}
	return fmt.Sprintf("%s for %v", a.Prefix, a.Lifetime)
}

// SetAddress adds the address to the link, or refreshes its lifetime when
// it is there already.
func (h *Handle) SetAddress(link string, a Address) error {
	l, err := h.link(link)
	if err != nil {
		return err
	}
	if !a.Prefix.IsValid() {
		return fmt.Errorf("set address on %s: no address given", link)
	}
	lft := forever
	if a.Lifetime > 0 {
		// The kernel counts whole seconds; round up so that a lease is
		// never cut short.
		lft = int(math.Ceil(a.Lifetime.Seconds()))
		lft = min(lft, forever-1)
	}
	addr := &netlink.Addr{IPNet: prefixToIPNet(a.Prefix), ValidLft: lft, PreferedLft: lft}
	if err := h.nl.AddrReplace(l, addr); err != nil {
		return fmt.Errorf("set address %v on %s: %w", a, link, err)
	}
	return nil
}

// RemoveAddress removes the address from the link; an address that is not
// there (it may have expired) is no error.
func (h *Handle) RemoveAddress(link string, p netip.Prefix) error {
	l, err := h.link(link)
	if err != nil {
		return err
	}
	err = h.nl.AddrDel(l, &netlink.Addr{IPNet: prefixToIPNet(p)})
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("remove address %v from %s: %w", p, link, err)
	}
	return nil
}

// Addresses lists the IPv4 addresses of the link with the lifetime they
// have left (zero for those kept for ever).
func (h *Handle) Addresses(link string) ([]Address, error) {
	l, err := h.link(link)
	if err != nil {
		return nil, err
	}
	nas, err := h.nl.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", link, err)
	}
	var out []Address
	for _, na := range nas {
		p, ok := ipNetToPrefix(na.IPNet)
		if !ok {
			continue
		}
		a := Address{Prefix: p}
		if na.ValidLft != forever {
			// An address in its last second still has a lifetime, not
			// the zero that means for ever.
			a.Lifetime = max(time.Duration(na.ValidLft)*time.Second, time.Nanosecond)
		}
		out = append(out, a)
	}
	return out, nil
}

// prefixToIPNet keeps the host bits: 10.0.2.15/24, not 10.0.2.0/24.
func prefixToIPNet(p netip.Prefix) *net.IPNet {
	addr := p.Addr()
	bits := addr.BitLen()
	return &net.IPNet{IP: net.IP(addr.AsSlice()), Mask: net.CIDRMask(p.Bits(), bits)}
}

func ipNetToPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	addr, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(addr.Unmap(), ones), true
}
