package dhcpcdconf

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/minikit/minikit/netconf"
)

// ReadFile parses the dhcpcd.conf at path.
func ReadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read dhcpcd configuration: %w", err)
	}
	return Parse(path, data)
}

// Parse reads a dhcpcd.conf; name is used in errors and notes. All the
// errors of the file are returned together.
func Parse(name string, data []byte) (*Config, error) {
	p := &parser{name: name, c: &Config{Interfaces: map[string]*Options{}}}
	p.opts = &p.c.Global
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		p.line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		directive, arg, _ := strings.Cut(text, " ")
		if i := strings.IndexByte(directive, '\t'); i >= 0 {
			directive, arg = directive[:i], directive[i+1:]+" "+arg
		}
		p.directive(directive, strings.TrimSpace(arg))
	}
	if err := sc.Err(); err != nil {
		p.errs = append(p.errs, fmt.Errorf("%s: %w", name, err))
	}
	return p.c, errors.Join(p.errs...)
}

type parser struct {
	name  string
	line  int
	c     *Config
	opts  *Options // the block being read
	iface string   // its interface, "" for the global block
	errs  []error
}

func (p *parser) errorf(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s:%d: "+format, append([]any{p.name, p.line}, args...)...))
}

func (p *parser) note(what, why string) {
	p.c.Notes = append(p.c.Notes, fmt.Sprintf("%s:%d: %s: %s", p.name, p.line, what, why))
}

// global checks that a directive that applies to the whole program is not
// inside an interface block, where dhcpcd would not take it either.
func (p *parser) global(directive string) bool {
	if p.iface != "" {
		p.note(directive, "only read before the first interface block; ignored")
		return false
	}
	return true
}

func (p *parser) directive(d, arg string) {
	switch d {
	case "interface":
		if arg == "" || strings.ContainsAny(arg, " \t") {
			p.errorf("interface: want one interface name, got %q", arg)
			return
		}
		o, ok := p.c.Interfaces[arg]
		if !ok {
			o = &Options{}
			p.c.Interfaces[arg] = o
		}
		p.opts, p.iface = o, arg
	case "allowinterfaces":
		if p.global(d) {
			p.c.Allow = append(p.c.Allow, words(arg)...)
		}
	case "denyinterfaces":
		if p.global(d) {
			p.c.Deny = append(p.c.Deny, words(arg)...)
		}
	case "hostname":
		p.opts.SendHostname, p.opts.Hostname = true, arg
	case "clientid":
		if arg != "" {
			p.opts.ClientID = clientID(arg)
		}
	case "duid":
		p.note(d, "DUID client identifiers are not supported; the hardware address is sent, as with clientid")
	case "option", "nooption":
		for _, w := range words(arg) {
			if w == "rapid_commit" {
				p.note(d+" "+w, "rapid commit is not implemented; the four-message exchange is used")
				continue
			}
			code, ok := optionCode(w)
			if !ok {
				p.note(d+" "+w, "unknown option; ignored")
				continue
			}
			if d == "option" {
				p.opts.Request = append(p.opts.Request, code)
				if why, ok := unused[w]; ok {
					p.note(d+" "+w, why)
				}
			} else {
				p.opts.NoRequest = append(p.opts.NoRequest, code)
			}
		}
	case "require":
		for _, w := range words(arg) {
			if w != "dhcp_server_identifier" {
				p.note(d+" "+w, "only dhcp_server_identifier can be required (and always is); ignored")
			}
		}
	case "persistent":
		if p.global(d) {
			p.c.Persistent = true
		}
	case "timeout":
		if !p.global(d) {
			return
		}
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 {
			p.errorf("timeout: want a number of seconds, got %q", arg)
			return
		}
		p.c.Timeout = time.Duration(n) * time.Second
	case "metric":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 {
			p.errorf("metric: want a non-negative number, got %q", arg)
			return
		}
		p.opts.Metric = n
	case "static":
		p.static(arg)
	case "nodelay", "noarp", "ipv4only", "noipv4ll", "nohook", "noipv6rs", "noipv6":
		// What we do anyway: no initial delay, no ARP probe, no IPv4LL,
		// no hooks, no IPv6.
	case "waitip":
		if arg != "" && arg != "4" {
			p.note(d+" "+arg, "only IPv4 addresses are waited for")
		}
	case "slaac", "ipv6", "ipv6rs", "ipv6ra_own", "ipv6ra_own_default", "ia_na", "ia_pd", "ia_ta", "dhcp6":
		p.note(d, "IPv6 is not supported; ignored")
	default:
		p.note(d, "not supported; ignored")
	}
}

