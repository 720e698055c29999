package imagespec

import (
	"fmt"
	"slices"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The values of an entry's seccomp key.
const (
	// SeccompDefault is Docker's default profile, adjusted to the
	// capabilities granted, for the 64-bit ABI alone.
	SeccompDefault = "default"
	// SeccompDefaultCompat is Docker's profile as Docker gives it: the
	// same rules, and the 32-bit and x32 ABIs let through as well.
	SeccompDefaultCompat = "default-compat"
	SeccompUnconfined    = "unconfined" // no filter
)

// nativeSeccompArch is the one ABI the default filter lets a container
// use: minikit builds amd64 images, whose programs are 64-bit.
//
// Docker's profile also lets through the i386 and x32 entry points
// (int 0x80, and syscall numbers with bit 30 set), a second kernel
// interface that our containers never use and whose compat code has
// had bugs of its own. Listing one ABI instead of three also makes the
// filter a third of the work to build: libseccomp compiles it inside
// every container's init, and that was half of a container's start.
const nativeSeccompArch = specs.ArchX86_64

// Default RLIMIT_NOFILE of every container that does not set its own:
// the kernel's own defaults for a process (INR_OPEN_CUR, INR_OPEN_MAX).
// A container then gets the same limit whatever init itself was started
// with, the soft limit stays at the 1024 descriptors select() can watch,
// and programs that raise their soft limit (every Go program does) get
// 4096. Going above what init holds would need CAP_SYS_RESOURCE in init,
// which a host test may lack; an entry that needs more says so in rlimits.
const (
	DefaultNofileSoft = 1024
	DefaultNofileHard = 4096
)

// The masked and read-only paths `runc spec` writes, which every container
// gets unless it is privileged or its entry says otherwise. They are
// written out rather than read from runc's specconv.Example, which needs
// cgo, so that the host tools stay pure Go; a test holds them equal.
var (
	defaultMaskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
	}
	defaultReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// privileged says whether a container is granted CAP_SYS_ADMIN (by name or
// by "all"). Such a container can undo every default confinement anyway
// (remount /proc, unmount a mask), so, as Docker does for a privileged
// container, it gets none: this is what lets sysctl write /proc/sys and
// containerd run containers of its own.
func privileged(caps *specs.LinuxCapabilities) bool {
	return slices.Contains(caps.Bounding, "CAP_SYS_ADMIN")
}

// confine applies the least-privilege defaults to a spec whose entry did
// not say otherwise: no_new_privs, runc's masked and read-only paths,
// Docker's seccomp profile and RLIMIT_NOFILE; a privileged container gets
// only the limit.
func (t *translation) confine(spec *specs.Spec) {
	c, l := t.c, t.label
	priv := privileged(spec.Process.Capabilities)
	if nnp := pick(c.NoNewPrivileges, l.NoNewPrivileges, ptrGiven); nnp != nil {
		spec.Process.NoNewPrivileges = *nnp
	} else {
		spec.Process.NoNewPrivileges = !priv
	}
	if pick(c.MaskedPaths, l.MaskedPaths, listGiven) == nil && !priv {
		spec.Linux.MaskedPaths = slices.Clone(defaultMaskedPaths)
	}
	if pick(c.ReadonlyPaths, l.ReadonlyPaths, listGiven) == nil && !priv {
		spec.Linux.ReadonlyPaths = slices.Clone(defaultReadonlyPaths)
	}
	if !slices.ContainsFunc(spec.Process.Rlimits, func(r specs.POSIXRlimit) bool { return r.Type == "RLIMIT_NOFILE" }) {
		spec.Process.Rlimits = append(spec.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: DefaultNofileSoft, Hard: DefaultNofileHard})
	}
	mode := pick(c.Seccomp, l.Seccomp, strGiven)
	if mode == "" {
		mode = SeccompDefault
		if priv {
			mode = SeccompUnconfined
		}
	}
	if mode == SeccompDefault || mode == SeccompDefaultCompat {
		// The profile allows the syscalls each granted capability needs
		// (mount with CAP_SYS_ADMIN, say) from the bounding set, as Docker
		// does.
		profile, err := seccomp.GetDefaultProfile(spec)
		if err != nil {
			t.fail("seccomp", "Docker's default profile: %v", err)
			return
		}
		if mode == SeccompDefault {
			// A process of another ABI gets the kernel's SIGSYS: the
			// filter's action for an architecture it does not list.
			profile.Architectures = []specs.Arch{nativeSeccompArch}
		}
		spec.Linux.Seccomp = profile
	}
}

// checkSeccomp reports what is wrong with a seccomp key's value.
func checkSeccomp(s string) string {
	switch s {
	case SeccompDefault, SeccompDefaultCompat, SeccompUnconfined:
		return ""
	}
	return fmt.Sprintf("%q is not a seccomp setting (allowed: %s, %s or %s)", s, SeccompDefault, SeccompDefaultCompat, SeccompUnconfined)
}
