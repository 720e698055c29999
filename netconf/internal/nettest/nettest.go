// Package nettest gives tests network namespaces, veth pairs and Debian's
// dnsmasq to talk to, all private to the test and removed after it. It
// touches nothing of the host's own network: every link it makes lives in
// a namespace it created.
package nettest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/minikit/minikit/internal/testenv"
)

// Unavailable skips the test saying why, or fails it where CI requires
// the root tests (internal/testenv decides).
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	testenv.Unavailable(t, testenv.RequireRootEnv, format, args...)
}

// RequireRoot skips (or fails) the test unless it runs as root with the
// ip command at hand, which network namespaces need.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "needs root to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		Unavailable(t, "needs the ip command (Debian package iproute2): %v", err)
	}
}

// Namespace is a named network namespace made for one test.
type Namespace struct {
	Name string
}

// Path is the namespace's file, which netconf.OpenAt takes.
func (ns *Namespace) Path() string { return "/run/netns/" + ns.Name }

// NewNamespace creates a network namespace with its loopback up, removed
// when the test ends.
func NewNamespace(t testing.TB) *Namespace {
	t.Helper()
	RequireRoot(t)
	var b [4]byte
	rand.Read(b[:])
	ns := &Namespace{Name: "minikit-test-" + hex.EncodeToString(b[:])}
	IP(t, "netns", "add", ns.Name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
			t.Errorf("remove network namespace %s: %v: %s", ns.Name, err, out)
		}
	})
	ns.IP(t, "link", "set", "lo", "up")
	return ns
}

// IP runs `ip -n NAME args…` and fails the test if it fails.
func (ns *Namespace) IP(t testing.TB, args ...string) string {
	t.Helper()
	return IP(t, append([]string{"-n", ns.Name}, args...)...)
}

// Command is a command run inside the namespace (through ip netns exec).
func (ns *Namespace) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// IP runs the ip command and fails the test if it fails.
func IP(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Veth connects two namespaces with a veth pair, aName in a and bName in
// b, both up; a's end gets aAddr (CIDR) unless it is empty.
func Veth(t testing.TB, a *Namespace, aName, aAddr string, b *Namespace, bName string) {
	t.Helper()
	a.IP(t, "link", "add", aName, "type", "veth", "peer", "name", bName, "netns", b.Name)
	if aAddr != "" {
		a.IP(t, "addr", "add", aAddr, "dev", aName)
	}
	a.IP(t, "link", "set", aName, "up")
	b.IP(t, "link", "set", bName, "up")
}
