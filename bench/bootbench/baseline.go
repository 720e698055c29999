package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/tools/pkgbuild"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/u-root/u-root/pkg/cpio"
)

// What the baseline adds from the host: Debian's static busybox (package
// busybox-static) and Debian's runc (package runc), which is dynamically
// linked, so its shared libraries and their loader come along.
const (
	hostBusybox = "/bin/busybox"
	hostRunc    = "/usr/sbin/runc"
)

// baselineInfo describes what buildBaseline made.
type baselineInfo struct {
	Script   string   `json:"script"`   // the generated /sbin/init
	Added    []string `json:"added"`    // files added from the host
	Replaced string   `json:"replaced"` // the record replaced by the script
}

// buildBaseline writes to out an initrd that is minikit's initrd (in) with
// /sbin/init replaced by the baseline shell script made from template, and
// with busybox, runc and runc's libraries added. Everything else (kernel
// modules, module list, container bundles, /etc, /root/.ssh) is the same
// records, byte for byte. It is compressed as minikit compresses (gzip,
// best compression), so the sizes compare.
func buildBaseline(in, out, template string) (*baselineInfo, error) {
	recs, err := readInitrd(in)
	if err != nil {
		return nil, err
	}
	tmpl, err := os.ReadFile(template)
	if err != nil {
		return nil, err
	}
	byName := map[string]cpio.Record{}
	dirs := map[string]bool{}
	var maxIno uint64
	for _, r := range recs {
		byName[r.Name] = r
		if r.Mode&cpio.S_IFMT == cpio.S_IFDIR {
			dirs[r.Name] = true
		}
		maxIno = max(maxIno, r.Ino)
	}
	if _, ok := byName["sbin/init"]; !ok {
		return nil, fmt.Errorf("%s has no sbin/init: not a minikit initrd?", in)
	}
	script, err := baselineScript(string(tmpl), recs)
	if err != nil {
		return nil, err
	}

	var added []cpio.Record
	ino := maxIno + 1
	addDirs := func(name string) {
		var parents []string
		for d := path.Dir(name); d != "." && d != "/" && !dirs[d]; d = path.Dir(d) {
			parents = append(parents, d)
		}
		for i := len(parents) - 1; i >= 0; i-- {
			r := cpio.Directory(parents[i], 0o755)
			r.Ino, r.NLink = ino, 2
			ino++
			dirs[parents[i]] = true
			added = append(added, r)
		}
	}
	add := func(r cpio.Record) {
		addDirs(r.Name)
		r.Ino, r.NLink = ino, 1
		ino++
		added = append(added, r)
	}
	info := &baselineInfo{Script: script, Replaced: "/sbin/init"}
	addHostFile := func(host, name string) error {
		data, err := os.ReadFile(host) // follows symlinks: the library itself
		if err != nil {
			return err
		}
		add(cpio.StaticRecord(data, cpio.Info{Name: name, Mode: cpio.S_IFREG | 0o755}))
		info.Added = append(info.Added, "/"+name)
		return nil
	}

	if err := pkgbuild.CheckStatic(hostBusybox); err != nil {
		return nil, fmt.Errorf("%w (install Debian's busybox-static)", err)
	}
	if err := addHostFile(hostBusybox, "bin/busybox"); err != nil {
		return nil, err
	}
	applets, err := busyboxApplets()
	if err != nil {
		return nil, err
	}
	for _, a := range applets {
		if _, taken := byName["bin/"+a]; !taken && a != "busybox" {
			add(cpio.Symlink("bin/"+a, "busybox"))
		}
	}
	libs, err := sharedLibraries(hostRunc)
	if err != nil {
		return nil, fmt.Errorf("%w (install Debian's runc)", err)
	}
	if err := addHostFile(hostRunc, "usr/sbin/runc"); err != nil {
		return nil, err
	}
	for _, lib := range libs {
		if err := addHostFile(lib, strings.TrimPrefix(lib, "/")); err != nil {
			return nil, err
		}
	}

	f, err := os.Create(out)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw, err := gzip.NewWriterLevel(bw, gzip.DefaultCompression) // as tools/initrd
	if err != nil {
		return nil, err
	}
	w := cpio.Newc.Writer(zw)
	for _, r := range recs {
		if r.Name == "sbin/init" {
			r = cpio.StaticRecord([]byte(script), r.Info) // same owner and mode
		}
		if err := w.WriteRecord(r); err != nil {
			return nil, fmt.Errorf("%s: %w", r.Name, err)
		}
	}
	for _, r := range added {
		if err := w.WriteRecord(r); err != nil {
			return nil, fmt.Errorf("%s: %w", r.Name, err)
		}
	}
	if err := cpio.WriteTrailer(w); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return info, f.Close()
}

// readInitrd reads every record of a gzip'd newc archive into memory.
func readInitrd(file string) ([]cpio.Record, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(data)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return recs, nil
}

