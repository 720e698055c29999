package netconf

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Settings is the whole configuration of one interface, as a DHCP lease or
// a static configuration file gives it.
type Settings struct {
	Interface string
	// Address is the interface's address with its prefix length; the
	// zero Prefix means none.
	Address netip.Prefix
	// Expires is when the address lapses (the end of a lease); the zero
	// time means never.
	Expires time.Time
	// Routes through the interface, the default route among them.
	Routes []Route
	// Metric is given to routes that have none, so that the default
	// routes of two interfaces can live side by side.
	Metric int
	// MTU of the link; zero leaves it alone.
	MTU int
	DNS DNS
	// Hostname, when set, is handed to Configurer.SetHostname.
	Hostname string
}

// Configurer puts Settings into effect and takes them away again.
type Configurer struct {
	Links *Handle
	// Resolv, when set, receives each interface's DNS settings.
	Resolv *ResolvConf
	// SetHostname, when set, is called with Settings.Hostname; leaving it
	// nil never touches the host name.
	SetHostname func(string) error
	// Protocol marks the routes installed ("proto dhcp" in `ip route`).
	Protocol Protocol
	// Now is the clock for address lifetimes; nil means time.Now.
	Now func() time.Time
}

func (c *Configurer) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Apply puts next into effect on its interface and takes away whatever of
// prev (the settings applied before, or nil) next no longer has: an old
// address, routes, DNS servers. Applying the same settings again only
// refreshes the address's lifetime. MTU and host name are not taken back.
func (c *Configurer) Apply(prev, next *Settings) error {
	iface := next.Interface
	if prev != nil && prev.Interface != iface {
		return fmt.Errorf("apply settings of %s over those of %s", iface, prev.Interface)
	}
	if err := c.Links.LinkUp(iface); err != nil {
		return err
	}
	var errs []error
	if next.MTU > 0 {
		errs = append(errs, c.Links.SetMTU(iface, next.MTU))
	}
	if prev != nil && prev.Address.IsValid() && prev.Address != next.Address {
		errs = append(errs, c.removeRoutes(prev, nil))
		errs = append(errs, c.Links.RemoveAddress(iface, prev.Address))
	}
	if next.Address.IsValid() {
		a := Address{Prefix: next.Address}
		if !next.Expires.IsZero() {
			a.Lifetime = next.Expires.Sub(c.now())
			if a.Lifetime <= 0 {
				return errors.Join(append(errs, fmt.Errorf("address %v on %s expired at %v", next.Address, iface, next.Expires))...)
			}
		}
		if err := c.Links.SetAddress(iface, a); err != nil {
			// Routes need the address; there is no point going on.
			return errors.Join(append(errs, err)...)
		}
	}
	want := c.routes(next)
	for _, r := range want {
		errs = append(errs, c.Links.SetRoute(iface, r))
	}
	if prev != nil && prev.Address == next.Address {
		errs = append(errs, c.removeRoutes(prev, want))
	}
	if c.Resolv != nil {
		if next.DNS.empty() {
			errs = append(errs, c.Resolv.Remove(iface))
		} else {
			errs = append(errs, c.Resolv.Set(iface, next.DNS))
		}
	}
	if next.Hostname != "" && c.SetHostname != nil {
		errs = append(errs, c.SetHostname(next.Hostname))
	}
	return errors.Join(errs...)
}

// Remove takes s away: its routes, its address and its DNS settings. A
// link that is gone has nothing left to remove.
func (c *Configurer) Remove(s *Settings) error {
	var errs []error
	if c.Resolv != nil {
		errs = append(errs, c.Resolv.Remove(s.Interface))
	}
	if _, err := c.Links.Link(s.Interface); errors.Is(err, ErrNoLink) {
		return errors.Join(errs...)
	}
	errs = append(errs, c.removeRoutes(s, nil))
	if s.Address.IsValid() {
		errs = append(errs, c.Links.RemoveAddress(s.Interface, s.Address))
	}
	return errors.Join(errs...)
}

// removeRoutes removes the routes of s except those in keep.
func (c *Configurer) removeRoutes(s *Settings, keep []Route) error {
	var errs []error
	routes := c.routes(s)
	// Routes through a gateway go before the host routes that reach it.
	slices.Reverse(routes)
	for _, r := range routes {
		if !slices.ContainsFunc(keep, r.same) {
			errs = append(errs, c.Links.RemoveRoute(s.Interface, r))
		}
	}
	return errors.Join(errs...)
}

// routes is what installing s's routes takes, in order: each gets the
// interface's metric and protocol, and a gateway outside the interface's
// subnet gets a host route on the link first, as the kernel refuses a
// gateway it cannot reach.
func (c *Configurer) routes(s *Settings) []Route {
	var out []Route
	add := func(r Route) {
		if r.Metric == 0 {
			r.Metric = s.Metric
		}
		r.Protocol = c.Protocol
		if !slices.ContainsFunc(out, r.same) {
			out = append(out, r)
		}
	}
	onLink := func(gw netip.Addr) bool {
		if s.Address.IsValid() && s.Address.Masked().Contains(gw) {
			return true
		}
		return slices.ContainsFunc(s.Routes, func(r Route) bool { return !r.Gateway.IsValid() && r.Dst.Contains(gw) })
	}
	for _, r := range s.Routes {
		if r.Gateway.IsValid() && !onLink(r.Gateway) {
			add(Route{Dst: netip.PrefixFrom(r.Gateway, r.Gateway.BitLen())})
		}
		add(r)
	}
	return out
}

// same reports whether two routes are one as the kernel sees it.
func (r Route) same(o Route) bool {
	return r.Dst.Masked() == o.Dst.Masked() && r.Gateway == o.Gateway && r.Metric == o.Metric
}
