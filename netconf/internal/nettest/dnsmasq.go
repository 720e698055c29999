package nettest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Dnsmasq is Debian's dnsmasq serving DHCP (its DNS is off) in a test's
// namespace.
type Dnsmasq struct {
	t      testing.TB
	ns     *Namespace
	dir    string
	Leases string // dnsmasq's lease file

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	log    *lockedBuffer
}

// StartDnsmasq runs dnsmasq in ns with args added to a configuration that
// reads no file, serves no DNS and logs every DHCP exchange; args give at
// least --interface and --dhcp-range. It skips the test when dnsmasq is
// not installed (Debian package dnsmasq-base), and stops dnsmasq, showing
// its log on failure, when the test ends.
func StartDnsmasq(t testing.TB, ns *Namespace, args ...string) *Dnsmasq {
	t.Helper()
	if _, err := exec.LookPath("dnsmasq"); err != nil {
		Unavailable(t, "needs dnsmasq (Debian package dnsmasq-base): %v", err)
	}
	d := &Dnsmasq{t: t, ns: ns, dir: t.TempDir()}
	d.Leases = filepath.Join(d.dir, "leases")
	d.Start(args...)
	t.Cleanup(func() {
		d.Stop()
		if t.Failed() {
			t.Logf("dnsmasq log:\n%s", d.Log())
		}
	})
	return d
}

// Start starts dnsmasq again (after Stop) with args, keeping the lease
// file. It fails the test if dnsmasq exits instead of serving.
func (d *Dnsmasq) Start(args ...string) {
	d.t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd != nil {
		d.t.Fatalf("dnsmasq is already running")
	}
	full := append([]string{
		// bind-dynamic serves links that appear after it started.
		"--no-daemon", "--conf-file=/dev/null", "--port=0", "--bind-dynamic",
		"--log-dhcp", "--log-facility=-", "--user=root", "--group=root",
		// No ping of an address before offering it: it costs every
		// test three seconds and tests nothing of the client.
		"--no-ping",
		"--dhcp-leasefile=" + d.Leases, "--pid-file=" + filepath.Join(d.dir, "pid"),
	}, args...)
	if d.log == nil {
		d.log = new(lockedBuffer)
	}
	logStart := len(d.log.String())
	cmd := d.ns.Command("dnsmasq", full...)
	cmd.Stdout, cmd.Stderr = d.log, d.log
	if err := cmd.Start(); err != nil {
		d.t.Fatalf("start dnsmasq: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	d.cmd, d.exited = cmd, exited
	// dnsmasq lists its ranges once it listens; a client racing it
	// only loses a retransmission, but a test reads better without that.
	deadline := time.After(10 * time.Second)
	for !strings.Contains(d.log.String()[logStart:], "DHCP, IP range") {
		select {
		case <-exited:
			d.cmd = nil
			d.t.Fatalf("dnsmasq exited at start (%v):\n%s", cmd.ProcessState, d.log.String()[logStart:])
		case <-deadline:
			d.t.Fatalf("dnsmasq did not start serving within 10s:\n%s", d.log.String()[logStart:])
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop kills dnsmasq, as a server that vanishes would.
func (d *Dnsmasq) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Kill()
	<-d.exited
	d.cmd = nil
}

// ForgetLeases empties the lease file of a stopped dnsmasq, so that it
// starts again knowing no client, as a replaced server would.
func (d *Dnsmasq) ForgetLeases() {
	d.t.Helper()
	if err := os.WriteFile(d.Leases, nil, 0o644); err != nil {
		d.t.Fatalf("forget dnsmasq's leases: %v", err)
	}
}

// Log is what dnsmasq printed so far.
func (d *Dnsmasq) Log() string { return d.log.String() }

// LeaseFor returns the line of dnsmasq's lease file for the hardware
// address, or "".
func (d *Dnsmasq) LeaseFor(mac string) string {
	data, _ := os.ReadFile(d.Leases)
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && strings.EqualFold(f[1], mac) {
			return line
		}
	}
	return ""
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
