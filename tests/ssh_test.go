package tests

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/testenv"
)

// sshKey makes a fresh ed25519 key pair with Debian's OpenSSH and returns
// the private key's path and the public key's text.
func sshKey(t *testing.T) (key, pub string) {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		testenv.Unavailable(t, testenv.RequireQEMUEnv, "needs OpenSSH's client (Debian package openssh-client)")
	}
	key = filepath.Join(t.TempDir(), "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "minikit-test", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	data, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return key, strings.TrimSpace(string(data))
}

// sshSession runs commands on a guest through Debian's ssh client.
type sshSession struct {
	t    *testing.T
	key  string
	addr string // host:port of the forwarded guest port 22
}

func (s *sshSession) args(command string) []string {
	host, port, _ := strings.Cut(s.addr, ":")
	return []string{
		"-i", s.key, "-p", port,
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=20", "-o", "LogLevel=ERROR",
		// A guest that reboots under a session leaves qemu's user-mode
		// network holding the connection open; a keepalive that the new
		// kernel answers with a reset ends it within a minute instead.
		"-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=6",
		"root@" + host, command,
	}
}

// run runs command with stdin and returns its output, or the error and
// what it printed.
func (s *sshSession) run(command string, stdin io.Reader) (string, error) {
	cmd := exec.Command("ssh", s.args(command)...)
	cmd.Stdin = stdin
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// must runs command and fails the test unless it succeeds.
func (s *sshSession) must(command string) string {
	s.t.Helper()
	out, err := s.run(command, nil)
	if err != nil {
		s.t.Fatalf("ssh %q: %v\n%s", command, err, out)
	}
	return out
}

// waitLogin retries until a login works: sshd may still be making its
// host keys, or be restarting.
func (s *sshSession) waitLogin(timeout time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := s.run("true", nil)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no ssh login within %v: %v\n%s", timeout, err, out)
		}
		time.Sleep(2 * time.Second)
	}
}
