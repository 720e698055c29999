package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minikit/minikit/netconf/internal/nettest"
	"golang.org/x/sys/unix"
)

// The test binary doubles as the dhcpcd command, so the tests run the
// real thing inside a namespace (through ip netns exec) without a build
// step.
const (
	asCommandEnv = "MINIKIT_TEST_DHCPCD_AS_COMMAND"
	hostnameEnv  = "MINIKIT_TEST_DHCPCD_HOSTNAME"
)

func TestMain(m *testing.M) {
	if os.Getenv(asCommandEnv) == "1" {
		// The child runs in a UTS namespace of its own (see start), so
		// this names nothing but the child.
		if name := os.Getenv(hostnameEnv); name != "" {
			if err := unix.Sethostname([]byte(name)); err != nil {
				fmt.Fprintln(os.Stderr, "test: set hostname:", err)
				os.Exit(3)
			}
		}
		os.Exit(run(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// proc is dhcpcd running in a test's namespace.
type proc struct {
	t      *testing.T
	runDir string
	cmd    *exec.Cmd
	done   chan struct{}
	err    error

	mu    sync.Mutex
	lines []string
	more  chan struct{} // closed and replaced when a line arrives
}

// startDhcpcd runs dhcpcd in ns with args (plus --rundir, a temporary
// directory) and env, stopping it when the test ends.
func startDhcpcd(t *testing.T, ns *nettest.Namespace, env []string, args ...string) *proc {
	t.Helper()
	return startDhcpcdIn(t, ns, t.TempDir(), env, args...)
}

// startDhcpcdIn is startDhcpcd with the run directory given.
func startDhcpcdIn(t *testing.T, ns *nettest.Namespace, runDir string, env []string, args ...string) *proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, runDir: runDir, done: make(chan struct{}), more: make(chan struct{})}
	cmd := ns.Command(exe, append([]string{"--rundir", p.runDir}, args...)...)
	cmd.Env = append(append(os.Environ(), asCommandEnv+"=1"), env...)
	// A UTS namespace of its own, so that a host name from a lease
	// names nothing but this process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dhcpcd: %v", err)
	}
	p.cmd = cmd
	go p.read(stderr)
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("dhcpcd log:\n%s", strings.Join(p.snapshot(), "\n"))
		}
	})
	return p
}

func (p *proc) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, sc.Text())
		close(p.more)
		p.more = make(chan struct{})
		p.mu.Unlock()
	}
	p.err = p.cmd.Wait()
	close(p.done)
}

func (p *proc) snapshot() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// logMatch is a log line that matched, with its position.
type logMatch struct {
	index  int
	groups []string
}

// expect waits up to timeout for a log line after line from (-1 for the
// start) that matches pattern. The timeout bounds a hang; it measures
// nothing.
func (p *proc) expect(from int, pattern string, timeout time.Duration) logMatch {
	p.t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.After(timeout)
	for i := from + 1; ; {
		p.mu.Lock()
		for ; i < len(p.lines); i++ {
			if g := re.FindStringSubmatch(p.lines[i]); g != nil {
				p.mu.Unlock()
				return logMatch{index: i, groups: g}
			}
		}
		more := p.more
		p.mu.Unlock()
		select {
		case <-more:
		case <-p.done:
			// Read what is left once more, then give up.
			if p.hasMatchAfter(re, i) {
				continue
			}
			p.t.Fatalf("dhcpcd exited (%v) before logging a line matching %q", p.err, pattern)
		case <-deadline:
			p.t.Fatalf("no dhcpcd log line matching %q within %v", pattern, timeout)
		}
	}
}

func (p *proc) hasMatchAfter(re *regexp.Regexp, i int) bool {
	lines := p.snapshot()
	for ; i < len(lines); i++ {
		if re.MatchString(lines[i]) {
			return true
		}
	}
	return false
}

// count is how many log lines so far match pattern.
func (p *proc) count(pattern string) int {
	re := regexp.MustCompile(pattern)
	n := 0
	for _, l := range p.snapshot() {
		if re.MatchString(l) {
			n++
		}
	}
	return n
}

// stop sends SIGTERM, as init does, and waits for dhcpcd to exit.
func (p *proc) stop() error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Errorf("dhcpcd did not exit within 20s of SIGTERM")
	}
	return p.err
}

// wait waits for dhcpcd to exit by itself and returns its exit status.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("dhcpcd did not exit within %v", timeout)
	}
	return p.cmd.ProcessState.ExitCode()
}

// state reads dhcpcd's state file of iface.
func (p *proc) state(iface string) state {
	p.t.Helper()
	data, err := os.ReadFile(filepath.Join(p.runDir, "dhcpcd", iface+".json"))
	if err != nil {
		p.t.Fatalf("state file: %v", err)
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		p.t.Fatalf("state file %s: %v", data, err)
	}
	return s
}

// resolvConf is the resolv.conf dhcpcd wrote.
func (p *proc) resolvConf() string {
	data, _ := os.ReadFile(filepath.Join(p.runDir, "resolv.conf"))
	return string(data)
}
