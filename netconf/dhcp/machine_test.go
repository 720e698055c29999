package dhcp

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

var (
	testHW = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x42}
	t0     = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
)

func testMachine() *machine {
	m := newMachine(Config{Interface: "eth0"}, testHW)
	m.jitter = func() float64 { return 0 }
	return m
}

// mustNext is m.next that fails the test on error.
func mustNext(t *testing.T, m *machine, now time.Time) step {
	t.Helper()
	st, err := m.next(now)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// bind takes m through DISCOVER, OFFER, REQUEST and ACK at t0.
func bind(t *testing.T, m *machine, srv *fakeServer) *Lease {
	t.Helper()
	st := mustNext(t, m, t0)
	m.handle(t0, srv.offer(t, st.send))
	st = mustNext(t, m, t0)
	events := m.handle(t0, srv.ack(t, st.send))
	if len(events) != 1 || events[0].Kind != Bound {
		t.Fatalf("events after the ACK: %+v, want one Bound", events)
	}
	return events[0].Lease
}

func TestDiscoverOfferRequestAck(t *testing.T) {
	m := testMachine()
	srv := newFakeServer()

	st := mustNext(t, m, t0)
	if st.send.MessageType() != dhcpv4.MessageTypeDiscover || st.to != broadcast {
		t.Fatalf("first step sends %v to %v, want a broadcast DISCOVER", st.send.MessageType(), st.to)
	}
	if got := st.send.Options.Get(dhcpv4.OptionClientIdentifier); string(got) != string(append([]byte{1}, testHW...)) {
		t.Errorf("client identifier %x, want 01 and the hardware address", got)
	}
	prl := st.send.ParameterRequestList()
	for _, want := range []dhcpv4.OptionCode{dhcpv4.OptionClasslessStaticRoute, dhcpv4.OptionInterfaceMTU, dhcpv4.OptionDomainNameServer} {
		if !prl.Has(want) {
			t.Errorf("DISCOVER does not ask for %v", want)
		}
	}
	if want := t0.Add(4 * time.Second); !st.until.Equal(want) {
		t.Errorf("waits for an offer until %v, want %v (RFC 2131's first 4 s)", st.until, want)
	}
	if ev := m.handle(t0, srv.offer(t, st.send)); ev != nil {
		t.Errorf("an offer gave events %+v", ev)
	}

	st = mustNext(t, m, t0)
	if st.send.MessageType() != dhcpv4.MessageTypeRequest || st.to != broadcast {
		t.Fatalf("after the offer: %v to %v, want a broadcast REQUEST", st.send.MessageType(), st.to)
	}
	if !st.send.RequestedIPAddress().Equal(srv.yiaddr) || !st.send.ServerIdentifier().Equal(srv.id) {
		t.Errorf("REQUEST asks for %v from %v, want %v from %v",
			st.send.RequestedIPAddress(), st.send.ServerIdentifier(), srv.yiaddr, srv.id)
	}
	other := *srv
	other.id = net.IPv4(10, 0, 0, 2)
	if st.accept(other.ack(t, st.send)) {
		t.Errorf("an ACK from a server whose offer was not taken is accepted")
	}

	events := m.handle(t0, srv.ack(t, st.send))
	if len(events) != 1 || events[0].Kind != Bound {
		t.Fatalf("events %+v, want one Bound", events)
	}
	l := events[0].Lease
	if l.Address != netip.MustParsePrefix("10.0.0.50/24") || l.Server != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("lease %v", l)
	}
	if !l.Renew.Equal(t0.Add(60*time.Second)) || !l.Rebind.Equal(t0.Add(105*time.Second)) || !l.Expires.Equal(t0.Add(120*time.Second)) {
		t.Errorf("T1 %v T2 %v end %v, want +60s +105s +120s", l.Renew.Sub(t0), l.Rebind.Sub(t0), l.Expires.Sub(t0))
	}
	if st := mustNext(t, m, t0); st.send != nil || !st.until.Equal(l.Renew) {
		t.Errorf("bound, the next step is %+v, want to wait until T1", st)
	}
}