func (p *parser) static(arg string) {
	key, value, ok := strings.Cut(arg, "=")
	if !ok {
		p.errorf("static: want KEY=VALUE, got %q", arg)
		return
	}
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	s := &p.opts.Static
	switch key {
	case "ip_address":
		pfx, err := netip.ParsePrefix(value)
		if err != nil || !pfx.Addr().Is4() {
			if a, aerr := netip.ParseAddr(value); aerr == nil && a.Is4() {
				p.errorf("static ip_address: %q has no prefix length; write it as %s/24 or so", value, value)
				return
			}
			p.errorf("static ip_address: want an IPv4 address with prefix length (10.0.0.5/24), got %q", value)
			return
		}
		s.Address = pfx
	case "routers", "domain_name_servers":
		var addrs []netip.Addr
		for _, w := range words(value) {
			a, err := netip.ParseAddr(w)
			if err != nil || !a.Is4() {
				p.errorf("static %s: %q is not an IPv4 address", key, w)
				return
			}
			addrs = append(addrs, a)
		}
		if key == "routers" {
			s.Routers = addrs
		} else {
			s.DNS = addrs
		}
	case "domain_name":
		if err := netconf.ValidDomainName(strings.TrimSuffix(value, ".")); err != nil {
			p.errorf("static domain_name: %v", err)
			return
		}
		s.Domain = value
	case "domain_search":
		search := words(value)
		for _, name := range search {
			if err := netconf.ValidDomainName(strings.TrimSuffix(name, ".")); err != nil {
				p.errorf("static domain_search: %v", err)
				return
			}
		}
		s.Search = search
	case "interface_mtu":
		n, err := strconv.Atoi(value)
		if err != nil || n < 68 || n > 65535 {
			p.errorf("static interface_mtu: want a number from 68 to 65535, got %q", value)
			return
		}
		s.MTU = n
	case "ip6_address", "domain_name_servers6":
		p.note("static "+key, "IPv6 is not supported; ignored")
	default:
		p.note("static "+key, "not supported; ignored (supported: ip_address, routers, domain_name_servers, domain_name, domain_search, interface_mtu)")
	}
}

// words splits a list written with spaces, tabs or commas.
func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' })
}

// clientID reads "01:02:03…" as bytes and anything else as text, as
// dhcpcd does.
func clientID(s string) []byte {
	if strings.Contains(s, ":") {
		if b, err := hex.DecodeString(strings.ReplaceAll(s, ":", "")); err == nil {
			return b
		}
	}
	return []byte(s)
}

// options are the dhcpcd names of the options the client can ask for.
var options = map[string]dhcpv4.OptionCode{
	"subnet_mask":             dhcpv4.OptionSubnetMask,
	"routers":                 dhcpv4.OptionRouter,
	"domain_name_servers":     dhcpv4.OptionDomainNameServer,
	"host_name":               dhcpv4.OptionHostName,
	"domain_name":             dhcpv4.OptionDomainName,
	"interface_mtu":           dhcpv4.OptionInterfaceMTU,
	"broadcast_address":       dhcpv4.OptionBroadcastAddress,
	"static_routes":           dhcpv4.OptionStaticRoutingTable,
	"ntp_servers":             dhcpv4.OptionNTPServers,
	"dhcp_lease_time":         dhcpv4.OptionIPAddressLeaseTime,
	"dhcp_server_identifier":  dhcpv4.OptionServerIdentifier,
	"dhcp_renewal_time":       dhcpv4.OptionRenewTimeValue,
	"dhcp_rebinding_time":     dhcpv4.OptionRebindingTimeValue,
	"domain_search":           dhcpv4.OptionDNSDomainSearchList,
	"classless_static_routes": dhcpv4.OptionClasslessStaticRoute,
}

// unused says why an option that can be asked for changes nothing.
var unused = map[string]string{
	"ntp_servers":   "asked for, but nothing uses NTP servers from DHCP",
	"static_routes": "asked for, but classful static routes (option 33) are not applied; use classless_static_routes",
}

// optionCode reads an option given by name or number.
func optionCode(w string) (dhcpv4.OptionCode, bool) {
	if c, ok := options[w]; ok {
		return c, true
	}
	if n, err := strconv.Atoi(w); err == nil && n > 0 && n < 255 {
		return dhcpv4.GenericOptionCode(n), true
	}
	return nil, false
}
