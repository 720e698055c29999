package dhcp

import (
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// fakeServer answers the messages tests hand it, as a DHCP server would.
type fakeServer struct {
	id     net.IP
	yiaddr net.IP
	lease  time.Duration
	// t1 and t2 are sent as options 58 and 59 when not zero.
	t1, t2 time.Duration
	extra  []dhcpv4.Modifier
}

func newFakeServer() *fakeServer {
	return &fakeServer{
		id:     net.IPv4(10, 0, 0, 1),
		yiaddr: net.IPv4(10, 0, 0, 50),
		lease:  120 * time.Second,
	}
}

func (s *fakeServer) reply(t testing.TB, req *dhcpv4.DHCPv4, typ dhcpv4.MessageType) *dhcpv4.DHCPv4 {
	t.Helper()
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(s.id)),
	}
	if typ != dhcpv4.MessageTypeNak {
		mods = append(mods,
			dhcpv4.WithYourIP(s.yiaddr),
			dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
			dhcpv4.WithOption(dhcpv4.OptRouter(net.IPv4(10, 0, 0, 1))),
			dhcpv4.WithOption(dhcpv4.OptDNS(net.IPv4(10, 0, 0, 53))),
			dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(s.lease)),
		)
		if s.t1 != 0 {
			mods = append(mods, dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(s.t1)))
		}
		if s.t2 != 0 {
			mods = append(mods, dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(s.t2)))
		}
		mods = append(mods, s.extra...)
	}
	r, err := dhcpv4.NewReplyFromRequest(req, mods...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (s *fakeServer) offer(t testing.TB, req *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	return s.reply(t, req, dhcpv4.MessageTypeOffer)
}

func (s *fakeServer) ack(t testing.TB, req *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	return s.reply(t, req, dhcpv4.MessageTypeAck)
}

func (s *fakeServer) nak(t testing.TB, req *dhcpv4.DHCPv4, msg string) *dhcpv4.DHCPv4 {
	t.Helper()
	r := s.reply(t, req, dhcpv4.MessageTypeNak)
	r.UpdateOption(dhcpv4.OptMessage(msg))
	return r
}
