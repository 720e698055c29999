// Command kernel-layout is the kernel recipe's hook: it turns the tree
// Debian's linux-image package unpacked into the layout of a LinuxKit
// kernel image, which `minikit build` reads:
//
//	/kernel      the bzImage (boot/vmlinuz-VERSION)
//	/kernel.tar  the modules, as lib/modules/VERSION/... entries
//	/System.map  and /config, for debugging and for tools that ask
//
// The tarball is reproducible: entries in name order, owned by root, with
// a fixed time, so an unchanged package gives an unchanged image.
//
// usage: kernel-layout ROOT
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kernel-layout ROOT")
		os.Exit(2)
	}
	version, err := layout(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "kernel-layout:", err)
		os.Exit(1)
	}
	fmt.Println("laid out kernel", version)
}

func layout(root string) (string, error) {
	kernels, err := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if err != nil || len(kernels) != 1 {
		return "", fmt.Errorf("want one boot/vmlinuz-* in %s, found %d", root, len(kernels))
	}
	version := strings.TrimPrefix(filepath.Base(kernels[0]), "vmlinuz-")
	modules := ""
	for _, dir := range []string{"lib/modules", "usr/lib/modules"} {
		if fi, err := os.Stat(filepath.Join(root, dir, version)); err == nil && fi.IsDir() {
			modules = dir
			break
		}
	}
	if modules == "" {
		return "", fmt.Errorf("no lib/modules/%s in %s", version, root)
	}
	if err := writeModulesTar(filepath.Join(root, "kernel.tar"), filepath.Join(root, modules), version); err != nil {
		return "", err
	}
	for from, to := range map[string]string{
		"vmlinuz-" + version:    "kernel",
		"System.map-" + version: "System.map",
		"config-" + version:     "config",
	} {
		if err := os.Rename(filepath.Join(root, "boot", from), filepath.Join(root, to)); err != nil {
			return "", err
		}
	}
	for _, dir := range []string{"boot", modules} {
		if err := os.RemoveAll(filepath.Join(root, dir)); err != nil {
			return "", err
		}
	}
	// Directories the modules leave empty.
	for _, dir := range []string{"lib", "usr/lib"} {
		_ = os.Remove(filepath.Join(root, dir))
	}
	return version, nil
}
