// Package dhcp is a DHCPv4 client (RFC 2131) on
// github.com/insomniacslk/dhcp: discover, offer, request and acknowledge
// with retransmission and backoff, renewal at T1, rebinding at T2, loss of
// the lease at its end or on a NAK, and release on a clean stop.
//
// The protocol's decisions live in a state machine that is a plain value
// driven by the time and the replies it is given, so tests step through
// hours of a lease in microseconds. Client runs that machine over a raw
// socket on one interface and reports what happens as Events; it does not
// configure anything itself: the caller applies Lease.Settings with a
// netconf.Configurer.
//
// A server is not trusted with more than the network it hands out. A
// lease keeps only values the system can use as they are: DNS names
// (RFC 1123 labels, in ASCII) as domain and search list, a valid host
// name, unicast addresses for DNS servers, routers and gateways, routes
// to neither loopback nor multicast, an MTU of at least 68. The rest is
// listed in Lease.Dropped and reaches no file and no kernel setting.
//
// Transaction ids come from math/rand/v2, never from getrandom, which
// before the kernel's CRNG is ready would hold the client back for as long
// as that takes: tens of seconds on a VM without a hardware RNG.
package dhcp
