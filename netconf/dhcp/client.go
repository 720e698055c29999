package dhcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

// DefaultRequest is the options the client asks for unless told
// otherwise: what Lease.Settings applies.
var DefaultRequest = []dhcpv4.OptionCode{
	dhcpv4.OptionSubnetMask,
	dhcpv4.OptionRouter,
	dhcpv4.OptionDomainNameServer,
	dhcpv4.OptionDomainName,
	dhcpv4.OptionInterfaceMTU,
	dhcpv4.OptionBroadcastAddress,
	dhcpv4.OptionIPAddressLeaseTime,
	dhcpv4.OptionRenewTimeValue,
	dhcpv4.OptionRebindingTimeValue,
	dhcpv4.OptionDNSDomainSearchList,
	dhcpv4.OptionClasslessStaticRoute,
}

// Config is what a client on one interface needs.
type Config struct {
	// Interface is the link's name.
	Interface string
	// ClientID is sent as option 61; nil sends the hardware address with
	// its type (1, Ethernet), as dhcpcd's "clientid" does, so that a
	// restarted client gets its lease back.
	ClientID []byte
	// Hostname, when set, is sent as option 12 (dhcpcd's "hostname").
	Hostname string
	// Request lists the options to ask for; nil asks for DefaultRequest.
	Request []dhcpv4.OptionCode
	// Previous is an address to ask for when discovering, such as the
	// one a previous run of the client held.
	Previous netip.Addr
	// Release sends a RELEASE for the lease when Run's context ends.
	Release bool
	// Kick, when a value arrives, says the link came back (its carrier
	// returned): the client stops waiting and asks at once, discovering
	// without backoff or, holding a lease, confirming it by rebinding, as
	// RFC 2131 (3.2) has a client do when it may have moved.
	Kick <-chan struct{}
	// Logger receives the protocol's details at debug level; nil
	// discards them.
	Logger *slog.Logger
}

// conn is what Run needs of nclient4.Client.
type conn interface {
	SendAndRead(ctx context.Context, dest *net.UDPAddr, msg *dhcpv4.DHCPv4, match nclient4.Matcher) (*dhcpv4.DHCPv4, error)
	InterfaceAddr() net.HardwareAddr
	Close() error
}

// leasedConn talks from the leased address, and can also send a message
// that has no reply: a RELEASE.
type leasedConn interface {
	conn
	Send(dest *net.UDPAddr, msg *dhcpv4.DHCPv4) error
}

// udpClient is nclient4.Client over the client's UDP socket, which Send
// writes to directly: nclient4's own Release builds its message with
// dhcpv4.New, whose getrandom may wait for the kernel's CRNG.
type udpClient struct {
	*nclient4.Client
	pc net.PacketConn
}

func (c udpClient) Send(dest *net.UDPAddr, msg *dhcpv4.DHCPv4) error {
	if _, err := c.pc.WriteTo(msg.ToBytes(), dest); err != nil {
		return fmt.Errorf("send %s to %v: %w", msg.MessageType(), dest, err)
	}
	return nil
}

// Run keeps a lease on cfg.Interface until ctx ends, calling handle with
// each Event as it happens (handle runs on Run's goroutine; the client
// waits for it). It returns nil when ctx ends and an error when it cannot
// work on the interface at all.
//
// It needs CAP_NET_RAW for the raw socket that talks before the interface
// has an address, and CAP_NET_BIND_SERVICE for the UDP socket on port 68
// that renews, rebinds and releases from the leased address.
func Run(ctx context.Context, cfg Config, handle func(Event)) error {
	// The client's own retransmission replaces nclient4's: one try per
	// call, bounded by the context's deadline.
	opts := []nclient4.ClientOpt{nclient4.WithRetry(1), nclient4.WithTimeout(24 * time.Hour)}
	raw, err := nclient4.New(cfg.Interface, opts...)
	if err != nil {
		return fmt.Errorf("dhcp on %s: %w", cfg.Interface, err)
	}
	udp, err := listenUDP(cfg.Interface)
	if err != nil {
		raw.Close()
		return fmt.Errorf("dhcp on %s: %w", cfg.Interface, err)
	}
	leased, err := nclient4.NewWithConn(udp, raw.InterfaceAddr(), opts...)
	if err != nil {
		raw.Close()
		udp.Close()
		return fmt.Errorf("dhcp on %s: %w", cfg.Interface, err)
	}
	return run(ctx, cfg, raw, udpClient{Client: leased, pc: udp}, time.Now, handle)
}

