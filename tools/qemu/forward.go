package qemu

import (
	"fmt"
	"strconv"
	"strings"
)

// Forward makes a guest port reachable on the host through qemu's
// user-mode network.
type Forward struct {
	// Proto is "tcp" or "udp"; empty means "tcp".
	Proto string
	// HostAddr is the host address qemu listens on; empty means 127.0.0.1,
	// so a test VM's ssh port is not offered to the whole network.
	HostAddr  string
	HostPort  int
	GuestPort int
}

// ParseForward reads the HOST:GUEST[/tcp|udp] form of minikit run -publish,
// for example "2222:22" or "5353:53/udp".
func ParseForward(s string) (Forward, error) {
	var f Forward
	ports, proto, hasProto := strings.Cut(s, "/")
	if hasProto {
		f.Proto = proto
	}
	host, guest, ok := strings.Cut(ports, ":")
	if !ok {
		return f, fmt.Errorf("port forward %q: want HOST:GUEST[/tcp|udp]", s)
	}
	var err error
	if f.HostPort, err = strconv.Atoi(host); err != nil {
		return f, fmt.Errorf("port forward %q: host port %q is not a number", s, host)
	}
	if f.GuestPort, err = strconv.Atoi(guest); err != nil {
		return f, fmt.Errorf("port forward %q: guest port %q is not a number", s, guest)
	}
	if err := f.validate(); err != nil {
		return f, fmt.Errorf("port forward %q: %w", s, err)
	}
	return f, nil
}

func (f Forward) validate() error {
	switch f.Proto {
	case "", "tcp", "udp":
	default:
		return fmt.Errorf("protocol %q: want tcp or udp", f.Proto)
	}
	for _, p := range []int{f.HostPort, f.GuestPort} {
		if p < 1 || p > 65535 {
			return fmt.Errorf("port %d: want 1 to 65535", p)
		}
	}
	return nil
}

// hostfwd is the forward in the syntax of qemu's -netdev user,hostfwd=.
func (f Forward) hostfwd() string {
	proto, addr := f.Proto, f.HostAddr
	if proto == "" {
		proto = "tcp"
	}
	if addr == "" {
		addr = "127.0.0.1"
	}
	return fmt.Sprintf("%s:%s:%d-:%d", proto, addr, f.HostPort, f.GuestPort)
}

// String gives the forward back in the form ParseForward reads.
func (f Forward) String() string {
	proto := f.Proto
	if proto == "" {
		proto = "tcp"
	}
	return fmt.Sprintf("%d:%d/%s", f.HostPort, f.GuestPort, proto)
}
