package netconf

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Handle is a netlink connection to one network namespace.
type Handle struct {
	nl *netlink.Handle
	// ns is the namespace the handle was opened in, kept for
	// subscriptions, which open sockets of their own; it is
	// netns.None() for the caller's namespace.
	ns netns.NsHandle
}

// Open returns a Handle on the caller's network namespace. It speaks only
// NETLINK_ROUTE: asking for every netlink family, as netlink.NewHandle()
// does, fails on a kernel without XFRM or netfilter's netlink loaded.
func Open() (*Handle, error) {
	nl, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink: %w", err)
	}
	return &Handle{nl: nl, ns: netns.None()}, nil
}

// OpenAt returns a Handle on the network namespace at path, such as
// /run/netns/NAME or /proc/PID/ns/net, without entering it.
func OpenAt(path string) (*Handle, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	nl, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("open netlink in %s: %w", path, err)
	}
	return &Handle{nl: nl, ns: ns}, nil
}

// Close releases the netlink socket and the namespace.
func (h *Handle) Close() {
	h.nl.Close()
	if h.ns.IsOpen() {
		h.ns.Close()
	}
}

// subscribeNS is the namespace option of netlink subscriptions: nil for
// the caller's own.
func (h *Handle) subscribeNS() *netns.NsHandle {
	if !h.ns.IsOpen() {
		return nil
	}
	ns := h.ns
	return &ns
}
