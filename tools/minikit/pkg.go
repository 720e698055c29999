package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"

	"github.com/minikit/minikit/tools/images"
	"github.com/minikit/minikit/tools/pkgbuild"
)

// pkgCommand is `minikit pkg build [flags] DIR...`: each DIR's build.yml
// built into the image store, or left alone when the store already has
// the image its inputs make.
func pkgCommand(args []string) error {
	if len(args) == 0 || args[0] != "build" {
		return errors.New("usage: minikit pkg build [-store DIR] [-debs DIR] [-force] DIR...")
	}
	fs := flag.NewFlagSet("pkg build", flag.ContinueOnError)
	store := fs.String("store", images.DefaultDir(), "image store directory")
	debs := fs.String("debs", pkgbuild.DefaultDebCache(), "cache of downloaded Debian packages")
	maxUnpack := maxUnpackFlag(fs, "one Debian package")
	force := fs.Bool("force", false, "build even when the store holds an image with the same recipe hash")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: minikit pkg build [flags] DIR...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no recipe directory given")
	}
	// Read every recipe first: a typo in the last one should not wait for
	// the first to build.
	var recipes []*pkgbuild.Recipe
	var errs []error
	for _, dir := range fs.Args() {
		r, err := pkgbuild.Load(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		recipes = append(recipes, r)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	st, err := images.Open(*store)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	for _, r := range recipes {
		res, err := pkgbuild.Build(ctx, r, pkgbuild.Options{Store: st, DebCache: *debs, Force: *force, MaxUnpackBytes: int64(*maxUnpack), Log: slog.Default()})
		if err != nil {
			return explainUnpackLimit(err)
		}
		state := "built"
		if res.UpToDate {
			state = "up to date"
		}
		fmt.Printf("%s@%s %s\n", res.Ref, res.Digest, state)
	}
	return nil
}
