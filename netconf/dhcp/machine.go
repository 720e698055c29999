package dhcp

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// phase is where the client is in RFC 2131's state diagram (figure 5).
type phase int

const (
	selecting  phase = iota // DISCOVER sent, waiting for an OFFER
	requesting              // REQUEST for an offer sent, waiting for ACK or NAK
	bound                   // lease in hand, waiting for T1
	renewing                // REQUEST to the lease's server, until T2
	rebinding               // REQUEST to anyone, until the lease ends
)

func (p phase) String() string {
	return [...]string{"selecting", "requesting", "bound", "renewing", "rebinding"}[p]
}

// maxRequests is how many times a REQUEST for an offer is sent before the
// client gives the offer up and discovers again.
const maxRequests = 4

// broadcast is where messages go when there is no server to address.
var broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// step is what the machine wants done next: send a message and wait for a
// reply it accepts until a deadline, or (send nil) only wait. A zero
// until means waiting for ever (an infinite lease).
type step struct {
	send *dhcpv4.DHCPv4
	to   netip.Addr
	// fromLease says the message goes out from the leased address, as
	// renewing and rebinding do (RFC 2131, 4.4.5), rather than from
	// 0.0.0.0 through a raw socket: a server's kernel drops a unicast
	// packet from 0.0.0.0 as a martian.
	fromLease bool
	accept    func(*dhcpv4.DHCPv4) bool
	until     time.Time
}

// machine is the client's state: a plain value that next and handle move
// along, given the time and the replies, and that does no I/O.
type machine struct {
	hw       net.HardwareAddr
	clientID []byte
	hostname string
	request  []dhcpv4.OptionCode
	// jitter returns a number in [-1, 1] to spread retransmissions.
	jitter func() float64
	// xid returns the transaction id of each new exchange.
	xid func() dhcpv4.TransactionID

	phase phase
	msg   *dhcpv4.DHCPv4 // what this phase sends, resent with the same xid
	tries int            // sends of msg that had no answer
	offer *dhcpv4.DHCPv4
	lease *Lease
	// previous is the address to ask for when discovering: the one the
	// last lease had, or one an earlier run of the client held.
	previous netip.Addr
	naks     int
	// notBefore holds back discovery after a NAK.
	notBefore time.Time
}

// enter moves to p with a fresh message to send.
func (m *machine) enter(p phase) {
	m.phase, m.msg, m.tries = p, nil, 0
}

func (m *machine) interval(now time.Time) time.Time {
	return now.Add(retransmitWait(m.tries, m.jitter()))
}

// next says what to do at time now.
func (m *machine) next(now time.Time) (step, error) {
	switch m.phase {
	case selecting:
		if now.Before(m.notBefore) {
			return step{until: m.notBefore}, nil
		}
		if m.msg == nil {
			mods := m.options()
			if m.previous.IsValid() {
				mods = append(mods, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(m.previous.AsSlice())))
			}
			m.msg = newDiscover(m.xid(), m.hw, mods...)
		}
		return step{send: m.msg, to: broadcast, accept: isType(dhcpv4.MessageTypeOffer), until: m.interval(now)}, nil

	case requesting:
		if m.msg == nil {
			m.msg = newRequest(m.offer, m.options()...)
		}
		server, _ := addr4(m.offer.ServerIdentifier())
		return step{send: m.msg, to: broadcast, accept: ackOrNakFrom(server), until: m.interval(now)}, nil

	case bound:
		return step{until: m.lease.Renew}, nil

	case renewing, rebinding:
		if m.msg == nil {
			m.msg = newRenew(m.xid(), m.lease.ack, m.options()...)
		}
		if m.phase == renewing {
			// RFC 2131, 4.4.5: renewing asks the lease's own server.
			return step{send: m.msg, to: m.lease.Server, fromLease: true, accept: ackOrNakFrom(m.lease.Server),
				until: earliest(m.interval(now), m.lease.Rebind)}, nil
		}
		return step{send: m.msg, to: broadcast, fromLease: true, accept: ackOrNakFrom(netip.Addr{}),
			until: earliest(m.interval(now), m.lease.Expires)}, nil
	}
	return step{}, fmt.Errorf("dhcp: unknown phase %d", m.phase)
}

