package imagespec

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minikit/minikit/internal/testenv"
)

// probeScript reports, one KEY=VALUE a line, what a container may do that
// the least-privilege defaults are about. core_pattern is written back
// with the value read, so that a container allowed to write it changes
// nothing on the host that runs the test.
var probeScript = strings.Join([]string{
	"cp=$(busybox cat /proc/sys/kernel/core_pattern)",
	`if (echo "$cp" > /proc/sys/kernel/core_pattern) 2>/dev/null; then echo core_pattern=written; else echo core_pattern=refused; fi`,
	"echo keys_bytes=$(busybox cat /proc/keys 2>/dev/null | busybox wc -c)",
	"echo nnp=$(busybox grep NoNewPrivs /proc/self/status | busybox cut -f2)",
	"echo seccomp=$(busybox grep '^Seccomp:' /proc/self/status | busybox cut -f2)",
	"if busybox unshare -U true 2>/dev/null; then echo unshare=allowed; else echo unshare=refused; fi",
	"echo nofile=$(ulimit -n):$(ulimit -Hn)",
	// A 32-bit program's first syscall enters the kernel by the i386 ABI.
	"if /bin/abi32 >/dev/null 2>&1; then echo abi32=allowed; else echo abi32=refused; fi",
}, "; ")

// runProbe runs probeScript as the one service of a spec whose entry has
// the extra keys, with Debian's runc, and returns what it reported.
// abi32 is the 32-bit program it runs.
func runProbe(t *testing.T, abi32, extra string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	bundleDir := filepath.Join(dir, "bundle")
	busyboxRootfs(t, filepath.Join(bundleDir, "rootfs"))
	if err := os.Link(abi32, filepath.Join(bundleDir, "rootfs/bin/abi32")); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf("services:\n  - name: probe\n    image: busybox:latest\n    command: [\"/bin/sh\", \"-c\", %q]\n%s", probeScript, extra)
	out := runcRun(t, dir, bundleDir, src, "imagespec-probe")
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			got[k] = v
		}
	}
	return got
}

// abi32Binary builds a static 32-bit program that exits 0 and returns
// its path. It skips the test on a kernel that cannot run one, where the
// ABI the default filter refuses does not exist anyway.
func abi32Binary(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "abi32")
	cmd := exec.Command("go", "build", "-o", path, "./testdata/abi32")
	cmd.Env = append(os.Environ(), "GOARCH=386", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build a 32-bit program: %v\n%s", err, out)
	}
	if err := exec.Command(path).Run(); err != nil {
		t.Skipf("this kernel runs no 32-bit program (CONFIG_IA32_EMULATION): %v", err)
	}
	return path
}

// What a container may do, by what its entry grants or lifts. A bare
// entry runs as uid 0, and yet cannot plant a core_pattern for the host
// to run at the next crash nor read the kernel's keys.
func TestRuncLeastPrivilege(t *testing.T) {
	testenv.Root(t, "runc (apt-get install -y runc)", "busybox (apt-get install -y busybox-static)")
	abi32 := abi32Binary(t)
	confined := map[string]string{
		"core_pattern": "refused",
		"keys_bytes":   "0",
		"nnp":          "1",
		"seccomp":      "2",
		"unshare":      "refused",
		"nofile":       "1024:4096",
		"abi32":        "refused",
	}
	with := func(changes ...string) map[string]string {
		m := map[string]string{}
		for k, v := range confined {
			m[k] = v
		}
		for _, c := range changes {
			k, v, _ := strings.Cut(c, "=")
			m[k] = v
		}
		return m
	}
	privileged := with("core_pattern=written", "keys_bytes=!0", "nnp=0", "seccomp=0", "unshare=allowed", "abi32=allowed")
	// "all" is not run here: a test host may itself lack a capability
	// (CAP_SYS_RESOURCE in a container, say), which runc then cannot
	// grant; the translation treats it as CAP_SYS_ADMIN.
	tests := []struct {
		name, extra string
		want        map[string]string
	}{
		{"a bare entry", "", confined},
		{"network capabilities only", "    capabilities: [CAP_NET_ADMIN, CAP_NET_RAW]\n", confined},
		{"CAP_SYS_ADMIN, as Docker's --privileged", "    capabilities: [CAP_SYS_ADMIN]\n", privileged},
		{"noNewPrivileges: false", "    noNewPrivileges: false\n", with("nnp=0")},
		{"seccomp: unconfined", "    seccomp: unconfined\n", with("seccomp=0", "unshare=allowed", "abi32=allowed")},
		{"seccomp: default-compat", "    seccomp: default-compat\n", with("abi32=allowed")},
		{"readonlyPaths: []", "    readonlyPaths: []\n", with("core_pattern=written")},
		{"maskedPaths: []", "    maskedPaths: []\n", with("keys_bytes=!0")},
		{"rlimits", "    rlimits: [\"nofile,64,128\"]\n", with("nofile=64:128")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runProbe(t, abi32, tt.extra)
			for k, want := range tt.want {
				ok := got[k] == want
				if not, neg := strings.CutPrefix(want, "!"); neg {
					ok = got[k] != "" && got[k] != not
				}
				if !ok {
					t.Errorf("%s=%q, want %q (all: %v)", k, got[k], want, got)
				}
			}
		})
	}
}
