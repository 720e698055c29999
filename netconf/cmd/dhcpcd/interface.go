package main

import (
	"context"
	"time"

	"github.com/minikit/minikit/netconf"
	"github.com/minikit/minikit/netconf/dhcp"
	"github.com/minikit/minikit/netconf/dhcpcdconf"
)

// runDHCP keeps a lease on the link until ctx ends, applying each change,
// then releases it and takes the configuration away unless persistent.
func (d *daemon) runDHCP(ctx context.Context, l netconf.Link, o dhcpcdconf.Options, kick <-chan struct{}) {
	log := d.log.With("iface", l.Name)
	persistent := d.opts.persistent || d.conf.Persistent
	var applied *netconf.Settings
	cfg := dhcp.Config{
		Interface: l.Name,
		ClientID:  o.ClientID,
		Request:   o.Requested(dhcp.DefaultRequest),
		Release:   !persistent,
		Kick:      kick,
		Logger:    d.log,
	}
	if o.SendHostname || d.opts.hostname != "" {
		cfg.Hostname = d.hostnameToSend(o)
	}
	// What an earlier run left configured (an onboot dhcpcd -1, say) is
	// taken as applied, so that a different new lease replaces it, and
	// its address is asked for again.
	if st, ok := readState(d.opts.runDir, l.Name); ok && st.Lease != nil {
		applied = st.Lease.Settings(l.Name, false)
		applied.Metric = metric(o, l)
		cfg.Previous = st.Lease.Address.Addr()
	}
	d.writeState(state{Interface: l.Name, State: "discovering"})

	handle := func(ev dhcp.Event) {
		switch ev.Kind {
		case dhcp.Bound, dhcp.Renewed:
			for _, d := range ev.Lease.Dropped {
				log.Warn("ignored from the server", "server", ev.Lease.Server, "value", d)
			}
			next := ev.Lease.Settings(l.Name, o.SetsHostname())
			overlayStatic(next, o.Static)
			next.Metric = metric(o, l)
			if err := ignoreGone(d.dhcp.Apply(applied, next)); err != nil {
				log.Error("applying the lease failed", "err", err)
			}
			applied = next
			// State file first: whoever reads the log line may look.
			d.writeState(state{Interface: l.Name, State: "bound", Lease: ev.Lease})
			logLease(log, ev)
			d.setConfigured(l.Name, true)
		case dhcp.Lost:
			if applied != nil {
				if err := ignoreGone(d.dhcp.Remove(applied)); err != nil {
					log.Error("removing the lost lease's configuration failed", "err", err)
				}
				applied = nil
			}
			d.writeState(state{Interface: l.Name, State: "discovering", Reason: ev.Reason})
			d.setConfigured(l.Name, false)
			log.Warn("lease lost", "address", ev.Lease.Address, "server", ev.Lease.Server, "reason", ev.Reason)
		case dhcp.Refused:
			log.Warn("offer refused", "reason", ev.Reason)
		case dhcp.Released:
			log.Info("lease released", "address", ev.Lease.Address, "server", ev.Lease.Server)
		}
	}

	if err := d.links.LinkUp(l.Name); err != nil {
		log.Error("bringing the link up failed", "err", err)
	}
	for wait := time.Second; ctx.Err() == nil; wait = min(wait*2, time.Minute) {
		err := dhcp.Run(ctx, cfg, handle)
		if err == nil {
			break
		}
		// The link may be going away (the watcher will stop us), or
		// the raw socket was refused; either way, try again later.
		log.Error("DHCP client failed", "err", err, "retry_in", wait)
		if !sleepCtx(ctx, wait) {
			break
		}
	}
	if !persistent && applied != nil {
		if err := ignoreGone(d.dhcp.Remove(applied)); err != nil {
			log.Error("removing the configuration failed", "err", err)
		}
		d.writeState(state{Interface: l.Name, State: "released"})
	} else {
		d.writeState(state{Interface: l.Name, State: "stopped"})
	}
}

// runStatic applies a static configuration and keeps it until ctx ends.
func (d *daemon) runStatic(ctx context.Context, l netconf.Link, o dhcpcdconf.Options) {
	log := d.log.With("iface", l.Name)
	s := &netconf.Settings{
		Interface: l.Name,
		Address:   o.Static.Address,
		Metric:    metric(o, l),
	}
	overlayStatic(s, o.Static)
	st := o.Static
	if err := d.static.Apply(nil, s); err != nil {
		log.Error("applying the static configuration failed", "err", err)
		d.writeState(state{Interface: l.Name, State: "discovering", Reason: err.Error()})
	} else {
		d.writeState(state{Interface: l.Name, State: "static", Static: &st})
		log.Info("static configuration applied", "address", s.Address, "router", addrList(st.Routers),
			"dns", addrList(st.DNS), "mtu", st.MTU)
		d.setConfigured(l.Name, true)
	}
	<-ctx.Done()
	if !d.opts.persistent && !d.conf.Persistent {
		if err := ignoreGone(d.static.Remove(s)); err != nil {
			log.Error("removing the static configuration failed", "err", err)
		}
	}
	d.writeState(state{Interface: l.Name, State: "stopped"})
}

// overlayStatic lets "static" values replace what a lease gives, as
// dhcpcd does when an interface has static values but no static address.
func overlayStatic(s *netconf.Settings, st dhcpcdconf.Static) {
	if st.Routers != nil {
		s.Routes = nil
		for _, r := range st.Routers[:1] {
			s.Routes = append(s.Routes, netconf.Route{Dst: netconf.DefaultRoute, Gateway: r})
		}
	}
	if st.DNS != nil {
		s.DNS.Servers = st.DNS
	}
	if st.Domain != "" {
		s.DNS.Domain = st.Domain
	}
	if st.Search != nil {
		s.DNS.Search = st.Search
	}
	if st.MTU != 0 {
		s.MTU = st.MTU
	}
}

// hostnameToSend is -h, the configuration's "hostname NAME", or the
// system's host name when it is not a default one.
func (d *daemon) hostnameToSend(o dhcpcdconf.Options) string {
	if d.opts.hostname != "" {
		return d.opts.hostname
	}
	if o.Hostname != "" {
		return o.Hostname
	}
	if name, err := netconf.Hostname(); err == nil && !netconf.HostnameIsDefault(name) {
		return name
	}
	return ""
}

func (d *daemon) writeState(s state) {
	if err := writeState(d.opts.runDir, s); err != nil {
		d.log.Error("writing the state file failed", "iface", s.Interface, "err", err)
	}
}

// logLease prints a lease the way tests and people read it.
func logLease(log interface {
	Info(string, ...any)
}, ev dhcp.Event) {
	l := ev.Lease
	msg := "lease bound"
	if ev.Kind == dhcp.Renewed {
		msg = "lease renewed"
		if ev.Rebound {
			msg = "lease rebound"
		}
	}
	lease, expires := "infinite", "never"
	if !l.Infinite() {
		lease, expires = l.Duration.String(), l.Expires.UTC().Format(time.RFC3339)
	}
	args := []any{"address", l.Address, "server", l.Server, "router", addrList(l.Routers), "dns", addrList(l.DNS)}
	if l.Domain != "" {
		args = append(args, "domain", l.Domain)
	}
	if l.MTU != 0 {
		args = append(args, "mtu", l.MTU)
	}
	args = append(args, "lease", lease, "expires", expires)
	if !l.Infinite() {
		args = append(args, "renew_in", l.Renew.Sub(l.Acquired).String())
	}
	log.Info(msg, args...)
}
