package imagespec

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// mountFlags are the mount options runc understands as flags rather than
// filesystem data. A bind mount takes no data, so any other word in a bind
// would be silently ignored by the kernel: it is almost surely a typo.
var mountFlags = setOf(
	// flags
	"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
	"iversion", "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime",
	"noexec", "noiversion", "nolazytime", "nomand", "norelatime",
	"nostrictatime", "nosuid", "nosymfollow", "rbind", "relatime", "remount",
	"ro", "rw", "silent", "strictatime", "suid", "sync", "symfollow",
	// recursive attributes
	"rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec",
	"rnodiratime", "rdiratime", "rrelatime", "rnorelatime", "rnoatime",
	"ratime", "rstrictatime", "rnostrictatime", "rnosymfollow", "rsymfollow",
	// propagation
	"private", "rprivate", "shared", "rshared", "slave", "rslave",
	"unbindable", "runbindable",
	// runc extensions
	"tmpcopyup", "idmap", "ridmap",
)

// propagations are the values of rootfsPropagation.
var propagations = []string{"private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"}

// nameRE is what container and volume names may be: they become directory
// names and container ids.
var nameRE = regexp.MustCompile(`^[a-z0-9_-]+$`)

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// checkOptions reports the first option that is not a known flag. With
// data set, "key=value" filesystem options are allowed too.
func checkOptions(opts []string, data bool) string {
	for _, o := range opts {
		if mountFlags[o] {
			continue
		}
		if k, _, isData := strings.Cut(o, "="); data && isData && k != "" {
			continue
		}
		if o == "" {
			return "empty option (options are separated by single commas)"
		}
		if data {
			return fmt.Sprintf("unknown option %q (allowed: mount flags such as ro, nosuid, noexec, and key=value such as size=64m)", o)
		}
		return fmt.Sprintf("unknown option %q (allowed: mount flags such as ro, rw, nosuid, noexec, rshared, rprivate)", o)
	}
	return ""
}

// parseBind reads a bind as LinuxKit writes it, "/src:/dest[:opt,…]" or
// "VOLUME:/dest[:opt,…]". Without options a bind is read-write, recursive
// and rshared; with options, LinuxKit adds only rbind. volume is the
// volume's name when the source is one; the mount's source is then where
// the volume lives.
func parseBind(s string) (m specs.Mount, volume string, problem string) {
	parts := strings.Split(s, ":")
	switch {
	case len(parts) < 2:
		return m, "", fmt.Sprintf("%q has no destination (allowed: /src:/dest[:opt,…] or VOLUME:/dest[:opt,…])", s)
	case len(parts) > 3:
		return m, "", fmt.Sprintf("%q has too many ':' (allowed: /src:/dest[:opt,…] or VOLUME:/dest[:opt,…])", s)
	}
	src, dest := parts[0], parts[1]
	switch {
	case src == "":
		return m, "", fmt.Sprintf("%q has an empty source (allowed: an absolute path or a volume name)", s)
	case strings.HasPrefix(src, "/"):
	case nameRE.MatchString(src):
		volume = src
		src = VolumePath(src)
	default:
		return m, "", fmt.Sprintf("source %q is neither an absolute path nor a volume name (allowed: /path or [a-z0-9_-]+)", parts[0])
	}
	if !path.IsAbs(dest) {
		return m, "", fmt.Sprintf("destination %q is not an absolute path", dest)
	}
	opts := []string{"rw", "rbind", "rshared"}
	if len(parts) == 3 {
		opts = strings.Split(parts[2], ",")
		if p := checkOptions(opts, false); p != "" {
			return m, "", p
		}
		opts = append(opts, "rbind")
	}
	return specs.Mount{Destination: dest, Type: "bind", Source: src, Options: opts}, volume, ""
}

// isReadonly reports whether mount options end up read-only.
func isReadonly(opts []string) bool {
	ro := false
	for _, o := range opts {
		switch o {
		case "ro", "rro":
			ro = true
		case "rw", "rrw":
			ro = false
		}
	}
	return ro
}

// parseTmpfs reads "/dest[:opt,…]".
func parseTmpfs(s string) (specs.Mount, string) {
	parts := strings.Split(s, ":")
	if len(parts) > 2 {
		return specs.Mount{}, fmt.Sprintf("%q has too many ':' (allowed: /dest[:opt,…])", s)
	}
	if !path.IsAbs(parts[0]) {
		return specs.Mount{}, fmt.Sprintf("destination %q is not an absolute path (allowed: /dest[:opt,…])", parts[0])
	}
	var opts []string
	if len(parts) == 2 {
		opts = strings.Split(parts[1], ",")
		if p := checkOptions(opts, true); p != "" {
			return specs.Mount{}, p
		}
	}
	return specs.Mount{Destination: parts[0], Type: "tmpfs", Source: "tmpfs", Options: opts}, ""
}

// defaultMountpoint is where a mount of a pseudo filesystem goes when the
// spec names only its type.
func defaultMountpoint(typ string) string {
	switch typ {
	case "proc":
		return "/proc"
	case "devpts":
		return "/dev/pts"
	case "sysfs":
		return "/sys"
	case "cgroup", "cgroup2":
		return "/sys/fs/cgroup"
	case "mqueue":
		return "/dev/mqueue"
	}
	return ""
}

// completeMount fills in what a "mounts" entry leaves out, as LinuxKit
// does: the type from a pseudo filesystem source (or tmpfs for /dev), the
// source from the type, the destination from the type. volume is set when
// a bind's source is a volume name.
func completeMount(m specs.Mount) (_ specs.Mount, volume string, problem string) {
	if m.Type == "" {
		switch m.Source {
		case "mqueue", "devpts", "proc", "sysfs", "cgroup", "cgroup2":
			m.Type = m.Source
		}
	}
	if m.Type == "" && m.Destination == "/dev" {
		m.Type = "tmpfs"
	}
	if m.Type == "" {
		return m, "", "type is missing and cannot be inferred (give type: such as bind, tmpfs, proc, overlay)"
	}
	if m.Source == "" {
		m.Source = m.Type
	}
	if m.Destination == "" {
		m.Destination = defaultMountpoint(m.Type)
	}
	if m.Destination == "" {
		return m, "", fmt.Sprintf("destination is missing (only proc, devpts, sysfs, cgroup, cgroup2 and mqueue have a default)")
	}
	if !path.IsAbs(m.Destination) {
		return m, "", fmt.Sprintf("destination %q is not an absolute path", m.Destination)
	}
	if m.Type == "bind" || m.Type == "rbind" {
		switch {
		case strings.HasPrefix(m.Source, "/"):
		case nameRE.MatchString(m.Source):
			volume = m.Source
			m.Source = VolumePath(m.Source)
		default:
			return m, "", fmt.Sprintf("bind source %q is neither an absolute path nor a volume name", m.Source)
		}
	}
	for _, o := range m.Options {
		if o == "" {
			return m, "", "empty option"
		}
	}
	return m, volume, ""
}
