package dhcpcdconf

import (
	"net/netip"
	"path"
	"slices"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Config is what a dhcpcd.conf says.
type Config struct {
	// Global holds the directives before the first "interface" line.
	Global Options
	// Interfaces holds the directives of each "interface NAME" block,
	// which apply on top of Global (see For).
	Interfaces map[string]*Options
	// Allow and Deny are the allowinterfaces and denyinterfaces patterns
	// (shell globs); Deny wins.
	Allow, Deny []string
	// Timeout is how long oneshot mode waits for an address; zero means
	// the default.
	Timeout time.Duration
	// Persistent keeps an interface's configuration when dhcpcd exits.
	Persistent bool
	// Notes are the lines read but ignored, each "FILE:LINE: what: why".
	Notes []string
}

// Options are the per-interface settings.
type Options struct {
	// Request and NoRequest are the option and nooption codes.
	Request, NoRequest []dhcpv4.OptionCode
	// SendHostname sends a host name (option 12): Hostname, or the
	// system's own when that is empty ("hostname" with no value).
	SendHostname bool
	Hostname     string
	// ClientID replaces the client identifier sent; nil keeps the
	// default (the hardware address).
	ClientID []byte
	// Metric is the routes' metric; zero means the default.
	Metric int
	// Static holds "static" values. With an address the interface is
	// configured from them alone; without one they replace what DHCP
	// gives.
	Static Static
}

// Static is the values of "static KEY=VALUE" lines.
type Static struct {
	Address netip.Prefix `json:"address,omitzero"`
	Routers []netip.Addr `json:"routers,omitempty"`
	DNS     []netip.Addr `json:"dns,omitempty"`
	Domain  string       `json:"domain,omitempty"`
	Search  []string     `json:"search,omitempty"`
	MTU     int          `json:"mtu,omitempty"`
}

// Empty reports whether no static value was given.
func (s Static) Empty() bool {
	return !s.Address.IsValid() && s.Routers == nil && s.DNS == nil && s.Domain == "" && s.Search == nil && s.MTU == 0
}

// For is the options of the interface called name: its block's directives
// over the global ones. Lists add up; values the block sets replace the
// global ones.
func (c *Config) For(name string) Options {
	o := c.Global
	o.Request = slices.Clone(o.Request)
	o.NoRequest = slices.Clone(o.NoRequest)
	b, ok := c.Interfaces[name]
	if !ok {
		return o
	}
	o.Request = append(o.Request, b.Request...)
	o.NoRequest = append(o.NoRequest, b.NoRequest...)
	if b.SendHostname {
		o.SendHostname, o.Hostname = true, b.Hostname
	}
	if b.ClientID != nil {
		o.ClientID = b.ClientID
	}
	if b.Metric != 0 {
		o.Metric = b.Metric
	}
	if b.Static.Address.IsValid() {
		o.Static.Address = b.Static.Address
	}
	if b.Static.Routers != nil {
		o.Static.Routers = b.Static.Routers
	}
	if b.Static.DNS != nil {
		o.Static.DNS = b.Static.DNS
	}
	if b.Static.Domain != "" {
		o.Static.Domain = b.Static.Domain
	}
	if b.Static.Search != nil {
		o.Static.Search = b.Static.Search
	}
	if b.Static.MTU != 0 {
		o.Static.MTU = b.Static.MTU
	}
	return o
}

// Allowed reports whether dhcpcd may run on the interface called name
// when no interfaces are named on the command line: it matches an
// allowinterfaces pattern (or there are none) and no denyinterfaces one.
func (c *Config) Allowed(name string) bool {
	match := func(patterns []string) bool {
		return slices.ContainsFunc(patterns, func(p string) bool {
			ok, _ := path.Match(p, name)
			return ok
		})
	}
	if match(c.Deny) {
		return false
	}
	return len(c.Allow) == 0 || match(c.Allow)
}

// Requested is the option codes to ask for on an interface: base, plus
// what "option" lines add, less what "nooption" lines remove.
func (o Options) Requested(base []dhcpv4.OptionCode) []dhcpv4.OptionCode {
	var out []dhcpv4.OptionCode
	for _, c := range append(slices.Clone(base), o.Request...) {
		if !slices.ContainsFunc(o.NoRequest, func(n dhcpv4.OptionCode) bool { return n.Code() == c.Code() }) &&
			!slices.ContainsFunc(out, func(n dhcpv4.OptionCode) bool { return n.Code() == c.Code() }) {
			out = append(out, c)
		}
	}
	return out
}

// SetsHostname reports whether the interface asked for the host_name
// option, which is how dhcpcd.conf asks for the host name to be set from
// the lease.
func (o Options) SetsHostname() bool {
	return slices.ContainsFunc(o.Request, func(c dhcpv4.OptionCode) bool { return c.Code() == dhcpv4.OptionHostName.Code() }) &&
		!slices.ContainsFunc(o.NoRequest, func(c dhcpv4.OptionCode) bool { return c.Code() == dhcpv4.OptionHostName.Code() })
}
