// Package substitute maps the images of LinuxKit's own packages to the
// minikit images that replace them, so that LinuxKit's specs build
// unchanged. pkg/README.md documents the table.
package substitute

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Entry is one row of the table.
type Entry struct {
	LinuxKit string // repository, such as linuxkit/getty
	Minikit  string // the replacing image, NAME:TAG; "" for dropped
	Recipe   string // where the replacement is made
	// InitOnly: dropped only when listed under init:, where LinuxKit
	// needs runc and containerd to run services and minikit's init does
	// not. Elsewhere (as a service) the image is replaced by Minikit.
	InitOnly bool
	// Unneeded says why the image is dropped from init: (InitOnly).
	Unneeded string
	// Modules are the kernel modules the replacement needs that
	// LinuxKit's kernels build in and Debian's ships as modules (loop for
	// losetup): minikit build loads them in a LinuxKit spec that lists
	// no modules of its own.
	Modules []string
}

// Table is every LinuxKit package minikit replaces, any tag or digest.
var Table = []Entry{
	{LinuxKit: "linuxkit/kernel", Minikit: "minikit/kernel:6.1", Recipe: "pkg/kernel (Debian's 6.1 kernel)"},
	{LinuxKit: "linuxkit/init", Minikit: "minikit/init:dev", Recipe: "pkg/init"},
	{LinuxKit: "linuxkit/runc", InitOnly: true, Unneeded: "minikit's init runs containers itself"},
	{LinuxKit: "linuxkit/containerd", Minikit: "minikit/containerd:dev", InitOnly: true, Recipe: "services/containerd",
		Unneeded: "minikit's init runs the services itself"},
	{LinuxKit: "linuxkit/memlogd", InitOnly: true,
		Unneeded: "minikit's init keeps every container's log itself (svcctl logs NAME, /var/log/NAME.log)"},
	{LinuxKit: "linuxkit/getty", Minikit: "minikit/getty:dev", Recipe: "services/getty"},
	{LinuxKit: "linuxkit/dhcpcd", Minikit: "minikit/dhcpcd:dev", Recipe: "services/dhcpcd"},
	{LinuxKit: "linuxkit/sshd", Minikit: "minikit/sshd:dev", Recipe: "services/sshd"},
	{LinuxKit: "linuxkit/sysctl", Minikit: "minikit/sysctl:dev", Recipe: "onboot/sysctl"},
	{LinuxKit: "linuxkit/rngd", Minikit: "minikit/rngd:dev", Recipe: "services/rngd"},
	{LinuxKit: "linuxkit/format", Minikit: "minikit/format:dev", Recipe: "onboot/format"},
	{LinuxKit: "linuxkit/mount", Minikit: "minikit/mount:dev", Recipe: "onboot/mount"},
	{LinuxKit: "linuxkit/modprobe", Minikit: "minikit/modprobe:dev", Recipe: "onboot/modprobe"},
	{LinuxKit: "linuxkit/metadata", Minikit: "minikit/metadata:dev", Recipe: "onboot/metadata"},
	{LinuxKit: "linuxkit/ca-certificates", Minikit: "minikit/ca-certificates:dev", Recipe: "pkg/ca-certificates"},
	{LinuxKit: "linuxkit/poweroff", Minikit: "minikit/poweroff:dev", Recipe: "onboot/poweroff"},
	{LinuxKit: "linuxkit/sysfs", Minikit: "minikit/sysfs:dev", Recipe: "onboot/sysfs"},
	{LinuxKit: "linuxkit/binfmt", Minikit: "minikit/binfmt:dev", Recipe: "onboot/binfmt", Modules: []string{"binfmt_misc"}},
	{LinuxKit: "linuxkit/losetup", Minikit: "minikit/losetup:dev", Recipe: "onboot/losetup", Modules: []string{"loop"}},
	{LinuxKit: "linuxkit/dm-crypt", Minikit: "minikit/dm-crypt:dev", Recipe: "onboot/dm-crypt", Modules: []string{"dm_crypt", "essiv"}},
	{LinuxKit: "linuxkit/swap", Minikit: "minikit/swap:dev", Recipe: "onboot/swap", Modules: []string{"dm_crypt", "essiv", "loop"}},
	{LinuxKit: "linuxkit/extend", Minikit: "minikit/extend:dev", Recipe: "onboot/extend"},
	{LinuxKit: "linuxkit/ip", Minikit: "minikit/ip:dev", Recipe: "onboot/ip"},
	{LinuxKit: "linuxkit/kmsg", Minikit: "minikit/kmsg:dev", Recipe: "services/kmsg"},
	{LinuxKit: "linuxkit/logwrite", Minikit: "minikit/logwrite:dev", Recipe: "services/logwrite"},
	{LinuxKit: "linuxkit/acpid", Minikit: "minikit/acpid:dev", Recipe: "services/acpid"},
	{LinuxKit: "linuxkit/openntpd", Minikit: "minikit/openntpd:dev", Recipe: "services/openntpd"},
	{LinuxKit: "linuxkit/node_exporter", Minikit: "minikit/node_exporter:dev", Recipe: "services/node_exporter"},
	{LinuxKit: "linuxkit/firmware", Minikit: "minikit/firmware:dev", Recipe: "pkg/firmware"},
}

// Substitute returns the minikit image that replaces ref, an image of a
// kernel, onboot, onshutdown or service entry, and a note saying so for
// the build's output. ok is false when ref is not one of LinuxKit's
// packages in the table: use ref as it is.
func Substitute(ref string) (newRef string, note string, ok bool) {
	return lookup(ref, false)
}

// SubstituteInit is Substitute for an image listed under init:. There
// linuxkit/runc, linuxkit/containerd and linuxkit/memlogd are accepted
// and dropped: ok is true, newRef is "" and the note says why they are
// not needed.
func SubstituteInit(ref string) (newRef string, note string, ok bool) {
	return lookup(ref, true)
}

// Modules returns the kernel modules the image replacing ref needs that
// LinuxKit's kernels build in; nil when ref is not replaced.
func Modules(ref string) []string {
	if e, ok := entry(ref); ok && e.Minikit != "" {
		return e.Modules
	}
	return nil
}

func lookup(ref string, init bool) (string, string, bool) {
	e, ok := entry(ref)
	if !ok {
		return "", "", false
	}
	if e.InitOnly && init || e.Minikit == "" {
		if !init {
			return "", "", false // linuxkit/runc as a service: nothing to offer
		}
		return "", fmt.Sprintf("%s: not needed, %s", ref, e.Unneeded), true
	}
	return e.Minikit, fmt.Sprintf("%s → %s (%s)", ref, e.Minikit, e.Recipe), true
}

// entry is ref's row of the table.
func entry(ref string) (Entry, bool) {
	repo, ok := repository(ref)
	if !ok {
		return Entry{}, false
	}
	for _, e := range Table {
		if e.LinuxKit == repo {
			return e, true
		}
	}
	return Entry{}, false
}

// repository is ref's repository in LinuxKit's spelling (linuxkit/getty),
// whatever tag or digest it has and whether or not it names Docker Hub.
func repository(ref string) (string, bool) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", false
	}
	repo := r.Context()
	if repo.RegistryStr() != name.DefaultRegistry {
		return "", false
	}
	return strings.TrimPrefix(repo.RepositoryStr(), "library/"), true
}