// run drives the machine over raw (for messages sent before there is an
// address) and leased (for those sent from it).
func run(ctx context.Context, cfg Config, raw conn, leased leasedConn, now func() time.Time, handle func(Event)) error {
	defer raw.Close()
	defer leased.Close()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("iface", cfg.Interface)
	m := newMachine(cfg, raw.InterfaceAddr())
	for ctx.Err() == nil {
		st, err := m.next(now())
		if err != nil {
			return fmt.Errorf("dhcp on %s: %w", cfg.Interface, err)
		}
		var reply *dhcpv4.DHCPv4
		stepCtx, kicked, stop := withKick(ctx, cfg.Kick)
		if st.send == nil {
			sleepUntil(stepCtx, st.until)
		} else {
			log.Debug("send", "type", st.send.MessageType().String(), "to", st.to, "phase", m.phase.String(), "try", m.tries+1)
			c := raw
			if st.fromLease {
				c = leased
			}
			reply, err = exchange(stepCtx, c, st)
			if err != nil && stepCtx.Err() == nil {
				// The link may be down; try again at the next
				// retransmission rather than at once.
				log.Debug("exchange failed", "err", err)
				sleepUntil(stepCtx, st.until)
			}
			if reply != nil {
				from, _ := addr4(reply.ServerIdentifier())
				log.Debug("received", "type", reply.MessageType().String(), "from", from, "address", reply.YourIPAddr)
			}
		}
		stop()
		if ctx.Err() != nil {
			break
		}
		if kicked() && reply == nil {
			log.Debug("the link came back: asking at once", "phase", m.phase.String())
			m.kick()
			continue
		}
		for _, ev := range m.handle(now(), reply) {
			handle(ev)
		}
	}
	if cfg.Release {
		release(leased, m, log, handle)
	}
	return nil
}

// release sends a RELEASE for the lease held to its server, as unicast
// from the leased address (RFC 2131, 4.4.4); nothing answers it.
func release(c leasedConn, m *machine, log *slog.Logger, handle func(Event)) {
	if !m.held() {
		return
	}
	lease := m.lease
	var mods []dhcpv4.Modifier
	if m.clientID != nil {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptClientIdentifier(m.clientID)))
	}
	msg := newRelease(m.xid(), lease.ack, mods...)
	to := &net.UDPAddr{IP: net.IP(lease.Server.AsSlice()), Port: nclient4.ServerPort}
	if err := c.Send(to, msg); err != nil {
		log.Warn("release failed", "err", err)
	}
	handle(Event{Kind: Released, Lease: lease})
}

func newMachine(cfg Config, hw net.HardwareAddr) *machine {
	m := &machine{
		hw:       hw,
		clientID: cfg.ClientID,
		hostname: cfg.Hostname,
		request:  cfg.Request,
		previous: cfg.Previous,
		jitter:   func() float64 { return rand.Float64()*2 - 1 },
		xid:      newXID,
	}
	if m.clientID == nil && len(hw) > 0 {
		m.clientID = append([]byte{1}, hw...) // 1: Ethernet, RFC 2132 9.14
	}
	if m.request == nil {
		m.request = DefaultRequest
	}
	return m
}

// exchange sends the step's message and waits for a reply it accepts
// until the step's deadline; no reply by then is (nil, nil).
func exchange(ctx context.Context, c conn, st step) (*dhcpv4.DHCPv4, error) {
	wait, cancel := context.WithDeadline(ctx, st.until)
	defer cancel()
	to := &net.UDPAddr{IP: net.IP(st.to.AsSlice()), Port: nclient4.ServerPort}
	reply, err := c.SendAndRead(wait, to, st.send, nclient4.Matcher(st.accept))
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nclient4.ErrNoResponse) {
		return nil, nil
	}
	return reply, err
}

// withKick is ctx cancelled also when kick delivers a value; kicked says
// whether that happened, and stop must be called when the step is over.
func withKick(ctx context.Context, kick <-chan struct{}) (stepCtx context.Context, kicked func() bool, stop func()) {
	if kick == nil {
		return ctx, func() bool { return false }, func() {}
	}
	stepCtx, cancel := context.WithCancel(ctx)
	var got atomic.Bool
	done := make(chan struct{})
	go func() {
		select {
		case <-kick:
			got.Store(true)
			cancel()
		case <-done:
		}
	}()
	return stepCtx, got.Load, func() { close(done); cancel() }
}

// sleepUntil waits until t (for ever when t is zero) and reports whether
// ctx is still live.
func sleepUntil(ctx context.Context, t time.Time) bool {
	if t.IsZero() {
		<-ctx.Done()
		return false
	}
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
