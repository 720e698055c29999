// Package dhcpcdconf reads the part of dhcpcd.conf(5) that minikit's
// dhcpcd supports, so that LinuxKit's configuration files work unchanged:
// which interfaces to run on, what to ask the server for, the host name
// and client identifier to send, timeouts, metrics, and static
// configuration for interfaces without DHCP. Everything else is read and
// ignored with a note that says why; a value that cannot be what its
// directive wants is an error naming the file and line.
package dhcpcdconf
