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
package dhcp
