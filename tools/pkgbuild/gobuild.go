package pkgbuild

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
)

// goBuild builds a package of this module into out as a static,
// reproducible binary: no paths of the build machine, no symbol tables,
// and no VCS stamp, whose commit id would change the binary (and so the
// recipe hash) at every commit. Without cgo it is pure Go; with cgo the C
// parts are linked statically, with Go's own resolver and user lookup
// (netgo, osusergo) since glibc's would load shared libraries at run
// time. tags are added to those; vars are set with -X. dir is where a
// relative package is found.
// forHost builds for the machine running the build (hooks) instead of the
// image's linux/amd64.
func goBuild(ctx context.Context, dir, pkg, out string, cgo, forHost bool, vars map[string]string, tags ...string) error {
	goos, goarch := "linux", "amd64"
	if forHost {
		goos, goarch = runtime.GOOS, runtime.GOARCH
	}
	ldflags := "-ldflags=-s -w"
	cgoEnabled := "CGO_ENABLED=0"
	if cgo {
		if runtime.GOOS != goos || runtime.GOARCH != goarch {
			return fmt.Errorf("go build %s: cgo needs a %s/%s build machine, not %s/%s", pkg, goos, goarch, runtime.GOOS, runtime.GOARCH)
		}
		tags = append([]string{"netgo", "osusergo"}, tags...)
		ldflags += " -extldflags -static"
		cgoEnabled = "CGO_ENABLED=1"
	}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		ldflags += " -X " + k + "=" + vars[k]
	}
	args := []string{"build", "-trimpath", "-buildvcs=false", ldflags}
	if len(tags) > 0 {
		args = append(args, "-tags="+strings.Join(tags, ","))
	}
	args = append(args, "-o", out, pkg)
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), cgoEnabled, "GOOS="+goos, "GOARCH="+goarch)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w: %s", pkg, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

// goTool is the go command: $GO when set (as the Makefile sets it), else
// go from PATH.
func goTool() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}
