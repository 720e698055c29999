package imagespec

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	updatebundle "github.com/minikit/minikit/internal/update"
)

// Update is the spec's `update:` section (minikit): how the system, on a
// disk with slots A and B, takes updates.
type Update struct {
	// Version names this build of the system: in its update bundle's
	// manifest, its slot's boot script, and what `svcctl update status`
	// shows.
	Version string `yaml:"version,omitempty" json:"version,omitempty"`
	// Grace is how long, as a Go duration ("60s", "2m"), every service
	// must run (ready, for notify services) on the first boot of an
	// update before that update is good; until then a failure rolls it
	// back.
	Grace string `yaml:"grace,omitempty" json:"grace,omitempty"`
	// SlotSize is the size of each slot of a disk image ("512M", "2G"):
	// room for every update to come.
	SlotSize string `yaml:"slotSize,omitempty" json:"slotSize,omitempty"`
}

// DefaultGrace is the grace period of a spec that gives none.
const DefaultGrace = 60 * time.Second

// Bounds of the update section's values.
const (
	minGrace = time.Second
	maxGrace = time.Hour
	minSlot  = 16 << 20
	maxSlot  = 1 << 40
)

// GraceDuration is the grace period: Grace, or DefaultGrace.
func (u *Update) GraceDuration() time.Duration {
	if u == nil || u.Grace == "" {
		return DefaultGrace
	}
	d, _ := time.ParseDuration(u.Grace) // checked when the spec was read
	return d
}

// SlotBytes is the slot size in bytes, 0 when the spec gives none.
func (u *Update) SlotBytes() int64 {
	if u == nil || u.SlotSize == "" {
		return 0
	}
	n, _ := parseSize(u.SlotSize) // checked when the spec was read
	return n
}

// VersionOrNone is the version, "" when there is no update section.
func (u *Update) VersionOrNone() string {
	if u == nil {
		return ""
	}
	return u.Version
}

func (d *decoder) update(n ast.Node, fpath string) *Update {
	u := &Update{}
	d.object(n, fpath, fields{
		"version": func(n ast.Node, p string) {
			if s, ok := d.str(n, p); ok {
				if !updatebundle.ValidVersion(s) {
					d.errorf(d.pos(n), p, "%q is not a version: up to 64 letters, digits and . _ + ~ -, starting with a letter or digit", s)
					return
				}
				u.Version = s
			}
		},
		"grace": func(n ast.Node, p string) {
			if s, ok := d.str(n, p); ok {
				g, err := time.ParseDuration(s)
				if err != nil || g < minGrace || g > maxGrace {
					d.errorf(d.pos(n), p, "%q is not a duration from %s to %s (such as \"60s\" or \"2m\")", s, minGrace, maxGrace)
					return
				}
				u.Grace = s
			}
		},
		"slotSize": func(n ast.Node, p string) {
			if s, ok := d.str(n, p); ok {
				b, err := parseSize(s)
				if err != nil || b < minSlot || b > maxSlot {
					d.errorf(d.pos(n), p, "%q is not a size from 16M to 1T (a number with K, M, G or T, powers of 1024, such as \"512M\" or \"2G\")", s)
					return
				}
				u.SlotSize = s
			}
		},
	})
	return u
}

// parseSize reads a byte count with an optional K, M, G or T suffix
// (powers of 1024).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := s
	if k := len(s) - 1; k > 0 {
		if i := strings.IndexByte("KMGT", s[k]); i >= 0 {
			mult, num = int64(1)<<(10*(i+1)), s[:k]
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	return n * mult, nil
}

// mergeUpdate lets each field next gives replace the one of s.
func (s *Spec) mergeUpdate(next *Update) {
	if next == nil {
		return
	}
	if s.Update == nil {
		s.Update = &Update{}
	}
	for _, f := range []struct{ dst, src *string }{
		{&s.Update.Version, &next.Version}, {&s.Update.Grace, &next.Grace}, {&s.Update.SlotSize, &next.SlotSize},
	} {
		if *f.src != "" {
			*f.dst = *f.src
		}
	}
}
