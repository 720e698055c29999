package dhcp

import (
	"context"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenUDP opens the client port (68) on every address of one interface
// only: SO_BINDTODEVICE makes a broadcast leave through that interface and
// lets each interface's client have a socket of its own on the same port.
func listenUDP(iface string) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
				return
			}
			serr = unix.BindToDevice(int(fd), iface)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf("0.0.0.0:%d", 68))
	if err != nil {
		return nil, fmt.Errorf("listen on UDP port 68 of %s: %w", iface, err)
	}
	return c, nil
}
