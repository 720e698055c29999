// Package observe is the contract between the builder and init for what
// goes off the machine: where the logs are shipped and where the metrics
// are served, and how init starts the observer that does both. The spec's `observe:` section is written into the image
// as File; the kernel command line adds to it at boot (minikit.log=URL,
// repeatable, and minikit.metrics=HOST:PORT), so one image can be sent to
// a different collector without a rebuild.
package observe

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
)

// ObserverName is the name of the observer, the process that ships the
// logs and serves the metrics (init/observer), so that PID 1 does
// neither: its binary's, its log's and its argv[0].
const ObserverName = "minikit-observe"

// ObserverBinary is where, in the image, the observer's binary is.
const ObserverBinary = "/sbin/" + ObserverName

// HandoffFD is the descriptor of the log hand-off socket (init/handoff)
// in the observer.
const HandoffFD = 3

// ObserverArgs is what init tells the observer, as the JSON of its one
// argument.
type ObserverArgs struct {
	// Config is the spec's settings merged with the kernel command
	// line's.
	Config Config `json:"config"`
	// LogCA is the contents of Config.LogCA, which init reads: the path
	// is in init's view of the root. "" with Config.LogCA set means it
	// was unreadable, and no syslog+tls receiver is trusted.
	LogCA  string `json:"logCA,omitempty"`
	BootID string `json:"bootID"`
	// Control is the control socket, which the metrics come from.
	Control string `json:"control"`
}

// File is where, in the image, the spec's settings are.
const File = "/etc/minikit/observe.json"

// Config is the spec's `observe:` section as the image carries it.
type Config struct {
	// Logs are the destinations of every log line, as KIND://HOST:PORT
	// (init/logship names the kinds).
	Logs []string `yaml:"logs,omitempty" json:"logs,omitempty"`
	// LogCA is the path, in the image, of the PEM certificates that a
	// syslog+tls receiver's certificate must chain to; "" means the
	// image's system roots.
	LogCA string `yaml:"logCA,omitempty" json:"logCA,omitempty"`
	// LogQueue bounds the lines held for each destination while it is
	// down; 0 means logship's default.
	LogQueue int `yaml:"logQueue,omitempty" json:"logQueue,omitempty"`
	// Metrics is HOST:PORT of a TCP listener that serves the metrics
	// read-only to a Prometheus server; "" means none (the control
	// socket always serves them).
	Metrics string `yaml:"metrics,omitempty" json:"metrics,omitempty"`
}

// Bounds of LogQueue: below the minimum a short outage loses lines, above
// the maximum a flood while the collector is away costs PID 1 too much
// memory (a line is kept at up to 4 KiB).
const (
	MinLogQueue = 100
	MaxLogQueue = 1_000_000
)

// Empty tells whether c asks for nothing.
func (c Config) Empty() bool {
	return len(c.Logs) == 0 && c.LogCA == "" && c.LogQueue == 0 && c.Metrics == ""
}

// Merge lets later settings add destinations and replace the rest, as a
// later spec file, and then the kernel command line, do.
func (c *Config) Merge(next Config) {
	for _, l := range next.Logs {
		if !slices.Contains(c.Logs, l) {
			c.Logs = append(c.Logs, l)
		}
	}
	if next.LogCA != "" {
		c.LogCA = next.LogCA
	}
	if next.LogQueue != 0 {
		c.LogQueue = next.LogQueue
	}
	if next.Metrics != "" {
		c.Metrics = next.Metrics
	}
}

// CheckListen checks a metrics listener's address: HOST:PORT with a
// numeric port, HOST an IP address or empty (every address).
func CheckListen(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("metrics listener %q: want HOST:PORT: %w", s, err)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("metrics listener %q: port %q is not a number from 1 to 65535", s, port)
	}
	if host != "" && net.ParseIP(host) == nil {
		return fmt.Errorf("metrics listener %q: %q is not an IP address (init listens before any name can be resolved)", s, host)
	}
	return nil
}

// FromCmdline reads the kernel command line's settings: minikit.log=URL
// (repeatable) and minikit.metrics=HOST:PORT.
func FromCmdline(cmdline string) Config {
	var c Config
	for _, f := range strings.Fields(cmdline) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "minikit.log":
			if v != "" {
				c.Merge(Config{Logs: []string{v}})
			}
		case "minikit.metrics":
			c.Metrics = v
		}
	}
	return c
}

// Read reads File under root; a missing file is an empty Config.
func Read(path string) (Config, error) {
	var c Config
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
