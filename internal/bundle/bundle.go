// Package bundle is the on-disk contract between the packer (tools/packer)
// and PID 1 (init): where bundles live in the image and how they are
// named, the files each holds, the annotations that carry supervision
// policy, the runtime.json beside each config.json and the volumes.
//
// Both sides import this package, so neither knows how the other works:
// the packer knows nothing of libcontainer and init knows nothing of YAML.
package bundle

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// Where the bundles of each phase live inside a built image.
const (
	OnbootDir     = "/containers/onboot"
	ServicesDir   = "/containers/services"
	OnshutdownDir = "/containers/onshutdown"
)

// The files and directory of one bundle: the OCI runtime spec, the spec's
// runtime section (optional) and the container's root.
const (
	ConfigFile  = "config.json"
	RuntimeFile = "runtime.json"
	RootfsDir   = "rootfs"
)

// ReadSpec reads DIR/config.json, a bundle's OCI runtime spec, which
// must have a process and a root.
func ReadSpec(dir string) (*specs.Spec, error) {
	file := filepath.Join(dir, ConfigFile)
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if spec.Process == nil || spec.Root == nil {
		return nil, fmt.Errorf("%s: no process or root", file)
	}
	return &spec, nil
}

// EntryName is the directory name of the index-th onboot or onshutdown
// entry: lexical order is the spec's order.
func EntryName(index int, name string) string { return fmt.Sprintf("%03d-%s", index, name) }

// VolumesDir holds a directory for each volume of the spec, as LinuxKit
// lays volumes out: VolumesDir/NAME/lower is its content (an image's
// root, an OCI layout, or empty), VolumesDir/NAME/merged is where init
// mounts it at boot and where binds to the volume point, and
// VolumesDir/NAME/volume.json says how (VolumeConfig).
const VolumesDir = "/containers/volumes"

// VolumeFile is the name of the VolumeConfig beside a volume's lower
// directory.
const VolumeFile = "volume.json"

// VolumeConfig is a volume's volume.json.
type VolumeConfig struct {
	// Readonly volumes are bound read-only onto merged; the others get an
	// overlay there whose upper layer is on /run, so containers can write
	// to them on a read-only root, and what they write lasts until
	// poweroff.
	Readonly bool `json:"readonly,omitempty"`
}

// VolumePaths are the lower and merged directories of the volume name
// under the image root root.
func VolumePaths(root, name string) (lower, merged string) {
	dir := filepath.Join(root, VolumesDir, name)
	return filepath.Join(dir, "lower"), filepath.Join(dir, "merged")
}

// ModulesList names the file, inside the image, that lists the kernel
// modules init loads at boot (kmod.List): one absolute path a line,
// dependencies first, each with the modules before it that it needs.
const ModulesList = "/etc/minikit/modules"

// ColdplugList names the file, inside the image, of the modules init
// loads only for the devices present (kmod.FormatColdplug): one rule a
// line, a device alias pattern and then the paths to load for it.
const ColdplugList = "/etc/minikit/coldplug"

// RootImage is where, in an image initrd, the root image waits for init's
// first stage: a SquashFS image of everything but the kernel, with its
// dm-verity hash tree after it (internal/verity).
const RootImage = "/root.img"

// RootModulesList names the file, in an image initrd, that lists the
// modules init's first stage loads to mount the root image, as
// ModulesList does.
const RootModulesList = "/etc/minikit/root-modules"

// RootDeviceName is the device-mapper name of the root image's verity
// device, /dev/mapper/NAME: no disk tool may take it for a blank disk.
const RootDeviceName = "minikit-root"

// RootColdplugList names the coldplug table (as ColdplugList), in the
// initrd of a disk image, of the drivers init's first stage may need to
// reach the disk that holds the root image.
const RootColdplugList = "/etc/minikit/root-coldplug"

// Annotations in config.json that carry minikit's supervision policy, so a
// bundle stays a plain OCI bundle that runc can run as it is.
const (
	AnnotationRestart     = "org.minikit.restart"     // always, on-failure, never
	AnnotationStopSignal  = "org.minikit.stopSignal"  // e.g. SIGTERM
	AnnotationStopTimeout = "org.minikit.stopTimeout" // seconds
	AnnotationDependsOn   = "org.minikit.dependsOn"   // comma-separated service names
	AnnotationNotify      = "org.minikit.notify"      // "true"
	AnnotationTimeout     = "org.minikit.timeout"     // seconds, onboot and onshutdown
	AnnotationRequired    = "org.minikit.required"    // "true", onboot
)

// Runtime is the spec's `runtime` section: actions init does in the root
// namespace around a container's start. It is written as runtime.json
// beside config.json, as LinuxKit lays it out.
type Runtime struct {
	Cgroups    []string    `json:"cgroups,omitempty" yaml:"cgroups,omitempty"`
	Mounts     []Mount     `json:"mounts,omitempty" yaml:"mounts,omitempty"`
	Mkdir      []string    `json:"mkdir,omitempty" yaml:"mkdir,omitempty"`
	Interfaces []Interface `json:"interfaces,omitempty" yaml:"interfaces,omitempty"`
	BindNS     Namespaces  `json:"bindNS,omitempty" yaml:"bindNS,omitempty"`
	Namespace  string      `json:"namespace,omitempty" yaml:"namespace,omitempty"`
}

// Mount is an OCI-style mount done in the root namespace.
type Mount struct {
	Destination string   `json:"destination" yaml:"destination"`
	Type        string   `json:"type,omitempty" yaml:"type,omitempty"`
	Source      string   `json:"source,omitempty" yaml:"source,omitempty"`
	Options     []string `json:"options,omitempty" yaml:"options,omitempty"`
}

// Interface is a network interface to move into, or create in, the
// container's network namespace.
type Interface struct {
	Name         string `json:"name,omitempty" yaml:"name,omitempty"`
	Add          string `json:"add,omitempty" yaml:"add,omitempty"`
	Peer         string `json:"peer,omitempty" yaml:"peer,omitempty"`
	CreateInRoot bool   `json:"createInRoot,omitempty" yaml:"createInRoot,omitempty"`
}

// Namespaces names paths to bind a new container's namespaces to.
type Namespaces struct {
	Cgroup string `json:"cgroup,omitempty" yaml:"cgroup,omitempty"`
	Ipc    string `json:"ipc,omitempty" yaml:"ipc,omitempty"`
	Mnt    string `json:"mnt,omitempty" yaml:"mnt,omitempty"`
	Net    string `json:"net,omitempty" yaml:"net,omitempty"`
	Pid    string `json:"pid,omitempty" yaml:"pid,omitempty"`
	User   string `json:"user,omitempty" yaml:"user,omitempty"`
	Uts    string `json:"uts,omitempty" yaml:"uts,omitempty"`
}

// IsZero reports whether the runtime section asks for nothing, so the
// packer can leave runtime.json out.
func (r *Runtime) IsZero() bool {
	return r == nil || (len(r.Cgroups) == 0 && len(r.Mounts) == 0 && len(r.Mkdir) == 0 &&
		len(r.Interfaces) == 0 && r.BindNS == (Namespaces{}) && r.Namespace == "")
}

// ReadRuntime reads DIR/runtime.json; a bundle without one has an empty
// runtime section.
func ReadRuntime(dir string) (*Runtime, error) {
	data, err := os.ReadFile(filepath.Join(dir, RuntimeFile))
	if os.IsNotExist(err) {
		return &Runtime{}, nil
	}
	if err != nil {
		return nil, err
	}
	var r Runtime
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, RuntimeFile), err)
	}
	return &r, nil
}