func TestDiscoverIsRetransmittedWithBackoff(t *testing.T) {
	m := testMachine()
	now := t0
	var first *dhcpv4.DHCPv4
	var waits []time.Duration
	for range 7 {
		st := mustNext(t, m, now)
		if first == nil {
			first = st.send
		} else if st.send.TransactionID != first.TransactionID {
			t.Errorf("a retransmission changed the transaction id")
		}
		waits = append(waits, st.until.Sub(now))
		now = st.until
		m.handle(now, nil)
	}
	want := []time.Duration{4, 8, 16, 32, 64, 64, 64}
	for i := range want {
		want[i] *= time.Second
	}
	if !slices.Equal(waits, want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
}

func TestRetransmitWaitJitter(t *testing.T) {
	if got := retransmitWait(0, -1); got != 3*time.Second {
		t.Errorf("first wait with jitter -1: %v, want 3s", got)
	}
	if got := retransmitWait(10, 1); got != 65*time.Second {
		t.Errorf("long wait with jitter +1: %v, want 65s", got)
	}
}

func TestRequestIsGivenUpAfterFourTries(t *testing.T) {
	m := testMachine()
	srv := newFakeServer()
	st := mustNext(t, m, t0)
	m.handle(t0, srv.offer(t, st.send))
	now := t0
	for i := range maxRequests {
		st = mustNext(t, m, now)
		if st.send.MessageType() != dhcpv4.MessageTypeRequest {
			t.Fatalf("try %d sends %v, want REQUEST", i+1, st.send.MessageType())
		}
		now = st.until
		m.handle(now, nil)
	}
	if st = mustNext(t, m, now); st.send.MessageType() != dhcpv4.MessageTypeDiscover {
		t.Errorf("after %d unanswered REQUESTs the client sends %v, want DISCOVER", maxRequests, st.send.MessageType())
	}
}

func TestRenewalAtT1GoesToTheLeasesServer(t *testing.T) {
	m := testMachine()
	srv := newFakeServer()
	srv.t1, srv.t2 = 10*time.Second, 20*time.Second
	l := bind(t, m, srv)

	t1 := t0.Add(10 * time.Second)
	if ev := m.handle(t1, nil); ev != nil {
		t.Fatalf("T1 gave events %+v", ev)
	}
	st := mustNext(t, m, t1)
	if st.send.MessageType() != dhcpv4.MessageTypeRequest || st.to != l.Server {
		t.Fatalf("at T1: %v to %v, want a REQUEST to %v", st.send.MessageType(), st.to, l.Server)
	}
	if !st.send.ClientIPAddr.Equal(srv.yiaddr) || st.send.Options.Has(dhcpv4.OptionServerIdentifier) ||
		st.send.Options.Has(dhcpv4.OptionRequestedIPAddress) {
		t.Errorf("a renewing REQUEST must carry ciaddr and no server id or requested address (RFC 2131, 4.3.2): %s", st.send.Summary())
	}

	later := t1.Add(time.Second)
	events := m.handle(later, srv.ack(t, st.send))
	if len(events) != 1 || events[0].Kind != Renewed || events[0].Rebound || events[0].Previous != l {
		t.Fatalf("events %+v, want one Renewed replacing the first lease", events)
	}
	if got := events[0].Lease.Expires; !got.Equal(later.Add(120 * time.Second)) {
		t.Errorf("renewed lease ends %v after the ACK, want 120s", got.Sub(later))
	}
	if st := mustNext(t, m, later); st.send != nil || !st.until.Equal(later.Add(10*time.Second)) {
		t.Errorf("after renewal the client waits until %v, want the new T1", st.until.Sub(later))
	}
}

func TestSilentServerMeansRebindingAtT2ThenLossAtExpiry(t *testing.T) {
	m := testMachine()
	srv := newFakeServer()
	srv.t1, srv.t2 = 10*time.Second, 20*time.Second
	l := bind(t, m, srv)
	now := t0.Add(10 * time.Second)
	m.handle(now, nil) // T1

	var sends []string
	var lost *Event
	for lost == nil && now.Before(t0.Add(time.Hour)) {
		st := mustNext(t, m, now)
		if st.send != nil {
			sends = append(sends, st.to.String()+"@"+st.until.Sub(t0).String())
		}
		if st.until.After(l.Expires) {
			t.Fatalf("step waits until %v, past the lease's end", st.until.Sub(t0))
		}
		now = st.until
		for _, ev := range m.handle(now, nil) {
			lost = &ev
		}
	}
	// Renewing to the server at T1 with backoff, cut at T2; rebinding by
	// broadcast from T2, cut at the end of the lease.
	want := []string{
		"10.0.0.1@14s", "10.0.0.1@20s",
		"255.255.255.255@24s", "255.255.255.255@32s", "255.255.255.255@48s",
		"255.255.255.255@1m20s", "255.255.255.255@2m0s",
	}
	if !slices.Equal(sends, want) {
		t.Errorf("sends (to@deadline):\n%v\nwant\n%v", sends, want)
	}
	if lost == nil || lost.Kind != Lost || lost.Reason != "expired" || lost.Lease != l {
		t.Fatalf("at the lease's end: %+v, want Lost (expired) of the lease", lost)
	}
	st := mustNext(t, m, now)
	if st.send.MessageType() != dhcpv4.MessageTypeDiscover || !st.send.RequestedIPAddress().Equal(srv.yiaddr) {
		t.Errorf("after losing the lease: %s; want a DISCOVER asking for the old address", st.send.Summary())
	}
}

func TestAnyServerMayAnswerWhileRebinding(t *testing.T) {
	m := testMachine()
	srv := newFakeServer()
	srv.t1, srv.t2 = 10*time.Second, 20*time.Second
	bind(t, m, srv)
	now := t0.Add(20 * time.Second)
	m.handle(now, nil) // T1 and T2 both passed: straight to rebinding
	st := mustNext(t, m, now)
	if st.to != broadcast {
		t.Fatalf("past T2 the client sends to %v, want broadcast", st.to)
	}
	other := *srv
	other.id = net.IPv4(10, 0, 0, 2)
	ack := other.ack(t, st.send)
	if !st.accept(ack) {
		t.Fatalf("an ACK from another server is refused while rebinding")
	}
	events := m.handle(now, ack)
	if len(events) != 1 || events[0].Kind != Renewed || !events[0].Rebound || events[0].Lease.Server != netip.MustParseAddr("10.0.0.2") {
		t.Errorf("events %+v, want Renewed by rebinding from 10.0.0.2", events)
	}
}

func TestNakWhileRenewingLosesTheLeaseAndRediscovers(t *testing.T) {
	m := testMachine()
	srv := newFakeServer()
	srv.t1, srv.t2 = 10*time.Second, 20*time.Second
	l := bind(t, m, srv)
	now := t0.Add(10 * time.Second)
	m.handle(now, nil)
	st := mustNext(t, m, now)
	events := m.handle(now, srv.nak(t, st.send, "wrong network"))
	if len(events) != 1 || events[0].Kind != Lost || events[0].Lease != l ||
		!strings.Contains(events[0].Reason, "NAK from 10.0.0.1: wrong network") {
		t.Fatalf("events %+v, want Lost saying who refused and why", events)
	}
	st = mustNext(t, m, now)
	if st.send.MessageType() != dhcpv4.MessageTypeDiscover || st.send.Options.Has(dhcpv4.OptionRequestedIPAddress) {
		t.Errorf("after a NAK: %s; want a DISCOVER not asking for the refused address", st.send.Summary())
	}

	// A server that refuses again and again is asked less and less often.
	var waits []time.Duration
	for range 3 {
		st := mustNext(t, m, now)
		for st.send == nil {
			waits = append(waits, st.until.Sub(now))
			now = st.until
			m.handle(now, nil)
			st = mustNext(t, m, now)
		}
		m.handle(now, srv.offer(t, st.send))
		st = mustNext(t, m, now)
		if ev := m.handle(now, srv.nak(t, st.send, "no")); len(ev) != 1 || ev[0].Kind != Refused {
			t.Fatalf("a NAK to a REQUEST gave %+v, want Refused", ev)
		}
	}
	if want := []time.Duration{4 * time.Second, 8 * time.Second}; !slices.Equal(waits, want) {
		t.Errorf("waits before discovering after NAKs: %v, want %v", waits, want)
	}
}

func TestInfiniteLeaseIsNeverRenewed(t *testing.T) {
	m := testMachine()
	srv := newFakeServer()
	srv.extra = []dhcpv4.Modifier{dhcpv4.WithGeneric(dhcpv4.OptionIPAddressLeaseTime, []byte{0xff, 0xff, 0xff, 0xff})}
	l := bind(t, m, srv)
	if !l.Infinite() || !l.Expires.IsZero() {
		t.Fatalf("lease %v is not infinite", l)
	}
	if st := mustNext(t, m, t0); st.send != nil || !st.until.IsZero() {
		t.Errorf("with an infinite lease the client plans %+v, want to wait for ever", st)
	}
}

func TestKickRestartsDiscoveryWithoutBackoff(t *testing.T) {
	m := testMachine()
	now := t0
	for range 3 { // three unanswered DISCOVERs: the next wait would be 32 s
		st := mustNext(t, m, now)
		now = st.until
		m.handle(now, nil)
	}
	m.kick()
	if st := mustNext(t, m, now); st.send.MessageType() != dhcpv4.MessageTypeDiscover || st.until.Sub(now) != 4*time.Second {
		t.Errorf("after a kick: %v waiting %v, want a DISCOVER now with the first wait, 4s", st.send.MessageType(), st.until.Sub(now))
	}
}

func TestKickEndsTheHoldOffAfterNaks(t *testing.T) {
	m := testMachine()
	m.naks = 3
	m.nak(t0)
	if st := mustNext(t, m, t0); st.send != nil {
		t.Fatalf("after repeated NAKs the client sends at once; the test needs a hold-off")
	}
	m.kick()
	if st := mustNext(t, m, t0); st.send == nil || st.send.MessageType() != dhcpv4.MessageTypeDiscover {
		t.Errorf("after a kick the client still holds off")
	}
}

func TestKickConfirmsALeaseByRebinding(t *testing.T) {
	m := testMachine()
	srv := newFakeServer()
	l := bind(t, m, srv)
	later := t0.Add(5 * time.Second) // long before T1
	m.kick()
	st := mustNext(t, m, later)
	if st.send.MessageType() != dhcpv4.MessageTypeRequest || st.to != broadcast || !st.fromLease ||
		!st.send.ClientIPAddr.Equal(srv.yiaddr) {
		t.Fatalf("after a kick while bound: %s to %v; want a broadcast REQUEST for the lease", st.send.Summary(), st.to)
	}
	other := *srv
	other.id = net.IPv4(10, 0, 0, 2)
	events := m.handle(later, other.nak(t, st.send, "wrong network"))
	if len(events) != 1 || events[0].Kind != Lost || events[0].Lease != l {
		t.Errorf("a NAK from the new network's server gave %+v, want the lease Lost", events)
	}
}
