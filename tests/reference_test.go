package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/minikit/minikit/internal/testenv"
	"github.com/minikit/minikit/tests/harness"
	"github.com/minikit/minikit/tools/images"
)

const loginTimeout = 3 * time.Minute

// imageTar writes the stored image ref as a `docker save` tarball tagged
// tag, for containerd to import inside a booted system.
func imageTar(t testing.TB, ref, tag, path string) {
	t.Helper()
	st, err := images.Open(images.DefaultDir())
	if err != nil {
		t.Fatal(err)
	}
	img, err := st.Resolve(context.Background(), ref)
	if err != nil {
		testenv.Unavailable(t, testenv.RequireQEMUEnv, "%s is not in the store (run make images): %v", ref, err)
	}
	tg, err := name.NewTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(path, tg, img); err != nil {
		t.Fatal(err)
	}
}

// TestReferenceSystem boots the default image, the one `make run` boots,
// and checks it from the outside as a user would: over ssh with Debian's
// OpenSSH client.
func TestReferenceSystem(t *testing.T) {
	key, pub := sshKey(t)
	dir := t.TempDir()
	tar := filepath.Join(dir, "hello.tar")
	imageTar(t, "minikit/busybox:dev", "docker.io/library/hello:test", tar)
	extra := filepath.Join(dir, "extra.yml")
	spec := fmt.Sprintf(`files:
  - path: root/.ssh/authorized_keys
    contents: %q
    mode: "0600"
  - path: etc/minikit/images/hello.tar
    source: %s
    mode: "0644"
`, pub, tar)
	if err := os.WriteFile(extra, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	image := build(t, "minikit", "../image-spec/examples/minikit.yml", extra)
	m := harness.Boot(t, image, harness.WithForward(22), harness.WithMemory(2048))
	m.Expect(`service sshd started`, 2*bootTimeout)
	s := &sshSession{t: t, key: key, addr: m.HostAddr(22)}
	s.waitLogin(loginTimeout)

	t.Run("every service runs", func(t *testing.T) {
		var list []struct{ Name, State string }
		out := s.must("svcctl list --json")
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("svcctl list --json: %v\n%s", err, out)
		}
		states := map[string]string{}
		for _, svc := range list {
			states[svc.Name] = svc.State
		}
		for _, want := range []string{"getty", "dhcpcd", "sshd", "containerd"} {
			if st := states[want]; st != "running" && st != "ready" {
				t.Errorf("service %s is %q, want running", want, st)
			}
		}
	})

	t.Run("the root is read-only and /var writable", func(t *testing.T) {
		// /proc/1/root is init's view of the system.
		if out, err := s.run("touch /proc/1/root/rootcheck", nil); err == nil || !strings.Contains(out, "Read-only file system") {
			t.Errorf("writing to / did not fail as read-only: %v %s", err, out)
		}
		s.must("touch /proc/1/root/var/varcheck && rm /proc/1/root/var/varcheck")
	})

	t.Run("a container has only the capabilities it was granted", func(t *testing.T) {
		// dhcpcd is granted CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN (12)
		// and CAP_NET_RAW (13) and nothing else.
		out := s.must(`grep -E '^Cap(Eff|Bnd):' /proc/$(pidof dhcpcd)/status`)
		for _, want := range []string{"CapEff:\t0000000000003400", "CapBnd:\t0000000000003400"} {
			if !strings.Contains(out, want) {
				t.Errorf("dhcpcd's capabilities:\n%s\nwant %q", out, want)
			}
		}
	})

	t.Run("containerd runs a container from an image shipped in the system", func(t *testing.T) {
		ctr := "nsenter -t $(pidof containerd) -m -- ctr "
		s.must(ctr + "image import - < /hostroot/etc/minikit/images/hello.tar")
		out, err := s.run(ctr+"run --rm docker.io/library/hello:test hello /bin/echo hello-from-containerd", nil)
		if err != nil || !strings.Contains(out, "hello-from-containerd") {
			t.Fatalf("ctr run: %v\n%s", err, out)
		}
	})

	t.Run("svcctl restarts a service, and a new ssh login works", func(t *testing.T) {
		before := s.must("svcctl status --json sshd")
		// The session runs inside sshd's container, so it may end with it.
		_, _ = s.run("svcctl restart sshd", nil)
		s.waitLogin(loginTimeout)
		after := s.must("svcctl status --json sshd")
		var b, a struct{ Pid, Restarts int }
		_ = json.Unmarshal([]byte(before), &b)
		if err := json.Unmarshal([]byte(after), &a); err != nil {
			t.Fatalf("svcctl status --json sshd: %v\n%s", err, after)
		}
		if a.Pid == b.Pid || a.Pid == 0 {
			t.Errorf("sshd pid %d before and %d after the restart", b.Pid, a.Pid)
		}
	})

	m.Shutdown(bootTimeout)
}

// TestLinuxKitSSHDExample boots LinuxKit's sshd.yml, unchanged, with
// `minikit run -detach -publish PORT:22` as a user would, logs in with the
// key the spec takes from ~/.ssh/id_rsa.pub, and stops it with -stop.
func TestLinuxKitSSHDExample(t *testing.T) {
	dir := testenv.LinuxKitExamples(t)
	key, pub := sshKey(t)
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "id_rsa.pub"), []byte(pub+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command(minikit(t), "build", "-o", out, filepath.Join(dir, "sshd.yml"))
	cmd.Env = append(os.Environ(), "HOME="+home, "MINIKIT_STORE="+images.DefaultDir())
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("minikit build sshd.yml: %v\n%s", err, msg)
	}
	requireQEMU(t)
	state := filepath.Join(t.TempDir(), "state")
	port := freePort(t)
	stdout, stderr, status := runMinikit(t, "run", "-detach", "-timeout", "10m", "-state", state, "-mem", "1536",
		"-publish", fmt.Sprintf("%d:22", port), filepath.Join(out, "sshd"))
	if status != 0 {
		t.Fatalf("minikit run -detach exited %d:\n%s%s", status, stdout, stderr)
	}
	t.Cleanup(func() { runMinikit(t, "run", "-stop", "-kill", state) })

	s := &sshSession{t: t, key: key, addr: fmt.Sprintf("127.0.0.1:%d", port)}
	s.waitLogin(loginTimeout)
	if got := s.must("cat /proc/1/comm"); !strings.Contains(got, "init") {
		t.Errorf("PID 1 is %q, want minikit's init", got)
	}
	if stdout, stderr, status := runMinikit(t, "run", "-stop", state); status != 0 {
		log, _ := os.ReadFile(filepath.Join(state, "console.log"))
		t.Fatalf("minikit run -stop exited %d, want 0 for a clean poweroff:\n%s%s\n%s", status, stdout, stderr, tail(string(log), 40))
	}
}
