package pkgbuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
)

// goBuild builds a package of this module into out as a static,
// reproducible binary: no cgo, no paths of the build machine, no symbol
// tables, and no VCS stamp, whose commit id would change the binary (and
// so the recipe hash) at every commit. dir is where a relative package is
// found. forHost builds for the machine running the build (hooks) instead
// of the image's linux/amd64.
func goBuild(ctx context.Context, dir, pkg, out string, forHost bool) error {
	cmd := exec.CommandContext(ctx, goTool(), "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = dir
	goos, goarch := "linux", "amd64"
	if forHost {
		goos, goarch = runtime.GOOS, runtime.GOARCH
	}
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
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
