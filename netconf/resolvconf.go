package netconf

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/minikit/minikit/internal/atomicfile"
)

// DefaultResolvConf is where resolv.conf is written: / is read-only at run
// time, so /etc/resolv.conf is a symbolic link to this file.
const DefaultResolvConf = "/run/resolv.conf"

// ResolvConf keeps resolv.conf in step with the DNS settings of every
// configured interface. Each Set or Remove rewrites the whole file
// atomically. It is safe for concurrent use.
type ResolvConf struct {
	// Path is the file written; empty means DefaultResolvConf.
	Path string

	mu      sync.Mutex
	byIface map[string]DNS
}

// DNS is the resolver configuration one interface contributes.
type DNS struct {
	Servers []netip.Addr
	Domain  string
	Search  []string
}

func (d DNS) empty() bool {
	return len(d.Servers) == 0 && d.Domain == "" && len(d.Search) == 0
}

func (r *ResolvConf) path() string {
	if r.Path == "" {
		return DefaultResolvConf
	}
	return r.Path
}

// Set records the DNS settings of iface and rewrites the file.
func (r *ResolvConf) Set(iface string, d DNS) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byIface == nil {
		r.byIface = make(map[string]DNS)
	}
	if old, ok := r.byIface[iface]; ok && equalDNS(old, d) {
		return nil
	}
	r.byIface[iface] = d
	return r.write()
}

// Remove forgets the settings of iface and rewrites the file, unless iface
// had none.
func (r *ResolvConf) Remove(iface string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byIface[iface]; !ok {
		return nil
	}
	delete(r.byIface, iface)
	return r.write()
}

func (r *ResolvConf) write() error {
	path := r.path()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write resolv.conf: %w", err)
	}
	return atomicfile.Write(path, []byte(FormatResolvConf(r.byIface)), 0o644)
}

// FormatResolvConf renders the settings of several interfaces as one
// resolv.conf, interfaces in name order, without repeating a server or a
// search domain. The domain of each interface goes first in the search
// list: resolv.conf's "domain" and "search" exclude each other, and the
// search list can carry both.
func FormatResolvConf(byIface map[string]DNS) string {
	names := make([]string, 0, len(byIface))
	for name, d := range byIface {
		if !d.empty() {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("# Written by dhcpcd")
	if len(names) > 0 {
		b.WriteString(" from " + strings.Join(names, ", "))
	}
	b.WriteString("; it is rewritten whenever a lease changes.\n")
	var search []string
	var servers []netip.Addr
	for _, name := range names {
		d := byIface[name]
		for _, s := range append([]string{d.Domain}, d.Search...) {
			s = strings.TrimSuffix(s, ".")
			// Where names come from (a lease, dhcpcd.conf) they are
			// checked and what fails is logged; this keeps any other
			// caller from writing a line of its own into the file.
			if s != "" && ValidDomainName(s) == nil && !slices.Contains(search, s) {
				search = append(search, s)
			}
		}
		for _, s := range d.Servers {
			if s.IsValid() && validZone(s.Zone()) && !slices.Contains(servers, s) {
				servers = append(servers, s)
			}
		}
	}
	if len(search) > 0 {
		b.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	for _, s := range servers {
		b.WriteString("nameserver " + s.String() + "\n")
	}
	return b.String()
}

// validZone accepts an IPv6 zone (fe80::1%eth0) that cannot break the
// nameserver line it is written on.
func validZone(zone string) bool {
	for i := 0; i < len(zone); i++ {
		if c := zone[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

func equalDNS(a, b DNS) bool {
	return slices.Equal(a.Servers, b.Servers) && a.Domain == b.Domain && slices.Equal(a.Search, b.Search)
}
