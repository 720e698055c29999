package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	imagespec "github.com/minikit/minikit/image-spec"
	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/internal/testenv"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// A service whose confinement is translated from a bare spec entry runs
// confined under init: its seccomp filter is installed (init's
// libcontainer is built with libseccomp; without it the service would not
// start at all), it has no_new_privs and cannot write /proc/sys.
func TestHostServiceIsConfined(t *testing.T) {
	testenv.Root(t)
	s, _, err := imagespec.Parse("bare.yml", []byte("services:\n  - name: probe\n    image: busybox\n"))
	if err != nil {
		t.Fatal(err)
	}
	bare, _, err := imagespec.OCISpec(s.Services[0], v1.Config{Cmd: []string{"/bin/sh"}}, imagespec.KindService)
	if err != nil {
		t.Fatal(err)
	}
	rootfs := fullRootfs(t)
	tree := newTree(t)
	script := `cp=$(cat /proc/sys/kernel/core_pattern)
if (echo "$cp" > /proc/sys/kernel/core_pattern) 2>/dev/null; then w=written; else w=refused; fi
if unshare -U true 2>/dev/null; then u=allowed; else u=refused; fi
echo "seccomp=$(grep '^Seccomp:' /proc/self/status | cut -f2) nnp=$(grep NoNewPrivs /proc/self/status | cut -f2) unshare=$u core_pattern=$w"`
	hostService(t, tree, rootfs, "probe", script, map[string]string{bundle.AnnotationRestart: "never"}, func(spec *specs.Spec) {
		spec.Process.Capabilities = bare.Process.Capabilities
		spec.Process.NoNewPrivileges = bare.Process.NoNewPrivileges
		spec.Process.Rlimits = bare.Process.Rlimits
		spec.Linux.Seccomp = bare.Linux.Seccomp
		spec.Linux.MaskedPaths = bare.Linux.MaskedPaths
		spec.Linux.ReadonlyPaths = bare.Linux.ReadonlyPaths
	})
	h := startHostInit(t, tree)
	h.lineIndex(`probe: seccomp=2 nnp=1 unshare=refused core_pattern=refused`, 1, time.Minute)
	if code := h.stop(time.Minute); code != 0 {
		t.Errorf("init exited %d after SIGTERM", code)
	}
}

// A container given /run/minikit to use svcctl finds the control socket
// there and nothing else of init's: not runc's state, not the roots of
// other containers, not the notify sockets of other services.
func TestHostControlBindHoldsOnlyTheSocket(t *testing.T) {
	testenv.Root(t)
	rootfs := fullRootfs(t)
	tree := newTree(t)
	hostService(t, tree, rootfs, "db", "svcctl notify READY=1; exec sleep 4545",
		map[string]string{bundle.AnnotationNotify: "true"})
	hostService(t, tree, rootfs, "peek", `while [ ! -S /run/minikit/control.sock ]; do sleep 0.1; done
echo "in /run/minikit: $(ls -A /run/minikit | tr '\n' ' ')"`,
		map[string]string{bundle.AnnotationDependsOn: "db", bundle.AnnotationRestart: "never"}, withControlSocket(tree))
	h := startHostInit(t, tree)
	h.lineIndex(`peek: in /run/minikit: `, 1, time.Minute)
	h.lineIndex(`peek: in /run/minikit: control.sock $`, 1, time.Minute)
	if code := h.stop(time.Minute); code != 0 {
		t.Errorf("init exited %d after SIGTERM", code)
	}
}

// A container that binds /usr/bin/svcctl, a static binary in the image,
// and /run/minikit runs svcctl: the two binds an image gives a service
// that uses svcctl are all it needs.
func TestHostSvcctlBindRunsSvcctl(t *testing.T) {
	testenv.Root(t)
	rootfs := busyboxRootfs(t) // no svcctl of its own
	tree := newTree(t)
	data, err := os.ReadFile(svcctlBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(tree, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "usr/bin/svcctl"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	hostService(t, tree, rootfs, "lister", `while [ ! -S /run/minikit/control.sock ]; do sleep 0.1; done
/usr/bin/svcctl list; echo "svcctl exited $?"`,
		map[string]string{bundle.AnnotationRestart: "never"}, withControlSocket(tree), func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{
				Destination: "/usr/bin/svcctl", Type: "bind", Source: filepath.Join(tree, "usr/bin/svcctl"), Options: []string{"rbind", "ro"},
			})
		})
	h := startHostInit(t, tree)
	h.lineIndex(`lister: lister +running`, 1, time.Minute)
	h.lineIndex(`lister: svcctl exited 0`, 1, time.Minute)
	if code := h.stop(time.Minute); code != 0 {
		t.Errorf("init exited %d after SIGTERM", code)
	}
}
