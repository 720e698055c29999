package dhcp

import (
	"encoding/binary"
	"math/rand/v2"
	"net"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// The client builds its messages here rather than with dhcpv4.New and the
// constructors over it (NewDiscovery, NewRequestFromOffer, NewRenewFromAck,
// NewReleaseFromACK): each of those draws a transaction id from getrandom
// before any modifier can replace it, and getrandom waits until the
// kernel's CRNG is ready. On a VM without virtio-rng or RDRAND that is tens
// of seconds after boot, so an onboot dhcpcd would time out with the link
// long up. The modifiers below are the library's own, in the order its
// constructors apply them.

// newXID returns a transaction id that never waits for the kernel.
//
// RFC 2131 asks only that a client's xid be random enough that its
// replies are not confused with another client's; it is no secret, since
// anyone on the link sees it in the clear. math/rand/v2's top-level
// generator is the runtime's ChaCha8, seeded at start-up from the 16 bytes
// the kernel puts in the ELF auxiliary vector (AT_RANDOM) without blocking;
// it differs from process to process and from boot to boot.
func newXID() dhcpv4.TransactionID {
	var xid dhcpv4.TransactionID
	binary.BigEndian.PutUint32(xid[:], rand.Uint32())
	return xid
}

// newMessage is dhcpv4.New with the transaction id given instead of read
// from getrandom: the same empty BOOTREQUEST, then the modifiers.
func newMessage(xid dhcpv4.TransactionID, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	d := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootRequest,
		HWType:        iana.HWTypeEthernet,
		ClientHWAddr:  make(net.HardwareAddr, 6),
		TransactionID: xid,
		ClientIPAddr:  net.IPv4zero,
		YourIPAddr:    net.IPv4zero,
		ServerIPAddr:  net.IPv4zero,
		GatewayIPAddr: net.IPv4zero,
		Options:       make(dhcpv4.Options),
	}
	for _, mod := range mods {
		mod(d)
	}
	return d
}

// baseRequest is the parameter request list the library's constructors
// start from; Config.Request adds to it.
var baseRequest = dhcpv4.WithRequestedOptions(
	dhcpv4.OptionSubnetMask,
	dhcpv4.OptionRouter,
	dhcpv4.OptionDomainName,
	dhcpv4.OptionDomainNameServer,
)

// newDiscover is dhcpv4.NewDiscovery with xid.
func newDiscover(xid dhcpv4.TransactionID, hw net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	return newMessage(xid, dhcpv4.PrependModifiers(mods,
		dhcpv4.WithHwAddr(hw),
		baseRequest,
		dhcpv4.WithMessageType(dhcpv4.MessageTypeDiscover),
	)...)
}

// newRequest is dhcpv4.NewRequestFromOffer: a REQUEST for the offer, with
// the offer's xid as RFC 2131 (4.4.1) has it.
func newRequest(offer *dhcpv4.DHCPv4, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	return newMessage(offer.TransactionID, dhcpv4.PrependModifiers(mods,
		dhcpv4.WithReply(offer),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithClientIP(offer.ClientIPAddr),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr)),
		dhcpv4.WithOptionCopied(offer, dhcpv4.OptionServerIdentifier),
		baseRequest,
	)...)
}

// newRenew is dhcpv4.NewRenewFromAck with a fresh xid: renewing and
// rebinding start a transaction of their own.
func newRenew(xid dhcpv4.TransactionID, ack *dhcpv4.DHCPv4, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	return newMessage(xid, dhcpv4.PrependModifiers(mods,
		dhcpv4.WithReply(ack),
		dhcpv4.WithTransactionID(xid),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithClientIP(ack.YourIPAddr),
		dhcpv4.WithBroadcast(false),
		baseRequest,
	)...)
}

// newRelease is dhcpv4.NewReleaseFromACK with xid.
func newRelease(xid dhcpv4.TransactionID, ack *dhcpv4.DHCPv4, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	return newMessage(xid, dhcpv4.PrependModifiers(mods,
		dhcpv4.WithMessageType(dhcpv4.MessageTypeRelease),
		dhcpv4.WithClientIP(ack.YourIPAddr),
		dhcpv4.WithHwAddr(ack.ClientHWAddr),
		dhcpv4.WithBroadcast(false),
		dhcpv4.WithOptionCopied(ack, dhcpv4.OptionServerIdentifier),
	)...)
}
