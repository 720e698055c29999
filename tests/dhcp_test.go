package tests

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/tests/harness"
)

// TestDHCPFromQEMU boots a system whose dhcpcd takes its lease from
// qemu's built-in DHCP server (user networking), and checks from the
// console that the guest got 10.0.2.15 with its route and DNS server, and
// from both ends that the network then works: the guest reaches a server
// on the host, and the host reaches a port forwarded into the guest.
func TestDHCPFromQEMU(t *testing.T) {
	// Something on the host for the guest to reach: user networking
	// maps 10.0.2.2 to the host's 127.0.0.1.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var token [6]byte
	rand.Read(token[:])
	greeting := "hello from the host " + hex.EncodeToString(token[:])
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, greeting+"\n")
			c.Close()
		}
	}()
	hostPort := l.Addr().(*net.TCPAddr).Port

	image := build(t, "dhcp", "images/dhcp.yml")
	m := harness.Boot(t, image,
		harness.WithForward(8080),
		harness.WithCmdline("minikit.test.hostport="+strconv.Itoa(hostPort)))

	// The onboot run gets the lease and exits, leaving it configured.
	onboot := m.Expect(`000-dhcpcd: .*msg="lease bound" iface=eth0 address=10\.0\.2\.15/24 server=10\.0\.2\.2 router=10\.0\.2\.2 dns=10\.0\.2\.3 `, bootTimeout)
	m.ExpectAfter(onboot, `onboot 000-dhcpcd exited 0 in`, bootTimeout)
	// The service takes over, asking for the same address.
	m.Expect(`\] dhcpcd: .*msg="lease bound" iface=eth0 address=10\.0\.2\.15/24`, bootTimeout)

	m.Expect(`netcheck: addr .* eth0 +inet 10\.0\.2\.15/24 `, bootTimeout)
	m.Expect(`netcheck: route default via 10\.0\.2\.2 dev eth0 +metric \d+`, bootTimeout)
	m.Expect(`netcheck: resolv nameserver 10\.0\.2\.3$`, bootTimeout)
	state := m.Expect(`netcheck: state (.*)$`, bootTimeout)
	for _, want := range []string{`"state": "bound"`, `"address": "10.0.2.15/24"`, `"server": "10.0.2.2"`, `"expires": "`} {
		if !strings.Contains(state.Groups[1], want) {
			t.Errorf("/run/net/dhcpcd/eth0.json lacks %s: %s", want, state.Groups[1])
		}
	}
	m.Expect(`netcheck: from host: `+greeting+`$`, bootTimeout)

	// From the host into the guest, through the forwarded port.
	m.Expect(`netcheck: listening$`, bootTimeout)
	got := readForwarded(t, m.HostAddr(8080), bootTimeout)
	if got != "hello from the guest\n" {
		t.Errorf("through the forwarded port the host read %q, want the guest's greeting", got)
	}

	// A clean stop releases the lease.
	m.Shutdown(bootTimeout)
	m.Expect(`\] dhcpcd: .*msg="lease released" iface=eth0 address=10\.0\.2\.15/24 server=10\.0\.2\.2`, time.Second)
}

// readForwarded reads what the guest sends on a forwarded port. qemu
// accepts the host's connection before it reaches the guest and closes it
// when the guest refuses, so an empty read means "not yet": try again.
func readForwarded(t *testing.T, addr string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(10 * time.Second))
			data, _ := io.ReadAll(c)
			c.Close()
			if len(data) > 0 {
				return string(data)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing read from the guest through %s within %v (last error: %v)", addr, timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
