package imagespec

import (
	"encoding/json"
	"os"
	"strconv"

	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/internal/observe"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Spec is a whole system: the kernel, what is unpacked into the root, the
// containers of each phase, files and volumes. Fields carry yaml and json
// tags so that the resolved spec can be written back out in the same
// format (for files with "metadata: yaml").
type Spec struct {
	Kernel     Kernel       `yaml:"kernel,omitempty" json:"kernel,omitempty"`
	Init       []string     `yaml:"init,omitempty" json:"init,omitempty"`
	Onboot     []*Container `yaml:"onboot,omitempty" json:"onboot,omitempty"`
	Onshutdown []*Container `yaml:"onshutdown,omitempty" json:"onshutdown,omitempty"`
	Services   []*Container `yaml:"services,omitempty" json:"services,omitempty"`
	Files      []File       `yaml:"files,omitempty" json:"files,omitempty"`
	Volumes    []Volume     `yaml:"volumes,omitempty" json:"volumes,omitempty"`
	// Update is minikit's `update:` section; nil when the spec has none.
	Update *Update `yaml:"update,omitempty" json:"update,omitempty"`
	// Observe is minikit's `observe:` section; nil when the spec has none.
	Observe *observe.Config `yaml:"observe,omitempty" json:"observe,omitempty"`
}

// Kernel says which image holds the kernel and how to boot it.
type Kernel struct {
	Image   string   `yaml:"image,omitempty" json:"image,omitempty"`
	Cmdline string   `yaml:"cmdline,omitempty" json:"cmdline,omitempty"`
	Binary  string   `yaml:"binary,omitempty" json:"binary,omitempty"` // "" means "kernel"
	Tar     string   `yaml:"tar,omitempty" json:"tar,omitempty"`       // "" means "kernel.tar"; "none" for no modules
	UCode   string   `yaml:"ucode,omitempty" json:"ucode,omitempty"`   // a cpio prepended to the initrd; "" for none
	Modules []string `yaml:"modules,omitempty" json:"modules,omitempty"`
	// Coldplug lists modules carried in the image but loaded at boot only
	// when a device present answers to one of their aliases (minikit).
	Coldplug []string `yaml:"coldplug,omitempty" json:"coldplug,omitempty"`
}

// BinaryName is the kernel's file name inside the kernel image.
func (k Kernel) BinaryName() string {
	if k.Binary == "" {
		return "kernel"
	}
	return k.Binary
}

// TarName is the modules tarball's name inside the kernel image, or ""
// when the spec asks for none.
func (k Kernel) TarName() string {
	switch k.Tar {
	case "":
		return "kernel.tar"
	case "none":
		return ""
	}
	return k.Tar
}

// File is a file, directory or symlink added to the root filesystem.
// Exactly one of Contents, Source, Metadata, Directory or Symlink says
// what it holds.
type File struct {
	Path      string  `yaml:"path" json:"path"` // as written; a leading "/" is allowed and means the same
	Directory bool    `yaml:"directory,omitempty" json:"directory,omitempty"`
	Symlink   string  `yaml:"symlink,omitempty" json:"symlink,omitempty"`
	Contents  *string `yaml:"contents,omitempty" json:"contents,omitempty"`
	Source    string  `yaml:"source,omitempty" json:"source,omitempty"` // on the build host; "~/" is the user's home
	Metadata  string  `yaml:"metadata,omitempty" json:"metadata,omitempty"`
	Optional  bool    `yaml:"optional,omitempty" json:"optional,omitempty"` // a missing Source is skipped
	Mode      string  `yaml:"mode,omitempty" json:"mode,omitempty"`         // octal as written, e.g. "0600"
	UID       *ID     `yaml:"uid,omitempty" json:"uid,omitempty"`           // nil means root
	GID       *ID     `yaml:"gid,omitempty" json:"gid,omitempty"`           // nil means root

	at   position
	path string
}

// FileMode is the file's permissions: Mode when given, else 0700 for a
// directory and 0600 for anything else, as LinuxKit does. Mode is checked
// when the spec is parsed, so it always reads here.
func (f File) FileMode() os.FileMode {
	def := uint64(0o600)
	if f.Directory {
		def = 0o700
	}
	v, ok := parseOctal(f.Mode, 0o7777)
	if !ok {
		v = def
	}
	m := os.FileMode(v & 0o777)
	if v&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if v&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if v&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m
}

// Volume is a named volume that binds can refer to as NAME:/dest.
type Volume struct {
	Name      string   `yaml:"name" json:"name"`
	Image     string   `yaml:"image,omitempty" json:"image,omitempty"` // "" for a blank volume
	Readonly  bool     `yaml:"readonly,omitempty" json:"readonly,omitempty"`
	Format    string   `yaml:"format,omitempty" json:"format,omitempty"` // "filesystem" (default) or "oci"
	Platforms []string `yaml:"platforms,omitempty" json:"platforms,omitempty"`

	at   position
	path string
}

// VolumePath is where binds to the volume named name point: where init
// mounts it (bundle.VolumesDir).
func VolumePath(name string) string {
	_, merged := bundle.VolumePaths("/", name)
	return merged
}

// ID is a user or group id as written in a spec: a number, or the name of
// a container, which stands for the id minikit gives that container (see
// Spec.IDs). The name "root" is 0.
type ID struct {
	Num  uint32
	Name string // set when the id was written as a name
}

// MarshalJSON writes the id as it was written: a number or a name.
func (id ID) MarshalJSON() ([]byte, error) {
	if id.Name != "" {
		return json.Marshal(id.Name)
	}
	return []byte(strconv.FormatUint(uint64(id.Num), 10)), nil
}

// MarshalYAML writes the id as it was written: a number or a name.
func (id ID) MarshalYAML() (any, error) {
	if id.Name != "" {
		return id.Name, nil
	}
	return id.Num, nil
}

// Container is one entry of onboot, onshutdown or services, or the
// org.mobyproject.config label of an image (which has no Name or Image).
//
// A field that was not written is nil (or ""), so that the label's value
// and the image's config can show through; a list written empty is a
// non-nil empty slice and does replace them.
type Container struct {
	Name  string `yaml:"name" json:"name"`
	Image string `yaml:"image" json:"image"`

	Capabilities      []string               `yaml:"capabilities,omitempty" json:"capabilities,omitempty"`
	CapabilitiesAdd   []string               `yaml:"capabilities.add,omitempty" json:"capabilities.add,omitempty"`
	Ambient           []string               `yaml:"ambient,omitempty" json:"ambient,omitempty"`
	Mounts            []specs.Mount          `yaml:"mounts,omitempty" json:"mounts,omitempty"`
	Binds             []string               `yaml:"binds,omitempty" json:"binds,omitempty"`
	BindsAdd          []string               `yaml:"binds.add,omitempty" json:"binds.add,omitempty"`
	Devices           []Device               `yaml:"devices,omitempty" json:"devices,omitempty"`
	Tmpfs             []string               `yaml:"tmpfs,omitempty" json:"tmpfs,omitempty"`
	Command           []string               `yaml:"command,omitempty" json:"command,omitempty"`
	Env               []string               `yaml:"env,omitempty" json:"env,omitempty"`
	Cwd               string                 `yaml:"cwd,omitempty" json:"cwd,omitempty"`
	Net               string                 `yaml:"net,omitempty" json:"net,omitempty"`
	Pid               string                 `yaml:"pid,omitempty" json:"pid,omitempty"`
	Ipc               string                 `yaml:"ipc,omitempty" json:"ipc,omitempty"`
	Uts               string                 `yaml:"uts,omitempty" json:"uts,omitempty"`
	Userns            string                 `yaml:"userns,omitempty" json:"userns,omitempty"`
	Hostname          string                 `yaml:"hostname,omitempty" json:"hostname,omitempty"`
	Readonly          *bool                  `yaml:"readonly,omitempty" json:"readonly,omitempty"`
	MaskedPaths       []string               `yaml:"maskedPaths,omitempty" json:"maskedPaths,omitempty"`
	ReadonlyPaths     []string               `yaml:"readonlyPaths,omitempty" json:"readonlyPaths,omitempty"`
	UID               *ID                    `yaml:"uid,omitempty" json:"uid,omitempty"`
	GID               *ID                    `yaml:"gid,omitempty" json:"gid,omitempty"`
	AdditionalGids    []ID                   `yaml:"additionalGids,omitempty" json:"additionalGids,omitempty"`
	NoNewPrivileges   *bool                  `yaml:"noNewPrivileges,omitempty" json:"noNewPrivileges,omitempty"`
	OOMScoreAdj       *int                   `yaml:"oomScoreAdj,omitempty" json:"oomScoreAdj,omitempty"`
	RootfsPropagation string                 `yaml:"rootfsPropagation,omitempty" json:"rootfsPropagation,omitempty"`
	CgroupsPath       string                 `yaml:"cgroupsPath,omitempty" json:"cgroupsPath,omitempty"`
	Resources         *specs.LinuxResources  `yaml:"resources,omitempty" json:"resources,omitempty"`
	Sysctl            map[string]string      `yaml:"sysctl,omitempty" json:"sysctl,omitempty"`
	Rlimits           []string               `yaml:"rlimits,omitempty" json:"rlimits,omitempty"`
	UIDMappings       []specs.LinuxIDMapping `yaml:"uidMappings,omitempty" json:"uidMappings,omitempty"`
	GIDMappings       []specs.LinuxIDMapping `yaml:"gidMappings,omitempty" json:"gidMappings,omitempty"`
	Annotations       map[string]string      `yaml:"annotations,omitempty" json:"annotations,omitempty"`
	Runtime           *bundle.Runtime        `yaml:"runtime,omitempty" json:"runtime,omitempty"`

	// minikit extensions, carried as org.minikit.* annotations.
	Restart     string   `yaml:"restart,omitempty" json:"restart,omitempty"`         // services: always, on-failure, never
	StopSignal  string   `yaml:"stopSignal,omitempty" json:"stopSignal,omitempty"`   // services, onboot: e.g. SIGTERM
	StopTimeout *int     `yaml:"stopTimeout,omitempty" json:"stopTimeout,omitempty"` // services, onboot: seconds
	DependsOn   []string `yaml:"dependsOn,omitempty" json:"dependsOn,omitempty"`     // services: names of services
	Notify      *bool    `yaml:"notify,omitempty" json:"notify,omitempty"`           // services: wait for READY=1
	Timeout     *int     `yaml:"timeout,omitempty" json:"timeout,omitempty"`         // onboot, onshutdown: seconds
	Required    *bool    `yaml:"required,omitempty" json:"required,omitempty"`       // onboot: failure is fatal
	Seccomp     string   `yaml:"seccomp,omitempty" json:"seccomp,omitempty"`         // default or unconfined

	// where the entry and its fields were written, for messages
	at     position
	path   string // field path in its file, such as services[2]
	fields map[string]position
}

// String names the entry and its image, for logs.
func (c *Container) String() string { return c.Name + " (" + c.Image + ")" }

// Pos is where the entry was written, as FILE:LINE:COL.
func (c *Container) Pos() string { return c.at.String() }

// fieldAt is where a field of the entry was written, or the entry itself.
func (c *Container) fieldAt(field string) position {
	if p, ok := c.fields[field]; ok {
		return p
	}
	return c.at
}

// Device is a device node made in the container and allowed by its device
// cgroup. Path "all" allows every device of Type without making a node.
type Device struct {
	Path  string `yaml:"path" json:"path"`
	Type  string `yaml:"type" json:"type"` // c, b, u or p (and a with path all)
	Major int64  `yaml:"major" json:"major"`
	Minor int64  `yaml:"minor" json:"minor"`
	Mode  string `yaml:"mode,omitempty" json:"mode,omitempty"` // octal, e.g. "0666"
}
