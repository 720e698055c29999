package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/minikit/minikit/netconf"
	"github.com/minikit/minikit/netconf/dhcpcdconf"
)

// daemon runs one configuration goroutine per interface, starting them as
// interfaces appear (at start or hot-plugged) and stopping them as they
// go.
type daemon struct {
	opts  options
	conf  *dhcpcdconf.Config
	links *netconf.Handle
	log   *slog.Logger
	// dhcp and static put settings into effect; they share resolv.conf
	// and differ in the protocol their routes are marked with.
	dhcp, static *netconf.Configurer

	mu         sync.Mutex
	running    map[string]*running
	configured map[string]bool
	changed    chan struct{} // a value when configured changes
	wg         sync.WaitGroup
}

type running struct {
	index   int
	carrier bool
	// kick tells the interface's client that the carrier came back.
	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

func newDaemon(opts options, conf *dhcpcdconf.Config, links *netconf.Handle, log *slog.Logger) *daemon {
	resolv := &netconf.ResolvConf{Path: opts.runDir + "/resolv.conf"}
	d := &daemon{
		opts: opts, conf: conf, links: links, log: log,
		running:    make(map[string]*running),
		configured: make(map[string]bool),
		changed:    make(chan struct{}, 1),
	}
	d.dhcp = &netconf.Configurer{Links: links, Resolv: resolv, Protocol: netconf.ProtoDHCP, SetHostname: d.setHostname}
	d.static = &netconf.Configurer{Links: links, Resolv: resolv, Protocol: netconf.ProtoStatic, SetHostname: d.setHostname}
	return d
}

// run watches the links until ctx ends, then stops every interface's
// goroutine and waits for them (they release and unconfigure).
func (d *daemon) run(ctx context.Context) error {
	events, errc, err := d.links.WatchLinks(ctx)
	if err != nil {
		return err
	}
	for ev := range events {
		d.linkChanged(ctx, ev)
	}
	d.mu.Lock()
	for _, r := range d.running {
		r.cancel()
	}
	d.mu.Unlock()
	d.wg.Wait()
	return <-errc
}

// wanted says whether to configure a link: the ones named on the command
// line, or else every link with an Ethernet address that is not loopback
// and that the configuration file allows.
func (d *daemon) wanted(l netconf.Link) bool {
	if len(d.opts.interfaces) > 0 {
		return slices.Contains(d.opts.interfaces, l.Name)
	}
	return !l.Loopback && len(l.HardwareAddr) == 6 && d.conf.Allowed(l.Name)
}

func (d *daemon) linkChanged(ctx context.Context, ev netconf.LinkEvent) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.running[ev.Link.Name]
	switch {
	case ev.Gone && ok:
		d.log.Info("interface removed", "iface", ev.Link.Name)
		r.cancel()
		delete(d.running, ev.Link.Name)
	case !ev.Gone && ok && r.index != ev.Link.Index:
		// Removed and added again faster than we heard of it: start over.
		r.cancel()
		delete(d.running, ev.Link.Name)
		d.start(ctx, ev.Link)
	case !ev.Gone && !ok && d.wanted(ev.Link):
		d.start(ctx, ev.Link)
	case !ev.Gone && ok && ev.Link.Carrier != r.carrier:
		// A cable plugged in, maybe into another network: ask now
		// rather than at the next retransmission, up to a minute away.
		r.carrier = ev.Link.Carrier
		if r.carrier {
			d.log.Info("carrier up", "iface", ev.Link.Name)
			select {
			case r.kick <- struct{}{}:
			default:
			}
		} else {
			d.log.Info("carrier lost", "iface", ev.Link.Name)
		}
	}
}

// start runs the interface's goroutine; d.mu is held.
func (d *daemon) start(ctx context.Context, l netconf.Link) {
	ictx, cancel := context.WithCancel(ctx)
	r := &running{index: l.Index, carrier: l.Carrier, kick: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	d.running[l.Name] = r
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer close(r.done)
		d.log.Info("interface added", "iface", l.Name, "hwaddr", l.HardwareAddr.String())
		o := d.conf.For(l.Name)
		if o.Static.Address.IsValid() {
			d.runStatic(ictx, l, o)
		} else {
			d.runDHCP(ictx, l, o, r.kick)
		}
		d.setConfigured(l.Name, false)
	}()
}

// setConfigured records whether the interface has an address, for
// oneshot mode.
func (d *daemon) setConfigured(name string, ok bool) {
	d.mu.Lock()
	d.configured[name] = ok
	d.mu.Unlock()
	select {
	case d.changed <- struct{}{}:
	default:
	}
}

// waitConfigured waits until the named interfaces all have an address
// (or, with none named, any one does), until timeout (zero for ever) or
// ctx ends; it reports whether the addresses came.
func (d *daemon) waitConfigured(ctx context.Context, timeout time.Duration) bool {
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	for {
		if d.allConfigured() {
			return true
		}
		select {
		case <-d.changed:
		case <-expired:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

func (d *daemon) allConfigured() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.opts.interfaces) == 0 {
		for _, ok := range d.configured {
			if ok {
				return true
			}
		}
		return false
	}
	for _, name := range d.opts.interfaces {
		if !d.configured[name] {
			return false
		}
	}
	return true
}

// unconfigured lists the interfaces oneshot mode still waits for.
func (d *daemon) unconfigured() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var names []string
	for name := range d.running {
		names = append(names, name)
	}
	for _, name := range d.opts.interfaces {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return slices.DeleteFunc(names, func(n string) bool { return d.configured[n] })
}

// metric is the routes' metric on a link: the configuration's, or
// dhcpcd's 1000 plus the link's index, so that every link's default
// route can exist at once and the first link's wins.
func metric(o dhcpcdconf.Options, l netconf.Link) int {
	if o.Metric > 0 {
		return o.Metric
	}
	return 1000 + l.Index
}

// setHostname sets the host name from a lease only over a name nobody
// chose, or one set from an earlier lease, as dhcpcd's hostname hook does.
func (d *daemon) setHostname(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	current, err := netconf.Hostname()
	if err != nil {
		return err
	}
	if current == name {
		return nil
	}
	if !netconf.HostnameIsDefault(current) && current != hostnameFromLease {
		d.log.Info("hostname kept", "hostname", current, "offered", name)
		return nil
	}
	if err := netconf.SetHostname(name); err != nil {
		if errors.Is(err, syscall.EPERM) {
			return fmt.Errorf("%w (setting the host name needs CAP_SYS_ADMIN: add it to the dhcpcd entry with capabilities.add)", err)
		}
		return err
	}
	hostnameFromLease = name
	d.log.Info("hostname set", "hostname", name)
	return nil
}

// hostnameFromLease is the host name this process set, which a later
// lease may replace.
var hostnameFromLease string

// sleepCtx waits d or until ctx ends, and reports whether ctx is live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// ignoreGone drops the error of an operation on a link that has gone.
func ignoreGone(err error) error {
	if errors.Is(err, netconf.ErrNoLink) {
		return nil
	}
	return err
}
