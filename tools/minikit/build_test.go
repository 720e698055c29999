package main

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minikit/minikit/tools/packer"
)

// parseBuild parses a minikit build command line as buildCommand does and
// returns what it would build, or the error it would stop with.
func parseBuild(t *testing.T, args ...string) (packer.Options, *buildFlags, error) {
	t.Helper()
	var f buildFlags
	fs := newBuildFlagSet(&f)
	fs.SetOutput(&bytes.Buffer{})
	if err := fs.Parse(joinVerbose(args)); err != nil {
		return packer.Options{}, &f, err
	}
	opts, err := f.options(fs.Args())
	return opts, &f, err
}

// LinuxKit's scripts call linuxkit build with LinuxKit's spellings; each
// means here what it means there.
func TestBuildTakesLinuxKitsFlags(t *testing.T) {
	formats := func(fs ...packer.Format) []packer.Format { return fs }
	tests := []struct {
		name    string
		args    []string
		formats []packer.Format
		outDir  string
		outName string
		size    int64
	}{
		{"the default is kernel+initrd here, named after the spec", []string{"dir/spec.yml"}, nil, ".", "spec", 0},
		{"the name is the last spec's, without its extension", []string{"base.yml", "more/extra.yaml"}, nil, ".", "extra", 0},
		{"-format takes one format a flag, repeated", []string{"-format", "iso-efi", "-format", "raw-bios", "s.yml"}, formats(packer.ISOEFI, packer.RawBIOS), ".", "s", 0},
		{"-format takes a comma list", []string{"-format", "iso-efi,raw-bios", "s.yml"}, formats(packer.ISOEFI, packer.RawBIOS), ".", "s", 0},
		{"--format with two dashes, and -f", []string{"--format", "vhd", "-f", "vmdk", "s.yml"}, formats(packer.VHD, packer.VMDK), ".", "s", 0},
		{"--dir is the output directory", []string{"--dir", "dist/", "--name", "web", "s.yml"}, nil, "dist/", "web", 0},
		{"-o DIR is the output directory", []string{"-o", "out", "s.yml"}, nil, "out", "s", 0},
		{"-o and -dir may agree", []string{"-o", "out", "-dir", "out/", "s.yml"}, nil, "out", "s", 0},
		{"-o FILE.tar is LinuxKit's file, tar by default", []string{"--o", "build/x-1.tar", "s.yml"}, formats(packer.Tar), "build", "x-1", 0},
		{"-o FILE.tar with the tar format", []string{"--format", "tar", "-o", "x.tar", "s.yml"}, formats(packer.Tar), ".", "x", 0},
		{"-size in M", []string{"-size", "1024M", "-format", "aws", "s.yml"}, formats(packer.AWS), ".", "s", 1 << 30},
		{"-size in G", []string{"--size", "4G", "s.yml"}, nil, ".", "s", 4 << 30},
		{"-size bare is GiB, as LinuxKit reads it", []string{"-size", "2", "s.yml"}, nil, ".", "s", 2 << 30},
		{"-disable-content-trust and -pull are taken", []string{"-disable-content-trust", "--pull", "s.yml"}, nil, ".", "s", 0},
		{"-arch x86_64 is amd64", []string{"-arch", "x86_64", "s.yml"}, nil, ".", "s", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, _, err := parseBuild(t, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(opts.Formats, tt.formats) || opts.OutDir != tt.outDir || opts.Name != tt.outName || opts.DiskSize != tt.size {
				t.Errorf("minikit build %q builds %v into %s/%s of size %d; want %v into %s/%s of size %d",
					tt.args, opts.Formats, opts.OutDir, opts.Name, opts.DiskSize, tt.formats, tt.outDir, tt.outName, tt.size)
			}
		})
	}
}