// handle takes the reply to the last step (nil when its time ran out
// without one) at time now, and says what happened.
func (m *machine) handle(now time.Time, reply *dhcpv4.DHCPv4) []Event {
	switch m.phase {
	case selecting:
		if reply == nil {
			m.tries++
			return nil
		}
		m.offer = reply
		m.enter(requesting)
		return nil

	case requesting:
		if reply == nil {
			if m.tries++; m.tries >= maxRequests {
				m.enter(selecting)
			}
			return nil
		}
		if reply.MessageType() == dhcpv4.MessageTypeNak {
			m.nak(now)
			return []Event{{Kind: Refused, Reason: nakReason(reply)}}
		}
		lease, err := leaseFromACK(reply, now)
		if err != nil {
			m.enter(selecting)
			return []Event{{Kind: Refused, Reason: err.Error()}}
		}
		m.bind(lease)
		return []Event{{Kind: Bound, Lease: lease}}

	case bound:
		if m.lease.Infinite() {
			return nil
		}
		// T1 came (or later, if the machine slept through it).
		switch {
		case !now.Before(m.lease.Expires):
			return m.lose("expired")
		case !now.Before(m.lease.Rebind):
			m.enter(rebinding)
		default:
			m.enter(renewing)
		}
		return nil

	case renewing, rebinding:
		if reply == nil {
			switch {
			case !now.Before(m.lease.Expires):
				return m.lose("expired")
			case m.phase == renewing && !now.Before(m.lease.Rebind):
				m.enter(rebinding)
			default:
				m.tries++
			}
			return nil
		}
		if reply.MessageType() == dhcpv4.MessageTypeNak {
			events := m.lose(nakReason(reply))
			m.nak(now)
			return events
		}
		lease, err := leaseFromACK(reply, now)
		if err != nil {
			m.tries++
			return nil
		}
		prev, rebound := m.lease, m.phase == rebinding
		m.bind(lease)
		return []Event{{Kind: Renewed, Lease: lease, Previous: prev, Rebound: rebound}}
	}
	return nil
}

func (m *machine) bind(l *Lease) {
	m.lease, m.naks, m.previous = l, 0, l.Address.Addr()
	m.enter(bound)
}

// lose drops the lease and starts discovering again, asking for the same
// address, which a server that only restarted will give back.
func (m *machine) lose(reason string) []Event {
	lost := m.lease
	m.lease, m.offer = nil, nil
	m.enter(selecting)
	return []Event{{Kind: Lost, Lease: lost, Reason: reason}}
}

// nak restarts discovery without asking for the refused address, held
// back if NAKs keep coming.
func (m *machine) nak(now time.Time) {
	m.naks++
	m.previous, m.offer = netip.Addr{}, nil
	m.notBefore = now.Add(nakWait(m.naks))
	m.enter(selecting)
}

// kick makes the machine ask at once, after the link came back: a
// discovery starts over without backoff (and without the hold-off after a
// NAK); a lease is confirmed by rebinding, which any server on the new
// link may answer (with a NAK if the address does not belong there).
func (m *machine) kick() {
	switch m.phase {
	case selecting:
		m.tries, m.notBefore = 0, time.Time{}
	case requesting:
		m.enter(selecting)
	case bound, renewing, rebinding:
		if !m.lease.Infinite() {
			m.enter(rebinding)
		}
	}
}

// held reports whether the machine has a lease to release.
func (m *machine) held() bool { return m.lease != nil && m.phase >= bound }

// options go into every DISCOVER and REQUEST.
func (m *machine) options() []dhcpv4.Modifier {
	mods := []dhcpv4.Modifier{
		dhcpv4.WithRequestedOptions(m.request...),
		dhcpv4.WithOption(dhcpv4.OptMaxMessageSize(1500)),
	}
	if m.clientID != nil {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptClientIdentifier(m.clientID)))
	}
	if m.hostname != "" {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptHostName(m.hostname)))
	}
	return mods
}

func isType(t dhcpv4.MessageType) func(*dhcpv4.DHCPv4) bool {
	return func(d *dhcpv4.DHCPv4) bool { return d.MessageType() == t }
}

// ackOrNakFrom accepts an ACK or NAK from server, or from any server when
// server is the zero Addr.
func ackOrNakFrom(server netip.Addr) func(*dhcpv4.DHCPv4) bool {
	return func(d *dhcpv4.DHCPv4) bool {
		if t := d.MessageType(); t != dhcpv4.MessageTypeAck && t != dhcpv4.MessageTypeNak {
			return false
		}
		if !server.IsValid() {
			return true
		}
		from, ok := addr4(d.ServerIdentifier())
		return ok && from == server
	}
}

func nakReason(nak *dhcpv4.DHCPv4) string {
	server, _ := addr4(nak.ServerIdentifier())
	if msg := nak.Message(); msg != "" {
		return fmt.Sprintf("NAK from %v: %s", server, msg)
	}
	return fmt.Sprintf("NAK from %v", server)
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
