package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/minikit/minikit/internal/bundle"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// bundlesIn lists the bundle directories under dir in lexical order, which
// is the spec's order thanks to the NNN- prefix.
func bundlesIn(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// runToCompletion runs each bundle in dir, one at a time, each until it
// exits or its timeout passes. It reports whether every required entry
// succeeded.
func (in *initSys) runToCompletion(ctx context.Context, phase, dir string) bool {
	for _, name := range bundlesIn(dir) {
		bundleDir := filepath.Join(dir, name)
		spec, _ := bundle.ReadSpec(bundleDir) // a broken one fails to start, and says why
		timeout := 0
		if secs, err := strconv.Atoi(annotation(spec, bundle.AnnotationTimeout)); err == nil && secs > 0 {
			timeout = secs
		}
		code, err := in.runOnce(ctx, phase, name, bundleDir, time.Duration(timeout)*time.Second)
		if (err != nil || code != 0) && annotation(spec, bundle.AnnotationRequired) == "true" {
			slog.Error(phase+" "+name+" is required and failed", "container", name)
			return false
		}
	}
	return true
}

// runOnce runs one bundle to completion, killing it once timeout (if not
// zero) has passed, and logs how it ended.
func (in *initSys) runOnce(ctx context.Context, phase, name, dir string, timeout time.Duration) (int, error) {
	out, closeOut := in.outputs.ForContainer(name)
	defer closeOut()
	started := time.Now()
	end := in.timeline.begin(phase + " " + name)
	c, err := in.runner.start(phase+"-"+name, dir, out)
	if err != nil {
		end()
		slog.Error(phase+" "+name+" failed to start", "container", name, "err", err)
		return -1, err
	}
	if timeout > 0 {
		timer := time.AfterFunc(timeout, func() {
			in.guard.run("timeout of "+name, func() {
				slog.Warn(phase+" "+name+" timed out", "container", name, "timeout", timeout)
				_ = c.signal(unix.SIGKILL)
			})
		})
		defer timer.Stop()
	}
	code, err := c.wait()
	end()
	d := time.Since(started).Round(time.Millisecond)
	slog.Info(phase+" "+name+" exited "+strconv.Itoa(code)+" in "+d.String(),
		"container", name, "exit", code, "duration", d)
	return code, err
}

func annotation(spec *specs.Spec, key string) string {
	if spec == nil {
		return ""
	}
	return spec.Annotations[key]
}
