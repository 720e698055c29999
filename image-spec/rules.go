package imagespec

import (
	"fmt"
	"math"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// checkNamespace reports what is wrong with a net, pid, ipc, uts or userns
// value: "host", "new", an absolute path to a bound namespace, and for net
// also "none" (a new, empty namespace). LinuxKit also reads "root" as the
// host's namespace.
func checkNamespace(kind, v string) string {
	switch v {
	case "host", "root", "new":
		return ""
	case "none":
		if kind == "net" {
			return ""
		}
	}
	if path.IsAbs(v) {
		return ""
	}
	allowed := "host, new or an absolute path to a namespace"
	if kind == "net" {
		allowed = "host, new, none or an absolute path to a namespace"
	}
	return fmt.Sprintf("%q is not a namespace (allowed: %s)", v, allowed)
}

// checkImage reports what is wrong with an image reference.
func checkImage(ref string) string {
	if strings.TrimSpace(ref) == "" {
		return "is empty (give an image reference such as linuxkit/getty:TAG)"
	}
	if _, err := name.ParseReference(ref); err != nil {
		return fmt.Sprintf("%q is not an image reference: %v", ref, err)
	}
	return ""
}

// sysctlRE is what a sysctl name looks like, in dotted or slashed form.
var sysctlRE = regexp.MustCompile(`^[a-zA-Z0-9_-]+([./][a-zA-Z0-9_:@+-]+)+$`)

// sysctlNamespace says which namespace a sysctl belongs to, as runc checks
// it: only namespaced sysctls may be set in a container. ok is false for a
// sysctl that is not namespaced.
func sysctlNamespace(key string) (ns specs.LinuxNamespaceType, ok bool) {
	k := strings.ReplaceAll(key, "/", ".")
	switch {
	case k == "kernel.msgmax", k == "kernel.msgmnb", k == "kernel.msgmni", k == "kernel.sem",
		k == "kernel.shmall", k == "kernel.shmmax", k == "kernel.shmmni", k == "kernel.shm_rmid_forced",
		strings.HasPrefix(k, "fs.mqueue."):
		return specs.IPCNamespace, true
	case strings.HasPrefix(k, "net."):
		return specs.NetworkNamespace, true
	case k == "kernel.hostname", k == "kernel.domainname":
		return specs.UTSNamespace, true
	}
	return "", false
}

// checkSysctl reports what is wrong with one sysctl setting.
func checkSysctl(key, value string) string {
	if !sysctlRE.MatchString(key) {
		return fmt.Sprintf("%q is not a sysctl name (allowed: dotted names such as net.ipv4.ip_forward)", key)
	}
	if _, ok := sysctlNamespace(key); !ok {
		return fmt.Sprintf("%q is not a namespaced sysctl and cannot be set for one container (allowed: net.*, fs.mqueue.*, kernel.msg*, kernel.sem, kernel.shm*, kernel.hostname, kernel.domainname; set host sysctls with the sysctl onboot image)", key)
	}
	if value == "" {
		return "empty value"
	}
	return ""
}

// rlimitNames are the resource limits Linux has.
var rlimitNames = []string{
	"RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE",
	"RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS",
	"RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
	"RLIMIT_RTPRIO", "RLIMIT_RTTIME",
}

// parseRlimit reads "name,soft,hard" as LinuxKit does: the name in any
// case, with or without RLIMIT_, and "unlimited" for no limit.
func parseRlimit(s string) (specs.POSIXRlimit, string) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return specs.POSIXRlimit{}, fmt.Sprintf("%q is not name,soft,hard (for example nofile,1024,4096 or memlock,unlimited,unlimited)", s)
	}
	typ := strings.ToUpper(strings.TrimSpace(parts[0]))
	if !strings.HasPrefix(typ, "RLIMIT_") {
		typ = "RLIMIT_" + typ
	}
	known := false
	for _, n := range rlimitNames {
		known = known || n == typ
	}
	if !known {
		return specs.POSIXRlimit{}, fmt.Sprintf("unknown limit %q (allowed: %s, with or without RLIMIT_, in any case)",
			strings.TrimSpace(parts[0]), strings.ToLower(strings.Join(trimEach(rlimitNames, "RLIMIT_"), ", ")))
	}
	var lim [2]uint64
	for i, v := range parts[1:] {
		v = strings.TrimSpace(v)
		if strings.EqualFold(v, "unlimited") {
			lim[i] = math.MaxUint64
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return specs.POSIXRlimit{}, fmt.Sprintf("%q is not a limit (allowed: a whole number or unlimited)", v)
		}
		lim[i] = n
	}
	if lim[0] > lim[1] {
		return specs.POSIXRlimit{}, fmt.Sprintf("soft limit %s is above hard limit %s", strings.TrimSpace(parts[1]), strings.TrimSpace(parts[2]))
	}
	return specs.POSIXRlimit{Type: typ, Soft: lim[0], Hard: lim[1]}, ""
}

func trimEach(ss []string, prefix string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.TrimPrefix(s, prefix)
	}
	return out
}

// signals are the standard Linux signals, by number.
var signals = []string{
	"SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS",
	"SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM",
	"SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP",
	"SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM",
	"SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
}

var rtSignalRE = regexp.MustCompile(`^SIGRT(MIN|MAX)([+-]([0-9]|[12][0-9]|30))?$`)

// normalizeSignal reads a signal name in any case, with or without SIG,
// including SIGRTMIN+N, and returns it as init reads it (SIGTERM).
func normalizeSignal(s string) (string, bool) {
	up := strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(up, "SIG") {
		up = "SIG" + up
	}
	for _, sig := range signals {
		if sig == up {
			return up, true
		}
	}
	if m := rtSignalRE.FindStringSubmatch(up); m != nil {
		if m[2] != "" && ((m[1] == "MIN" && m[2][0] == '-') || (m[1] == "MAX" && m[2][0] == '+')) {
			return "", false
		}
		return up, true
	}
	return "", false
}

// moduleRE is what a kernel module name looks like.
var moduleRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// checkModule reports what is wrong with a kernel module name.
func checkModule(m string) string {
	if strings.HasSuffix(m, ".ko") || strings.Contains(m, "/") {
		return fmt.Sprintf("%q is a file, not a module name (write it as modprobe would: %s)", m, strings.TrimSuffix(path.Base(m), ".ko"))
	}
	if !moduleRE.MatchString(m) {
		return fmt.Sprintf("%q is not a module name (allowed: letters, digits, _ and -)", m)
	}
	return ""
}
