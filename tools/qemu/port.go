package qemu

import (
	"fmt"
	"net"
)

// FreePort asks the kernel for a free TCP port on the loopback address,
// for a forward to a guest. Another process could take it before qemu
// binds it; on a test or developer's host that is rare enough to accept.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
