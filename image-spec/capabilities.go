package imagespec

import (
	"fmt"
	"slices"
	"strings"
)

// allCapabilities is every capability Linux defines, in number order. The
// list is fixed here rather than read from the build host's kernel so that
// the same spec gives the same config.json everywhere; runc skips, with a
// warning, capabilities the running kernel does not know.
var allCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// checkCapabilities reports what is wrong with a capability list, as
// LinuxKit reads it: CAP_* names in upper case, or a single "all" or
// "none" (in any case).
func checkCapabilities(caps []string) (bad int, msg string) {
	for i, c := range caps {
		lc := strings.ToLower(c)
		if lc == "all" || lc == "none" {
			if len(caps) > 1 {
				return i, fmt.Sprintf("%q must be the only entry of the list (it stands for every capability or none)", c)
			}
			continue
		}
		if slices.Contains(allCapabilities, c) {
			continue
		}
		up := strings.ToUpper(c)
		if !strings.HasPrefix(up, "CAP_") {
			up = "CAP_" + up
		}
		if slices.Contains(allCapabilities, up) {
			return i, fmt.Sprintf("unknown capability %q (did you mean %s? names are CAP_ and upper case)", c, up)
		}
		return i, fmt.Sprintf("unknown capability %q (allowed: CAP_* names such as CAP_NET_ADMIN, or a lone all or none)", c)
	}
	return -1, ""
}

// expandCapabilities turns a checked list into capability names: "all" is
// every capability, "none" is none.
func expandCapabilities(caps []string) []string {
	if len(caps) == 1 {
		switch strings.ToLower(caps[0]) {
		case "all":
			return slices.Clone(allCapabilities)
		case "none":
			return []string{}
		}
	}
	return caps
}
