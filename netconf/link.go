package netconf

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Link is what configuration needs to know of a network interface.
type Link struct {
	Name         string
	Index        int
	HardwareAddr net.HardwareAddr
	MTU          int
	// Up is the administrative state (IFF_UP).
	Up bool
	// Carrier says the link can pass packets (IFF_RUNNING): a cable is
	// plugged in, the peer of a veth is up.
	Carrier  bool
	Loopback bool
}

// ErrNoLink is wrapped by errors about a link that does not exist.
var ErrNoLink = errors.New("no such link")

func linkFromNetlink(l netlink.Link) Link {
	a := l.Attrs()
	return Link{
		Name:         a.Name,
		Index:        a.Index,
		HardwareAddr: a.HardwareAddr,
		MTU:          a.MTU,
		Up:           a.Flags&net.FlagUp != 0,
		Carrier:      a.RawFlags&unix.IFF_RUNNING != 0,
		Loopback:     a.Flags&net.FlagLoopback != 0,
	}
}

// Links lists the links of the namespace.
func (h *Handle) Links() ([]Link, error) {
	nls, err := h.nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	links := make([]Link, 0, len(nls))
	for _, l := range nls {
		links = append(links, linkFromNetlink(l))
	}
	return links, nil
}

// Link returns the link called name; the error wraps ErrNoLink when there
// is none.
func (h *Handle) Link(name string) (Link, error) {
	l, err := h.link(name)
	if err != nil {
		return Link{}, err
	}
	return linkFromNetlink(l), nil
}

func (h *Handle) link(name string) (netlink.Link, error) {
	l, err := h.nl.LinkByName(name)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return nil, fmt.Errorf("link %s: %w", name, ErrNoLink)
		}
		return nil, fmt.Errorf("link %s: %w", name, err)
	}
	return l, nil
}

// LinkUp sets the link administratively up.
func (h *Handle) LinkUp(name string) error {
	l, err := h.link(name)
	if err != nil {
		return err
	}
	if err := h.nl.LinkSetUp(l); err != nil {
		return fmt.Errorf("set link %s up: %w", name, err)
	}
	return nil
}

// LinkDown sets the link administratively down.
func (h *Handle) LinkDown(name string) error {
	l, err := h.link(name)
	if err != nil {
		return err
	}
	if err := h.nl.LinkSetDown(l); err != nil {
		return fmt.Errorf("set link %s down: %w", name, err)
	}
	return nil
}

// SetMTU sets the link's MTU, doing nothing when it already has it (some
// drivers reset the link on every change).
func (h *Handle) SetMTU(name string, mtu int) error {
	l, err := h.link(name)
	if err != nil {
		return err
	}
	if l.Attrs().MTU == mtu {
		return nil
	}
	if err := h.nl.LinkSetMTU(l, mtu); err != nil {
		return fmt.Errorf("set MTU of %s to %d: %w", name, mtu, err)
	}
	return nil
}
