package imagespec

import (
	"path"

	"github.com/goccy/go-yaml/ast"

	"github.com/minikit/minikit/init/logship"
	"github.com/minikit/minikit/internal/observe"
)

// observe reads minikit's `observe:` section: where init ships the logs
// and serves the metrics (internal/observe).
func (d *decoder) observe(n ast.Node, fpath string) *observe.Config {
	c := &observe.Config{}
	d.object(n, fpath, fields{
		"logs": func(n ast.Node, p string) {
			d.strs(n, p, func(s string, at position, p string) bool {
				if _, err := logship.ParseDestination(s); err != nil {
					d.errorf(at, p, "%v", err)
					return false
				}
				c.Logs = append(c.Logs, s)
				return true
			})
		},
		"logCA": func(n ast.Node, p string) {
			if s, ok := d.str(n, p); ok {
				if !path.IsAbs(s) || path.Clean(s) != s {
					d.errorf(d.pos(n), p, "%q is not a clean absolute path in the image (put the certificates there with files:)", s)
					return
				}
				c.LogCA = s
			}
		},
		"logQueue": func(n ast.Node, p string) {
			if v, ok := d.integer(n, p, observe.MinLogQueue, observe.MaxLogQueue); ok {
				c.LogQueue = int(v)
			}
		},
		"metrics": func(n ast.Node, p string) {
			if s, ok := d.str(n, p); ok {
				if err := observe.CheckListen(s); err != nil {
					d.errorf(d.pos(n), p, "%v", err)
					return
				}
				c.Metrics = s
			}
		},
	})
	return c
}

// mergeObserve lets next add destinations and replace the other fields.
func (s *Spec) mergeObserve(next *observe.Config) {
	if next == nil {
		return
	}
	if s.Observe == nil {
		s.Observe = &observe.Config{}
	}
	s.Observe.Merge(*next)
}
