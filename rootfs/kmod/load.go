package kmod

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Loader inserts modules into the running kernel at boot. The zero Loader
// reads modules from / and inserts them with finit_module(2); tests set
// Root and Insert so they never touch the real kernel.
type Loader struct {
	// Root is prefixed to every module path; "" means /.
	Root string
	// Insert loads one open, uncompressed module into the kernel. Nil
	// means finit_module(fd, "", 0). An error wrapping syscall.EEXIST
	// means the module is already loaded, which counts as success.
	Insert func(f *os.File) error
	// Logger receives one record per module; nil means slog.Default().
	Logger *slog.Logger
	// Parallel bounds the modules of a List loading at once; 0 means one
	// a CPU. The kernel checks, links and initialises each module in the
	// loading process's own time, so two load side by side on two CPUs.
	Parallel int
}

// Load inserts the modules at paths in order. A module that is missing or
// that the kernel refuses is logged and skipped, and loading goes on: one
// bad driver must not stop the boot. It returns one error per module that
// failed, each naming the module, or nil when all loaded.
func (l *Loader) Load(paths []string) []error {
	var errs []error
	for _, p := range paths {
		if err := l.loadLogged(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// LoadList loads the modules of list, each once those it needs have
// loaded or failed, the others side by side. A module that is missing or
// that the kernel refuses is logged and skipped, as with Load; what needs
// it is still tried, and fails on its own account. It returns one error
// per module that failed, in the list's order, or nil.
func (l *Loader) LoadList(list *List) []error {
	parallel := l.Parallel
	if parallel <= 0 {
		parallel = runtime.NumCPU()
	}
	// A module waits only for modules before it, which never wait for it:
	// no cycle can form, and a module holds a slot only while it loads.
	slots := make(chan struct{}, parallel)
	done := make([]chan struct{}, len(list.Paths))
	errs := make([]error, len(list.Paths))
	var wg sync.WaitGroup
	for i, p := range list.Paths {
		done[i] = make(chan struct{})
		needs := list.Needs(i)
		wg.Go(func() {
			defer close(done[i])
			for _, n := range needs {
				<-done[n]
			}
			slots <- struct{}{}
			defer func() { <-slots }()
			errs[i] = l.loadLogged(p)
		})
	}
	wg.Wait()
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	return failed
}

// loadLogged loads the module at path and logs how it went; a module the
// kernel has already is no error.
func (l *Loader) loadLogged(path string) error {
	log := l.Logger
	if log == nil {
		log = slog.Default()
	}
	insert := l.Insert
	if insert == nil {
		insert = finitModule
	}
	start := time.Now()
	err := l.loadOne(path, insert)
	switch {
	case errors.Is(err, syscall.EEXIST):
		log.Debug("module already loaded", "module", path)
		return nil
	case err != nil:
		log.Error("module not loaded", "module", path, "err", err)
		return err
	}
	log.Info("module loaded", "module", path, "duration", time.Since(start))
	return nil
}

func (l *Loader) loadOne(path string, insert func(*os.File) error) error {
	f, err := os.Open(filepath.Join(l.Root, path))
	if err != nil {
		return fmt.Errorf("load module %s: %w", path, err)
	}
	defer f.Close()
	if err := insert(f); err != nil {
		return fmt.Errorf("load module %s: %w", path, err)
	}
	return nil
}

// A List is a modules list as the packer writes it (bundle.ModulesList):
// the modules in a load order, each after the modules it needs, and what
// each needs, so that the others can load side by side.
//
// Its file has a module a line, as modules.dep: "PATH: NEEDED NEEDED",
// each needed path listed on an earlier line, or "PATH:" for a module
// that needs none. A line that is a bare "PATH" needs every module before
// it, which is how a list written without what each needs loads: one by
// one, in order. Blank lines and lines starting with # are ignored.
type List struct {
	Paths []string
	needs [][]int // of each path, the indexes of the earlier ones it needs; nil: all of them
}

// Needs returns the indexes in l.Paths of the modules that must be loaded
// before the one at index i.
func (l *List) Needs(i int) []int {
	if l.needs == nil || l.needs[i] == nil {
		all := make([]int, i)
		for j := range all {
			all[j] = j
		}
		return all
	}
	return l.needs[i]
}

// ReadList reads a modules list such as bundle.ModulesList. A missing file
// is an error wrapping fs.ErrNotExist, so a caller can treat "no list" as
// "no modules"; a line that names a needed module not listed before it is
// an error naming the line.
func ReadList(path string) (*List, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read module list: %w", err)
	}
	l := &List{}
	index := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		module, needed, explicit := strings.Cut(line, ":")
		module = strings.TrimSpace(module)
		if _, dup := index[module]; dup {
			return nil, fmt.Errorf("read module list %s, line %d: %s is listed twice", path, n, module)
		}
		var needs []int
		if explicit {
			needs = []int{} // none, unless named
			for _, dep := range strings.Fields(needed) {
				i, ok := index[dep]
				if !ok {
					return nil, fmt.Errorf("read module list %s, line %d: %s needs %s, which no line before it lists", path, n, module, dep)
				}
				needs = append(needs, i)
			}
		}
		index[module] = len(l.Paths)
		l.Paths = append(l.Paths, module)
		l.needs = append(l.needs, needs)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read module list %s: %w", path, err)
	}
	return l, nil
}

// FormatList is the content of a modules list for paths, in load order,
// as ReadList reads it back: needs maps a path to the paths before it
// that it needs. One that needs a path not before it, or that is listed
// twice, is an error: that list could not load.
func FormatList(paths []string, needs map[string][]string) ([]byte, error) {
	var b bytes.Buffer
	seen := map[string]bool{}
	for _, p := range paths {
		if seen[p] {
			return nil, fmt.Errorf("module list: %s is listed twice", p)
		}
		b.WriteString(p)
		b.WriteByte(':')
		for _, dep := range needs[p] {
			if !seen[dep] {
				return nil, fmt.Errorf("module list: %s needs %s, which is not listed before it", p, dep)
			}
			b.WriteByte(' ')
			b.WriteString(dep)
		}
		b.WriteByte('\n')
		seen[p] = true
	}
	return b.Bytes(), nil
}
