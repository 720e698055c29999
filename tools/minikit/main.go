// Command minikit builds small immutable Linux systems from LinuxKit-style
// YAML specs and boots them in qemu.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
)

const usage = `minikit builds small, immutable Linux systems whose services are containers.

Usage:
  minikit build [-o DIR] [-format F] FILE.yml...    build kernel, initrd, ISO or disk images
  minikit run [flags] DIR/NAME|IMAGE                boot a built image in qemu
  minikit run -stop STATEDIR                        power off a detached machine
  minikit validate FILE.yml...                      check specs and print every error
  minikit images                                    list the local image store
  minikit image-import [flags] NAME DIR             make an image from a directory
  minikit pkg build [-force] DIR...                 build component images from recipes
  minikit key generate NAME                         make NAME.key and NAME.pub to sign updates with

Run "minikit COMMAND -h" for a command's flags.
`

var commands = map[string]func([]string) error{
	"build":        buildCommand,
	"run":          runCommand,
	"validate":     validateCommand,
	"images":       imagesCommand,
	"image-import": imageImportCommand,
	"pkg":          pkgCommand,
	"key":          keyCommand,
}

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		fmt.Print(usage)
		return
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "minikit: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err := cmd(os.Args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "minikit %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
