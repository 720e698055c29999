package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	imagespec "github.com/minikit/minikit/image-spec"
	"github.com/minikit/minikit/tools/images"
	"github.com/minikit/minikit/tools/packer"
)

func buildCommand(args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	out := fs.String("o", ".", "output directory")
	name := fs.String("name", "", "output name (default: the first spec's base name)")
	store := fs.String("store", images.DefaultDir(), "image store directory")
	compression := fs.String("compression", "gzip", "initrd compression: gzip or zstd")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("no spec file given (usage: minikit build [-o DIR] FILE.yml...)")
	}
	spec, warnings, err := imagespec.ParseFiles(fs.Args()...)
	for _, w := range warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	if err != nil {
		return err
	}
	if *name == "" {
		base := filepath.Base(fs.Arg(0))
		*name = strings.TrimSuffix(strings.TrimSuffix(base, ".yml"), ".yaml")
	}
	st, err := images.Open(*store)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := packer.Build(ctx, packer.Options{
		Spec:        spec,
		Name:        *name,
		OutDir:      *out,
		Store:       st,
		CacheDir:    filepath.Join(*store, "cache"),
		Compression: *compression,
		Log:         slog.Default(),
	})
	if err != nil {
		return err
	}
	for _, p := range []string{res.Kernel, res.Initrd, res.Cmdline} {
		fmt.Println(p)
	}
	return nil
}
