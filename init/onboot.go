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
	ok := true
	for _, name := range bundlesIn(dir) {
		code, err := in.runOnce(ctx, phase, name, filepath.Join(dir, name))
		spec, _ := readSpec(filepath.Join(dir, name))
		if (err != nil || code != 0) && annotation(spec, bundle.AnnotationRequired) == "true" {
			slog.Error(phase+" "+name+" is required and failed", "container", name)
			ok = false
			break
		}
	}
	return ok
}

// runOnce runs one bundle to completion and logs how it ended.
func (in *initSys) runOnce(ctx context.Context, phase, name, dir string) (int, error) {
	out, closeOut := in.outputs.forContainer(name)
	defer closeOut()
	started := time.Now()
	end := in.timeline.begin(phase + " " + name)
	c, err := in.runner.start(phase+"-"+name, dir, out)
	if err != nil {
		end()
		slog.Error(phase+" "+name+" failed to start", "container", name, "err", err)
		return -1, err
	}
	if spec, _ := readSpec(dir); spec != nil {
		if secs, err := strconv.Atoi(annotation(spec, bundle.AnnotationTimeout)); err == nil && secs > 0 {
			timer := time.AfterFunc(time.Duration(secs)*time.Second, func() {
				slog.Warn(phase+" "+name+" timed out", "container", name, "timeout", secs)
				_ = c.signal(unix.SIGKILL)
			})
			defer timer.Stop()
		}
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
