package imagespec

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// confinement is what of the least-privilege defaults a spec carries.
type confinement struct {
	NoNewPrivs    bool
	Masked        []string
	Readonly      []string
	Seccomp       bool
	AllowsMount   bool // the seccomp filter lets mount(2) through
	AllowsUnshare bool
}

func confinementOf(s *specs.Spec) confinement {
	c := confinement{
		NoNewPrivs: s.Process.NoNewPrivileges,
		Masked:     s.Linux.MaskedPaths,
		Readonly:   s.Linux.ReadonlyPaths,
		Seccomp:    s.Linux.Seccomp != nil,
	}
	if s.Linux.Seccomp != nil {
		for _, sc := range s.Linux.Seccomp.Syscalls {
			if sc.Action == specs.ActAllow && len(sc.Args) == 0 {
				c.AllowsMount = c.AllowsMount || slices.Contains(sc.Names, "mount")
				c.AllowsUnshare = c.AllowsUnshare || slices.Contains(sc.Names, "unshare")
			}
		}
	}
	return c
}

var (
	runcMasked   = []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"}
	runcReadonly = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// Every entry is confined unless it is granted CAP_SYS_ADMIN (or all) or
// lifts a default with its own key.
func TestTranslateLeastPrivilegeDefaults(t *testing.T) {
	confined := confinement{NoNewPrivs: true, Masked: runcMasked, Readonly: runcReadonly, Seccomp: true}
	tests := []struct {
		name, extra, label string
		want               confinement
	}{
		{"a bare entry is confined", "", "", confined},
		{"capabilities other than CAP_SYS_ADMIN keep it confined", "    capabilities: [CAP_NET_ADMIN, CAP_NET_RAW]\n", "", confined},
		{"CAP_SYS_ADMIN lifts everything, as Docker's --privileged", "    capabilities: [CAP_SYS_ADMIN]\n", "", confinement{}},
		{"all lifts everything", "    capabilities: [all]\n", "", confinement{}},
		{"CAP_SYS_ADMIN from the label", "", `{"capabilities":["CAP_SYS_ADMIN"]}`, confinement{}},
		{"capabilities.add of CAP_SYS_ADMIN", "    capabilities.add: [CAP_SYS_ADMIN]\n", `{"capabilities":["CAP_NET_ADMIN"]}`, confinement{}},
		{"noNewPrivileges: false lifts no_new_privs only", "    noNewPrivileges: false\n", "",
			confinement{Masked: runcMasked, Readonly: runcReadonly, Seccomp: true}},
		{"maskedPaths: [] lifts the masks only", "    maskedPaths: []\n", "",
			confinement{NoNewPrivs: true, Masked: []string{}, Readonly: runcReadonly, Seccomp: true}},
		{"readonlyPaths: [] lifts the read-only paths only", "    readonlyPaths: []\n", "",
			confinement{NoNewPrivs: true, Masked: runcMasked, Readonly: []string{}, Seccomp: true}},
		{"seccomp: unconfined lifts the filter only", "    seccomp: unconfined\n", "",
			confinement{NoNewPrivs: true, Masked: runcMasked, Readonly: runcReadonly}},
		{"seccomp: unconfined from the label", "", `{"seccomp":"unconfined"}`,
			confinement{NoNewPrivs: true, Masked: runcMasked, Readonly: runcReadonly}},
		{"a privileged entry may keep the filter, which then allows what CAP_SYS_ADMIN needs", "    capabilities: [CAP_SYS_ADMIN]\n    seccomp: default\n", "",
			confinement{Seccomp: true, AllowsMount: true, AllowsUnshare: true}},
		{"a privileged entry may keep no_new_privs and masks", "    capabilities: [all]\n    noNewPrivileges: true\n    maskedPaths: [/proc/keys]\n", "",
			confinement{NoNewPrivs: true, Masked: []string{"/proc/keys"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := alpine
			if tt.label != "" {
				img = withLabel(alpine, tt.label)
			}
			spec, _ := translate(t, tt.extra, img)
			got := confinementOf(spec)
			if !equalConfinement(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func equalConfinement(a, b confinement) bool {
	return a.NoNewPrivs == b.NoNewPrivs && slices.Equal(a.Masked, b.Masked) && slices.Equal(a.Readonly, b.Readonly) &&
		a.Seccomp == b.Seccomp && a.AllowsMount == b.AllowsMount && a.AllowsUnshare == b.AllowsUnshare
}

// The filter is Docker's: it refuses by EPERM what it does not list, and
// lists neither the key syscalls nor, without CAP_SYS_ADMIN, mount.
func TestTranslateSeccompIsDockers(t *testing.T) {
	spec, _ := translate(t, "", alpine)
	sc := spec.Linux.Seccomp
	if sc.DefaultAction != specs.ActErrno || sc.DefaultErrnoRet == nil || *sc.DefaultErrnoRet != 1 {
		t.Errorf("default action %s (errno %v), want SCMP_ACT_ERRNO with EPERM", sc.DefaultAction, sc.DefaultErrnoRet)
	}
	for _, sys := range []string{"keyctl", "add_key", "request_key", "mount", "unshare", "kexec_load", "init_module"} {
		for _, r := range sc.Syscalls {
			if r.Action == specs.ActAllow && len(r.Args) == 0 && slices.Contains(r.Names, sys) {
				t.Errorf("%s is allowed to a bare entry", sys)
			}
		}
	}
}

// The default filter lists the 64-bit ABI alone; default-compat is
// Docker's profile whole, with the same rules.
func TestTranslateSeccompABIs(t *testing.T) {
	def, _ := translate(t, "", alpine)
	if got := def.Linux.Seccomp.Architectures; !slices.Equal(got, []specs.Arch{specs.ArchX86_64}) {
		t.Errorf("default filter's architectures %v, want SCMP_ARCH_X86_64 alone", got)
	}
	compat, _ := translate(t, "    seccomp: default-compat\n", alpine)
	if got := compat.Linux.Seccomp.Architectures; !slices.Contains(got, specs.ArchX86) || !slices.Contains(got, specs.ArchX32) {
		t.Errorf("default-compat filter's architectures %v, want the 32-bit and x32 ABIs too", got)
	}
	if len(def.Linux.Seccomp.Syscalls) != len(compat.Linux.Seccomp.Syscalls) {
		t.Errorf("default has %d rules, default-compat %d: want the same rules", len(def.Linux.Seccomp.Syscalls), len(compat.Linux.Seccomp.Syscalls))
	}
}

func TestSeccompKeyIsChecked(t *testing.T) {
	_, _, err := Parse("t.yml", []byte(service("    seccomp: strict\n")))
	if err == nil || !strings.Contains(err.Error(), `"strict" is not a seccomp setting`) {
		t.Errorf("got %v, want a complaint about the seccomp setting", err)
	}
}
