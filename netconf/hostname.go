package netconf

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Hostname returns the kernel's host name.
func Hostname() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", fmt.Errorf("read hostname: %w", err)
	}
	return unix.ByteSliceToString(u.Nodename[:]), nil
}

// SetHostname sets the kernel's host name (it needs CAP_SYS_ADMIN in the
// UTS namespace).
func SetHostname(name string) error {
	if err := ValidHostname(name); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("set hostname %q: %w", name, err)
	}
	return nil
}

// ValidHostname accepts what resolvers and the kernel accept: dot-separated
// labels of letters, digits and hyphens, 63 bytes each (RFC 1035), 64 bytes
// in all (the kernel's HOST_NAME_MAX).
func ValidHostname(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("hostname %q: want 1 to 64 characters", name)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return fmt.Errorf("hostname %q: empty label or label starting or ending with '-'", name)
		}
		if len(label) > 63 {
			return fmt.Errorf("hostname %q: a label of %d bytes, more than 63", name, len(label))
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("hostname %q: %q is not a letter, digit or '-'", name, r)
			}
		}
	}
	return nil
}

// HostnameIsDefault reports whether the host name is one nobody chose
// (empty, the kernel's "(none)", localhost), so that a name from DHCP may
// replace it without overriding the user, as dhcpcd's hostname hook does.
func HostnameIsDefault(name string) bool {
	switch strings.ToLower(name) {
	case "", "(none)", "localhost", "localhost.localdomain":
		return true
	}
	return false
}
