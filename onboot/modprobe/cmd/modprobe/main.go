// Command modprobe loads kernel modules with their dependencies, for
// onboot entries such as LinuxKit's `command: ["modprobe", "nicvf"]`.
//
// minikit images carry only the modules a spec lists, without modules.dep,
// so this is not kmod's modprobe: dependencies are read from the modules
// themselves with minikit's own rootfs/kmod, as init does at boot.
//
// usage: modprobe [-a] [-d DIR] MODULE [PARAM=VALUE...]
//
//	modprobe -a MODULE...
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/minikit/minikit/rootfs/kmod"
	"golang.org/x/sys/unix"
)

func main() {
	all := flag.Bool("a", false, "load every MODULE named (no parameters)")
	base := flag.String("d", "/", "root holding lib/modules/VERSION")
	flag.Bool("q", false, "accepted for compatibility")
	flag.Bool("v", false, "accepted for compatibility: every load is logged")
	flag.Bool("b", false, "accepted for compatibility")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: modprobe [-a] [-d DIR] MODULE [PARAM=VALUE...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	names, params := flag.Args(), ""
	if !*all {
		names, params = flag.Args()[:1], strings.Join(flag.Args()[1:], " ")
	}
	if err := load(*base, names, params, log); err != nil {
		log.Error("modprobe", "err", err)
		os.Exit(1)
	}
}

// load resolves names in the running kernel's module tree under base and
// inserts them in dependency order; params go to the last module named.
func load(base string, names []string, params string, log *slog.Logger) error {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return err
	}
	dir := filepath.Join(base, "lib/modules", unix.ByteSliceToString(uts.Release[:]))
	idx, err := kmod.NewIndex(dir)
	if err != nil {
		return err
	}
	resolved, err := idx.Resolve(names)
	if err != nil {
		return err
	}
	files, err := modulePaths(dir)
	if err != nil {
		return err
	}
	var paths []string
	for _, m := range resolved {
		p, ok := files[m]
		if !ok {
			return fmt.Errorf("module %s: no file under %s", m, dir)
		}
		paths = append(paths, p)
	}
	if len(paths) == 0 {
		log.Info("built into the kernel; nothing to load", "modules", strings.Join(names, " "))
		return nil
	}
	last := paths[len(paths)-1]
	loader := &kmod.Loader{Logger: log, Insert: func(f *os.File) error {
		p := ""
		if f.Name() == last {
			p = params
		}
		return unix.FinitModule(int(f.Fd()), p, 0)
	}}
	if errs := loader.Load(paths); len(errs) > 0 {
		return fmt.Errorf("%d of %d modules not loaded", len(errs), len(paths))
	}
	return nil
}

// modulePaths maps module names ('-' written '_') to their files.
func modulePaths(dir string) (map[string]string, error) {
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		name := d.Name()
		for _, ext := range []string{".xz", ".gz", ".zst"} {
			name = strings.TrimSuffix(name, ext)
		}
		if stem, ok := strings.CutSuffix(name, ".ko"); ok {
			files[strings.ReplaceAll(stem, "-", "_")] = p
		}
		return nil
	})
	return files, err
}
