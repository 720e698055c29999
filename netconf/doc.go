// Package netconf configures network links over netlink: links up and
// down, MTU, addresses with lifetimes, routes, the hostname and
// resolv.conf. It never runs `ip`; every change is one netlink request.
//
// A Handle works on one network namespace (the caller's, or one opened by
// path for tests). A Configurer puts the Settings of an interface into
// effect as a whole and takes them away again, which is what the DHCP
// client does with a lease and the static configuration with a file.
package netconf
