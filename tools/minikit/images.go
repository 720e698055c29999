package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/minikit/minikit/tools/images"
)

// imagesCommand is `minikit images`: the store's images as a table, or as
// JSON with -json.
func imagesCommand(args []string) error {
	fs := flag.NewFlagSet("images", flag.ContinueOnError)
	store := fs.String("store", images.DefaultDir(), "image store directory")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q (usage: minikit images [-json] [-store DIR])", fs.Args())
	}
	st, err := images.Open(*store)
	if err != nil {
		return err
	}
	entries, err := st.List()
	if err != nil {
		return err
	}
	if *asJSON {
		return images.WriteJSON(os.Stdout, entries)
	}
	return images.WriteTable(os.Stdout, entries)
}

// imageImportCommand is `minikit image-import [flags] NAME DIR`: an image of
// DIR's tree, stored as NAME; it prints NAME@DIGEST.
func imageImportCommand(args []string) error {
	fs := flag.NewFlagSet("image-import", flag.ContinueOnError)
	store := fs.String("store", images.DefaultDir(), "image store directory")
	var entrypoint, cmd, env, labels listFlag
	fs.Var(&entrypoint, "entrypoint", `entrypoint: a JSON array ('["/bin/sh","-c"]') or one word per repeated flag`)
	fs.Var(&cmd, "cmd", "default arguments: a JSON array or one word per repeated flag")
	fs.Var(&env, "env", "environment variable K=V (repeatable)")
	fs.Var(&labels, "label", "label K=V (repeatable)")
	workdir := fs.String("workdir", "", "working directory")
	user := fs.String("user", "", "user (and group) to run as")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: minikit image-import [flags] NAME DIR")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return fmt.Errorf("want NAME and DIR, got %d arguments", fs.NArg())
	}
	ref, dir := fs.Arg(0), fs.Arg(1)
	name, err := images.NormalizeName(ref)
	if err != nil {
		return err
	}
	cfg := v1.Config{
		Entrypoint: entrypoint.values,
		Cmd:        cmd.values,
		Env:        env.values,
		WorkingDir: *workdir,
		User:       *user,
	}
	for _, l := range labels.values {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return fmt.Errorf("-label %q: want KEY=VALUE", l)
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[k] = v
	}
	for _, e := range env.values {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return fmt.Errorf("-env %q: want KEY=VALUE", e)
		}
	}
	img, err := images.FromDir(dir, cfg)
	if err != nil {
		return err
	}
	st, err := images.Open(*store)
	if err != nil {
		return err
	}
	if err := st.Add(name, img); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s@%s\n", name, digest)
	return nil
}

// listFlag collects a repeatable flag; a value that is a JSON array adds
// all its strings, so `-entrypoint '["/bin/sh","-c"]'` and
// `-entrypoint /bin/sh -entrypoint -c` mean the same.
type listFlag struct{ values []string }

func (l *listFlag) String() string { return strings.Join(l.values, " ") }

func (l *listFlag) Set(s string) error {
	if strings.HasPrefix(strings.TrimSpace(s), "[") {
		var words []string
		if err := json.Unmarshal([]byte(s), &words); err != nil {
			return fmt.Errorf("not a JSON array of strings: %w", err)
		}
		l.values = append(l.values, words...)
		return nil
	}
	l.values = append(l.values, s)
	return nil
}