// baselineScript fills the template's @ONBOOT@ and @SERVICES@ lines with
// one block per bundle, in the order minikit's init runs them (sorted by
// name), doing in shell what init does around each start: the runtime
// section's mkdir, cgroups and mounts, and an overlay for a root that is
// not read-only.
func baselineScript(tmpl string, recs []cpio.Record) (string, error) {
	files := map[string]cpio.Record{}
	for _, r := range recs {
		files["/"+r.Name] = r
	}
	blocks := map[string]string{}
	for _, phase := range []struct{ dir, fn, slot string }{
		{bundle.OnbootDir, "onboot", "@ONBOOT@"},
		{bundle.ServicesDir, "service", "@SERVICES@"},
	} {
		var names []string
		for name, r := range files {
			if path.Dir(name) == phase.dir && r.Mode&cpio.S_IFMT == cpio.S_IFDIR {
				names = append(names, path.Base(name))
			}
		}
		sort.Strings(names)
		var b strings.Builder
		for _, name := range names {
			dir := phase.dir + "/" + name
			block, err := bundleBlock(files, phase.fn, name, dir)
			if err != nil {
				return "", fmt.Errorf("%s: %w", dir, err)
			}
			b.WriteString(block)
		}
		blocks[phase.slot] = strings.TrimRight(b.String(), "\n")
	}
	out := tmpl
	for slot, block := range blocks {
		if !strings.Contains(out, "\n"+slot+"\n") {
			return "", fmt.Errorf("the baseline template lacks a %s line", slot)
		}
		out = strings.Replace(out, "\n"+slot+"\n", "\n"+block+"\n", 1)
	}
	return out, nil
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=,+@%-]+$`)

func quote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func bundleBlock(files map[string]cpio.Record, fn, name, dir string) (string, error) {
	var spec specs.Spec
	if err := json.Unmarshal(recordBytes(files[dir+"/config.json"]), &spec); err != nil {
		return "", fmt.Errorf("config.json: %w", err)
	}
	if spec.Root == nil {
		return "", errors.New("config.json has no root")
	}
	if spec.Root.Path != "rootfs" {
		return "", fmt.Errorf("root path %q: the baseline expects \"rootfs\"", spec.Root.Path)
	}
	var rt bundle.Runtime
	if r, ok := files[dir+"/runtime.json"]; ok {
		if err := json.Unmarshal(recordBytes(r), &rt); err != nil {
			return "", fmt.Errorf("runtime.json: %w", err)
		}
	}
	if rt.BindNS != (bundle.Namespaces{}) || len(rt.Interfaces) > 0 || rt.Namespace != "" {
		return "", errors.New("runtime.json asks for namespaces or interfaces, which the baseline script does not do")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", dir)
	for _, d := range rt.Mkdir {
		fmt.Fprintf(&b, "mkdir -p %s\n", quote(d))
	}
	for _, cg := range rt.Cgroups {
		fmt.Fprintf(&b, "mkdir -p %s\n", quote(path.Join("/sys/fs/cgroup", cg)))
	}
	for _, m := range rt.Mounts {
		var opts, prop []string
		for _, o := range m.Options {
			switch o {
			case "shared", "rshared", "private", "rprivate", "slave", "rslave":
				prop = append(prop, o)
			default:
				opts = append(opts, o)
			}
		}
		fmt.Fprintf(&b, "mkdir -p %s\n", quote(m.Destination))
		cmd := "mount"
		if m.Type != "" && m.Type != "bind" {
			cmd += " -t " + quote(m.Type)
		}
		if len(opts) > 0 {
			cmd += " -o " + quote(strings.Join(opts, ","))
		}
		fmt.Fprintf(&b, "%s %s %s\n", cmd, quote(m.Source), quote(m.Destination))
		for _, p := range prop {
			fmt.Fprintf(&b, "mount --make-%s %s\n", p, quote(m.Destination))
		}
	}
	if !spec.Root.Readonly {
		fmt.Fprintf(&b, "writable %s %s\n", quote(name), quote(dir))
	}
	fmt.Fprintf(&b, "%s %s %s\n", fn, quote(name), quote(dir))
	return b.String(), nil
}

func recordBytes(r cpio.Record) []byte {
	if r.ReaderAt == nil {
		return nil
	}
	data, _ := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
	return data
}

// busyboxApplets lists the applets of the host's busybox.
func busyboxApplets() ([]string, error) {
	out, err := exec.Command(hostBusybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", hostBusybox, err)
	}
	return strings.Fields(string(out)), nil
}

// sharedLibraries lists, as absolute paths, the libraries ldd says file
// needs, and its loader.
func sharedLibraries(file string) ([]string, error) {
	if err := pkgbuild.CheckStatic(file); err == nil {
		return nil, nil
	} else if _, statErr := os.Stat(file); statErr != nil {
		return nil, statErr
	}
	out, err := exec.Command("ldd", file).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", file, err)
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		// "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or
		// "/lib64/ld-linux-x86-64.so.2 (0x…)"; linux-vdso has no file.
		fields := strings.Fields(line)
		for i, f := range fields {
			if strings.HasPrefix(f, "/") && (i == 0 || fields[i-1] == "=>") {
				libs = append(libs, f)
			}
		}
	}
	if len(libs) == 0 {
		return nil, fmt.Errorf("ldd %s named no libraries", file)
	}
	return libs, nil
}
