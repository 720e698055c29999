package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/minikit/minikit/internal/atomicfile"
	"github.com/minikit/minikit/netconf/dhcp"
	"github.com/minikit/minikit/netconf/dhcpcdconf"
)

// state is what /run/dhcpcd/IFACE.json says about an interface, for
// people and programs that want to know without reading the log.
type state struct {
	Interface string `json:"interface"`
	// State is "discovering", "bound", "static", "released" or
	// "stopped".
	State string `json:"state"`
	// Reason says why the last lease was lost.
	Reason  string             `json:"reason,omitempty"`
	Lease   *dhcp.Lease        `json:"lease,omitempty"`
	Static  *dhcpcdconf.Static `json:"static,omitempty"`
	Updated time.Time          `json:"updated"`
}

func statePath(runDir, iface string) string {
	return filepath.Join(runDir, "dhcpcd", iface+".json")
}

func writeState(runDir string, s state) error {
	s.Updated = time.Now().UTC().Truncate(time.Second)
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("state of %s: %w", s.Interface, err)
	}
	path := statePath(runDir, s.Interface)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("state of %s: %w", s.Interface, err)
	}
	return atomicfile.Write(path, append(data, '\n'), 0o644)
}

// readState returns what an earlier run wrote about iface, if anything:
// an onboot dhcpcd -1 leaves its lease configured for the service that
// follows.
func readState(runDir, iface string) (state, bool) {
	data, err := os.ReadFile(statePath(runDir, iface))
	if err != nil {
		return state{}, false
	}
	var s state
	if json.Unmarshal(data, &s) != nil || s.Interface != iface {
		return state{}, false
	}
	return s, true
}
