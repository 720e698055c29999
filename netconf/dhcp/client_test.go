package dhcp

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

// fakeConn answers through a fakeServer at once, as if on a fast link.
type fakeConn struct {
	t   *testing.T
	srv *fakeServer

	mu       sync.Mutex
	sent     []*dhcpv4.DHCPv4
	released []*dhcpv4.DHCPv4
	// releasedTo is where each RELEASE went.
	releasedTo []string
	closed     bool
}

func (c *fakeConn) SendAndRead(ctx context.Context, _ *net.UDPAddr, msg *dhcpv4.DHCPv4, match nclient4.Matcher) (*dhcpv4.DHCPv4, error) {
	c.mu.Lock()
	c.sent = append(c.sent, msg)
	c.mu.Unlock()
	var reply *dhcpv4.DHCPv4
	switch msg.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		reply = c.srv.offer(c.t, msg)
	case dhcpv4.MessageTypeRequest:
		reply = c.srv.ack(c.t, msg)
	}
	if reply == nil || !match(reply) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return reply, nil
}

func (c *fakeConn) Send(dest *net.UDPAddr, msg *dhcpv4.DHCPv4) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if msg.MessageType() == dhcpv4.MessageTypeRelease {
		c.released = append(c.released, msg)
		c.releasedTo = append(c.releasedTo, dest.String())
	}
	return nil
}

func (c *fakeConn) InterfaceAddr() net.HardwareAddr { return testHW }

func (c *fakeConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

func TestRunReportsBoundThenReleasesOnStop(t *testing.T) {
	srv := newFakeServer()
	srv.lease = time.Hour // no renewal during the test
	raw, conn := &fakeConn{t: t, srv: srv}, &fakeConn{t: t, srv: srv}
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan Event, 10)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, Config{Interface: "eth0", Release: true}, raw, conn, time.Now, func(e Event) { events <- e })
	}()
	if e := <-events; e.Kind != Bound || e.Lease.Address.Addr().String() != "10.0.0.50" {
		t.Fatalf("first event %+v, want Bound to 10.0.0.50", e)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run returned %v after its context ended", err)
	}
	if e := <-events; e.Kind != Released {
		t.Errorf("event after stopping: %+v, want Released", e)
	}
	conn.mu.Lock()
	defer conn.mu.Unlock()
	if len(conn.released) != 1 || !conn.released[0].ClientIPAddr.Equal(srv.yiaddr) ||
		string(conn.released[0].Options.Get(dhcpv4.OptionClientIdentifier)) != string(append([]byte{1}, testHW...)) {
		t.Errorf("releases sent: %v, want one for 10.0.0.50 with the client identifier", conn.released)
	}
	if len(conn.releasedTo) != 1 || conn.releasedTo[0] != "10.0.0.1:67" {
		t.Errorf("RELEASE sent to %v, want the server 10.0.0.1:67", conn.releasedTo)
	}
	if len(raw.released) != 0 {
		t.Errorf("a RELEASE went through the raw socket, from 0.0.0.0")
	}
	if !conn.closed || !raw.closed {
		t.Errorf("the connections were not closed")
	}
}

func TestRenewalGoesOutFromTheLeasedAddress(t *testing.T) {
	srv := newFakeServer()
	srv.t1, srv.t2 = time.Second, 2*time.Second
	raw, leased := &fakeConn{t: t, srv: srv}, &fakeConn{t: t, srv: srv}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan Event, 10)
	go run(ctx, Config{Interface: "eth0"}, raw, leased, time.Now, func(e Event) { events <- e })
	if e := <-events; e.Kind != Bound {
		t.Fatalf("first event %+v, want Bound", e)
	}
	if e := <-events; e.Kind != Renewed {
		t.Fatalf("second event %+v, want Renewed", e)
	}
	raw.mu.Lock()
	defer raw.mu.Unlock()
	leased.mu.Lock()
	defer leased.mu.Unlock()
	if len(raw.sent) != 2 || len(leased.sent) != 1 || !leased.sent[0].ClientIPAddr.Equal(srv.yiaddr) {
		t.Errorf("raw socket sent %d messages, leased %d; want DISCOVER and REQUEST raw, the renewal from the lease", len(raw.sent), len(leased.sent))
	}
}

func TestRunWithoutReleaseKeepsTheLease(t *testing.T) {
	srv := newFakeServer()
	srv.lease = time.Hour
	conn := &fakeConn{t: t, srv: srv}
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan Event, 10)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, Config{Interface: "eth0"}, conn, conn, time.Now, func(e Event) { events <- e })
	}()
	<-events
	cancel()
	<-done
	select {
	case e := <-events:
		t.Errorf("event after stopping without release: %+v", e)
	default:
	}
	if len(conn.released) != 0 {
		t.Errorf("a RELEASE was sent though Config.Release is false")
	}
}
