// Command busybox-links is a recipe hook: it links every applet of the
// static busybox in an image tree to it, as `busybox --install` would on
// the running system, so that /bin/sh, getty and login exist without a
// shell at build time. What the tree already has at an applet's path (a
// real program from a Debian package) is left alone.
//
// usage: busybox-links ROOT [BUSYBOX]   (BUSYBOX defaults to /bin/busybox)
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"strings"
)

func main() {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: busybox-links ROOT [BUSYBOX]")
		os.Exit(2)
	}
	busybox := "/bin/busybox"
	if len(os.Args) == 3 {
		busybox = os.Args[2]
	}
	n, err := link(os.Args[1], busybox)
	if err != nil {
		fmt.Fprintln(os.Stderr, "busybox-links:", err)
		os.Exit(1)
	}
	fmt.Printf("linked %d applets to %s\n", n, busybox)
}

// link makes a symlink to busybox for each applet the binary lists.
func link(rootDir, busybox string) (int, error) {
	root, err := os.OpenRoot(rootDir)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	real, err := resolve(root, busybox)
	if err != nil {
		return 0, fmt.Errorf("find %s in %s: %w", busybox, rootDir, err)
	}
	// The image's busybox is static, so the build host can run it to ask.
	var stderr bytes.Buffer
	cmd := exec.Command(rootDir+"/"+real, "--list-full")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("%s --list-full: %w: %s", busybox, err, stderr.String())
	}
	n := 0
	for _, applet := range strings.Fields(string(out)) {
		p := path.Clean(applet)
		if path.Base(p) == "busybox" {
			continue
		}
		if _, err := root.Lstat(p); err == nil {
			continue // a real program, or a link already made
		}
		if err := root.MkdirAll(path.Dir(p), 0o755); err != nil {
			return n, fmt.Errorf("applet %s: %w", p, err)
		}
		if err := root.Symlink(busybox, p); err != nil && !errors.Is(err, fs.ErrExist) {
			return n, fmt.Errorf("applet %s: %w", p, err)
		}
		n++
	}
	return n, nil
}

// resolve follows the symlinks of p inside root, where an absolute target
// starts at root, and returns the path it names relative to root.
func resolve(root *os.Root, p string) (string, error) {
	cur := strings.TrimPrefix(path.Clean(p), "/")
	for i := 0; i < 40; i++ {
		target, err := root.Readlink(cur)
		if err != nil {
			if _, serr := root.Lstat(cur); serr != nil {
				return "", serr
			}
			return cur, nil // not a symlink: found
		}
		if path.IsAbs(target) {
			cur = strings.TrimPrefix(path.Clean(target), "/")
		} else {
			cur = path.Join(path.Dir(cur), target)
		}
	}
	return "", errors.New("too many levels of symbolic links")
}
