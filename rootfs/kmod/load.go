package kmod

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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
}

// Load inserts the modules at paths in order. A module that is missing or
// that the kernel refuses is logged and skipped, and loading goes on: one
// bad driver must not stop the boot. It returns one error per module that
// failed, each naming the module, or nil when all loaded.
func (l *Loader) Load(paths []string) []error {
	log := l.Logger
	if log == nil {
		log = slog.Default()
	}
	insert := l.Insert
	if insert == nil {
		insert = finitModule
	}
	var errs []error
	for _, p := range paths {
		start := time.Now()
		err := l.loadOne(p, insert)
		switch {
		case errors.Is(err, syscall.EEXIST):
			log.Debug("module already loaded", "module", p)
		case err != nil:
			log.Error("module not loaded", "module", p, "err", err)
			errs = append(errs, err)
		default:
			log.Info("module loaded", "module", p, "duration", time.Since(start))
		}
	}
	return errs
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

// ReadList reads a modules list such as bundle.ModulesList: one module
// path a line, in load order; blank lines and lines starting with # are
// ignored. A missing file is an error wrapping fs.ErrNotExist, so a caller
// can treat "no list" as "no modules".
func ReadList(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read module list: %w", err)
	}
	var paths []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		paths = append(paths, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read module list %s: %w", path, err)
	}
	return paths, nil
}

// FormatList is the content of a modules list for paths, as ReadList
// reads it back: one path a line.
func FormatList(paths []string) []byte {
	var b bytes.Buffer
	for _, p := range paths {
		b.WriteString(p)
		b.WriteByte('\n')
	}
	return b.Bytes()
}
