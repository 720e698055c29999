package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/minikit/minikit/internal/bundle"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// runtimeSection is a bundle's runtime.json: work done in the root
// namespace around the container's start.
type runtimeSection struct{ *bundle.Runtime }

func readRuntime(dir string) (runtimeSection, error) {
	rt, err := bundle.ReadRuntime(dir)
	return runtimeSection{rt}, err
}

// prepare does what must exist before the container starts.
func (rt runtimeSection) prepare() error {
	for _, d := range rt.Mkdir {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("mkdir %s: %w", d, err)
		}
	}
	for _, cg := range rt.Cgroups {
		if err := os.MkdirAll(filepath.Join("/sys/fs/cgroup", cg), 0o755); err != nil {
			return fmt.Errorf("cgroup %s: %w", cg, err)
		}
	}
	for _, m := range rt.Mounts {
		if err := mountRuntime(m); err != nil {
			return err
		}
	}
	return nil
}

// created does, as LinuxKit's init does, what needs the container's
// namespaces before its process runs: it gives the container the network
// interfaces the section names and binds its namespaces where the section
// says, so that other containers can join them (net: /run/netns/NAME).
// pid is the container's init, created and waiting to exec.
func (rt runtimeSection) created(pid int) error {
	for _, iface := range rt.Interfaces {
		if err := addInterface(iface, pid); err != nil {
			return fmt.Errorf("runtime.interfaces: %w", err)
		}
	}
	return rt.bindNamespaces(pid)
}

// addInterface moves an existing interface into the network namespace of
// pid, or creates one there: a veth pair whose peer stays in the root
// namespace (for a bridge), or a link of another type, created in the
// root namespace first when createInRoot asks (wireguard, whose socket
// then lives in the root namespace).
func addInterface(iface bundle.Interface, pid int) error {
	if iface.Name == "" {
		return fmt.Errorf("an interface needs a name")
	}
	if iface.Peer != "" && iface.Add == "" {
		iface.Add = "veth" // a peer implies a veth pair
	}
	if iface.Add == "" {
		link, err := netlink.LinkByName(iface.Name)
		if err != nil {
			return fmt.Errorf("interface %s: %w", iface.Name, err)
		}
		if err := netlink.LinkSetNsPid(link, pid); err != nil {
			return fmt.Errorf("move interface %s into the container's network namespace: %w", iface.Name, err)
		}
		return nil
	}
	inRoot := iface.CreateInRoot || iface.Add == "veth"
	attrs := netlink.LinkAttrs{Name: iface.Name}
	if !inRoot {
		attrs.Namespace = netlink.NsPid(pid)
	}
	var link netlink.Link = &netlink.GenericLink{LinkAttrs: attrs, LinkType: iface.Add}
	if iface.Add == "veth" {
		if iface.Peer == "" {
			return fmt.Errorf("the veth pair %s needs a peer", iface.Name)
		}
		link = &netlink.Veth{LinkAttrs: attrs, PeerName: iface.Peer}
	}
	if err := netlink.LinkAdd(link); err != nil {
		return fmt.Errorf("add interface %s of type %s: %w", iface.Name, iface.Add, err)
	}
	if inRoot {
		if err := netlink.LinkSetNsPid(link, pid); err != nil {
			_ = netlink.LinkDel(link)
			return fmt.Errorf("move interface %s into the container's network namespace: %w", iface.Name, err)
		}
	}
	return nil
}

// bindNamespaces binds the started container's namespaces to the paths
// the spec names, so other containers can join them.
func (rt runtimeSection) bindNamespaces(pid int) error {
	ns := rt.BindNS
	for kind, path := range map[string]string{
		"cgroup": ns.Cgroup, "ipc": ns.Ipc, "mnt": ns.Mnt, "net": ns.Net,
		"pid": ns.Pid, "user": ns.User, "uts": ns.Uts,
	} {
		if path == "" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o444); err == nil {
			f.Close()
		}
		src := fmt.Sprintf("/proc/%d/ns/%s", pid, kind)
		if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s namespace to %s: %w", kind, path, err)
		}
	}
	return nil
}

var mountFlags = map[string]uintptr{
	"ro": unix.MS_RDONLY, "rw": 0, "nosuid": unix.MS_NOSUID, "nodev": unix.MS_NODEV,
	"noexec": unix.MS_NOEXEC, "bind": unix.MS_BIND, "rbind": unix.MS_BIND | unix.MS_REC,
	"relatime": unix.MS_RELATIME, "noatime": unix.MS_NOATIME, "sync": unix.MS_SYNCHRONOUS,
	"remount": unix.MS_REMOUNT,
}

var propagationFlags = map[string]uintptr{
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
}

// splitMountOptions turns OCI mount options into mount(2) flags, the
// propagation to set afterwards, and the filesystem's own data.
func splitMountOptions(opts []string) (flags, propagation uintptr, data string) {
	var rest []string
	for _, o := range opts {
		if f, ok := mountFlags[o]; ok {
			flags |= f
		} else if p, ok := propagationFlags[o]; ok {
			propagation |= p
		} else {
			rest = append(rest, o)
		}
	}
	return flags, propagation, strings.Join(rest, ",")
}

func mountRuntime(m bundle.Mount) error {
	flags, propagation, data := splitMountOptions(m.Options)
	if err := os.MkdirAll(m.Destination, 0o755); err != nil {
		return fmt.Errorf("mount %s: %w", m.Destination, err)
	}
	if err := unix.Mount(m.Source, m.Destination, m.Type, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s: %w", m.Source, m.Destination, err)
	}
	if propagation != 0 {
		if err := unix.Mount("", m.Destination, "", propagation, ""); err != nil {
			return fmt.Errorf("set propagation of %s: %w", m.Destination, err)
		}
	}
	return nil
}