func TestBuildFlagsThatChangeTheBuild(t *testing.T) {
	opts, f, err := parseBuild(t, "-v", "2", "--no-sbom", "--pull", "s.yml")
	if err != nil {
		t.Fatal(err)
	}
	if f.logLevel() != slog.LevelDebug || opts.SBOM || !f.pull {
		t.Errorf("-v 2 --no-sbom --pull: log level %v, SBOM %v, pull %v; want debug, no SBOM, pull", f.logLevel(), opts.SBOM, f.pull)
	}
	for args, want := range map[string]slog.Level{"-v s.yml": slog.LevelDebug, "-q s.yml": slog.LevelWarn, "-v 0 s.yml": slog.LevelWarn, "s.yml": slog.LevelInfo} {
		_, f, err := parseBuild(t, strings.Fields(args)...)
		if err != nil || f.logLevel() != want {
			t.Errorf("%s: log level %v (%v), want %v", args, f.logLevel(), err, want)
		}
	}
	opts, _, err = parseBuild(t, "-o", "-", "more/s.yml")
	if err != nil || opts.SBOM || opts.Name != "s" || !slices.Equal(opts.Formats, []packer.Format{packer.Tar}) {
		t.Errorf("-o -: %+v (%v); want the tar of s, no SBOM", opts, err)
	}
}

// Flags that make no sense here, or a mix that does not, stop the build
// at once with an error that names the flag and says why.
func TestBuildRefusesWhatItCannotDo(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--docker", "--format", "kernel+initrd", "s.yml"}, "-docker: minikit does not read Docker's image store: save the image (docker save -o FILE.tar IMAGE) and name it docker-archive:FILE.tar"},
		{[]string{"--input-tar", "x-1.tar", "--o", "x-2.tar", "s.yml"}, "-input-tar: minikit does not update an earlier build's tar"},
		{[]string{"-decompress-kernel", "s.yml"}, "-decompress-kernel: minikit's kernel is a bzImage"},
		{[]string{"--cache", "/var/cache/linuxkit", "s.yml"}, "-cache: minikit keeps images in its own store"},
		{[]string{"--sbom-output", "sbom.json", "s.yml"}, "-sbom-output: minikit writes the SBOM beside the outputs"},
		{[]string{"--sbom-current-time", "s.yml"}, "-sbom-current-time: the SBOM's time is SOURCE_DATE_EPOCH's"},
		{[]string{"--mirror", "docker.io=http://m", "s.yml"}, "-mirror: minikit pulls from the registry an image names"},
		{[]string{"--cert-file", "ca.pem", "s.yml"}, "-cert-file: minikit uses the system's certificates"},
		{[]string{"-arch", "arm64", "s.yml"}, "-arch arm64: minikit builds for amd64 (x86_64) only"},
		{[]string{"-format", "rpi3", "s.yml"}, "format rpi3 is LinuxKit's, which minikit does not write"},
		{[]string{"-size", "10X", "s.yml"}, `"10X": want a size such as 1024M or 2G`},
		{[]string{"-o", "x.tar", "-format", "iso-bios", "s.yml"}, "-o x.tar names a file, which takes the tar format alone"},
		{[]string{"-o", "x.tar", "-name", "y", "s.yml"}, "-o x.tar names the tar file to write, as LinuxKit's -o does, which takes neither -name nor -dir"},
		{[]string{"-o", "a", "-dir", "b", "s.yml"}, "-o a and -dir b: give one output directory"},
		{[]string{"-format", "iso-efi"}, "no spec file given"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := parseBuild(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one that says %q", err, tt.want)
			}
		})
	}
}

func TestBuildDryRunPrintsTheMergedSpec(t *testing.T) {
	dir := t.TempDir()
	a := writeSpec(t, dir, "a.yml", "kernel:\n  image: minikit/kernel:6.1\n  cmdline: console=ttyS0\nservices:\n  - {name: web, image: nginx}\n")
	b := writeSpec(t, dir, "b.yml", "kernel:\n  cmdline: console=tty0\nservices:\n  - {name: db, image: postgres}\n")
	var out bytes.Buffer
	if err := runBuild([]string{"--dry-run", "-o", filepath.Join(dir, "out"), a, b}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cmdline: console=tty0", "name: web", "name: db", "image: postgres"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-dry-run printed:\n%s\nwant %q in it", out.String(), want)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "out")); len(m) != 0 {
		t.Error("-dry-run made the output directory")
	}
}
