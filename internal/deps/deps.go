package deps
import (
 _ "github.com/opencontainers/runc/libcontainer"
 _ "github.com/opencontainers/runc/libcontainer/specconv"
 _ "github.com/opencontainers/runtime-spec/specs-go"
 _ "github.com/google/go-containerregistry/pkg/v1/layout"
 _ "github.com/google/go-containerregistry/pkg/v1/mutate"
 _ "github.com/google/go-containerregistry/pkg/registry"
 _ "github.com/goccy/go-yaml"
 _ "github.com/cavaliergopher/cpio"
 _ "github.com/vishvananda/netlink"
 _ "golang.org/x/sys/unix"
 _ "github.com/containerd/cgroups/v3/cgroup2"
 _ "github.com/insomniacslk/dhcp/dhcpv4/nclient4"
 _ "github.com/klauspost/compress/zstd"
)
