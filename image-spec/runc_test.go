package imagespec

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/minikit/minikit/internal/testenv"
)

// busyboxRootfs makes a root filesystem holding only a static busybox and
// the files the test looks at.
func busyboxRootfs(t *testing.T, dir string) {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("file", "-L", bb).Output(); err == nil && !bytes.Contains(out, []byte("statically linked")) {
		t.Skipf("%s is not statically linked (install busybox-static)", bb)
	}
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp", "srv"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("busybox", filepath.Join(dir, "bin", "sh")); err != nil {
		t.Fatal(err)
	}
}

// A config.json from the translation is accepted and run by Debian's runc,
// and the container sees what the entry asked for.
func TestRuncRunsTranslatedConfig(t *testing.T) {
	testenv.Root(t, "runc (apt-get install -y runc)", "busybox (apt-get install -y busybox-static)")
	dir := t.TempDir()
	bundleDir := filepath.Join(dir, "bundle")
	busyboxRootfs(t, filepath.Join(bundleDir, "rootfs"))
	shared := filepath.Join(dir, "shared")
	if err := os.MkdirAll(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(shared, "greeting"), []byte("hello from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	script := strings.Join([]string{
		"echo uid=$(busybox id -u) gid=$(busybox id -g)",
		"echo host=$(busybox hostname)",
		"echo cwd=$(pwd)",
		"echo greeting=$(busybox cat /srv/greeting)",
		"echo nofile=$(ulimit -n)",
		"echo capeff=$(busybox grep CapEff /proc/self/status | busybox cut -f2)",
		"echo pid=$$",
		"busybox touch /run/ok && echo tmpfs=writable",
		"busybox touch /etc/x 2>/dev/null || echo root=readonly",
		"echo var=$GREETING",
	}, "; ")
	src := fmt.Sprintf(`services:
  - name: probe
    image: busybox:latest
    command: ["/bin/sh", "-c", %q]
    env: [GREETING=hi]
    cwd: /srv
    uid: 1000
    gid: 1000
    capabilities: [CAP_NET_BIND_SERVICE]
    ambient: [CAP_NET_BIND_SERVICE]
    binds: ["%s:/srv:ro"]
    tmpfs: ["/run:size=1m"]
    uts: new
    hostname: probe
    readonly: true
    rlimits: ["nofile,123,456"]
    noNewPrivileges: true
    maskedPaths: [/proc/kcore]
`, script, shared)
	got := runcRun(t, dir, bundleDir, src, "imagespec-test")
	for _, want := range []string{
		"uid=1000 gid=1000",
		"host=probe",
		"cwd=/srv",
		"greeting=hello from the host",
		"nofile=123",
		"capeff=0000000000000400", // CAP_NET_BIND_SERVICE only, kept across the uid change as an ambient capability
		"pid=1",                   // a new pid namespace
		"tmpfs=writable",
		"root=readonly",
		"var=hi",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("container output lacks %q:\n%s", want, got)
		}
	}
}

// runcRun translates the first service of the spec src, writes it as the
// bundle's config.json and runs it with Debian's runc, returning what it
// printed.
func runcRun(t *testing.T, dir, bundleDir, src, id string) string {
	t.Helper()
	s, _, err := Parse("probe.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	spec, _, err := s.OCISpec(s.Services[0], v1.Config{Cmd: []string{"/bin/sh"}}, KindService)
	if err != nil {
		t.Fatal(err)
	}
	config, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundleDir, "config.json"), config, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id = fmt.Sprintf("%s-%d", id, os.Getpid())
	cmd := exec.CommandContext(ctx, "runc", "--root", filepath.Join(dir, "state"), "run", "--bundle", bundleDir, id)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("runc run: %v\nstderr:\n%s\nconfig.json:\n%s", err, stderr.String(), config)
	}
	return stdout.String()
}
