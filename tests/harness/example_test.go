package harness_test

import (
	"net"
	"testing"
	"time"

	"github.com/minikit/minikit/tests/harness"
)

// A test of a built image: boot it, check the console from the outside,
// reach a service through a forwarded port, and power it off cleanly.
func Example() {
	_ = func(t *testing.T) {
		m := harness.Boot(t, "../../out/minikit", harness.WithForward(22))

		hello := m.Expect(`onboot 000-hello exited 0 in (\d+)ms`, time.Minute)
		sshd := m.Expect(`service sshd started`, time.Minute)
		if sshd.Index < hello.Index {
			t.Errorf("sshd started before onboot finished")
		}
		conn, err := net.Dial("tcp", m.HostAddr(22))
		if err != nil {
			t.Fatalf("ssh port: %v", err)
		}
		conn.Close()

		m.Shutdown(time.Minute)
	}
}
