package kmod

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/minikit/minikit/internal/testenv"
)

func TestReadInfo(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		modinfo []string
		want    Info
	}{
		{
			name: "all fields are read and the rest ignored",
			file: "virtio_net.ko",
			modinfo: []string{
				"license=GPL", "alias=virtio:d00000001v*", "depends=virtio_ring,virtio,net_failover",
				"retpoline=Y", "intree=Y", "name=virtio_net", "vermagic=6.1.0 SMP mod_unload",
			},
			want: Info{Name: "virtio_net", Depends: []string{"virtio_ring", "virtio", "net_failover"}, Aliases: []string{"virtio:d00000001v*"}},
		},
		{
			name:    "empty depends means no dependencies",
			file:    "failover.ko",
			modinfo: []string{"depends=", "name=failover"},
			want:    Info{Name: "failover"},
		},
		{
			name:    "softdep keeps only pre modules",
			file:    "ext4.ko",
			modinfo: []string{"softdep=pre: crypto-crc32c", "softdep=pre: a b post: c", "depends=jbd2,mbcache,crc16", "name=ext4"},
			want:    Info{Name: "ext4", Depends: []string{"jbd2", "mbcache", "crc16"}, SoftdepPre: []string{"crypto_crc32c", "a", "b"}},
		},
		{
			name:    "softdep words before pre: or post: are ignored, as modprobe does",
			file:    "cifs.ko",
			modinfo: []string{"softdep=gcm", "softdep=ccm pre: arc4", "name=cifs"},
			want:    Info{Name: "cifs", SoftdepPre: []string{"arc4"}},
		},
		{
			name:    "without name= the file name names the module, dashes normalised",
			file:    "virtio-rng.ko",
			modinfo: []string{"license=GPL"},
			want:    Info{Name: "virtio_rng"},
		},
		{
			name:    "gzip-compressed modules are read",
			file:    "overlay.ko.gz",
			modinfo: []string{"alias=fs-overlay", "name=overlay", "depends="},
			want:    Info{Name: "overlay", Aliases: []string{"fs-overlay"}},
		},
		{
			name:    "zstd-compressed modules are read",
			file:    "e1000.ko.zst",
			modinfo: []string{"name=e1000", "alias=pci:v00008086d0000100Esv*sd*bc*sc*i*"},
			want:    Info{Name: "e1000", Aliases: []string{"pci:v00008086d0000100Esv*sd*bc*sc*i*"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			writeModule(t, path, tt.modinfo...)
			got, err := ReadInfo(path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("ReadInfo(%s) = %+v, want %+v", tt.file, *got, tt.want)
			}
		})
	}
}

func TestReadInfoRejectsBadModules(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		content []byte // nil: a module with modinfo below
		modinfo []string
		wantErr string
	}{
		{name: "a missing file", file: "absent.ko", wantErr: "no such file"},
		{name: "a file that is not ELF", file: "text.ko", content: []byte("hello, world\n"), wantErr: "text.ko"},
		{name: "a compressed file that is not ELF inside", file: "text.ko.gz", content: compress(t, "x.ko.gz", []byte("hello")), wantErr: "not an ELF file"},
		{name: "an ELF file without .modinfo", file: "plain.ko", content: stripModinfo(moduleELF(nil)), wantErr: "no .modinfo section"},
		{name: "an entry without '='", file: "bad.ko", modinfo: []string{"name=bad", "garbage"}, wantErr: `"garbage"`},
		{name: "an xz-compressed module", file: "x.ko.xz", modinfo: []string{"name=x"}, wantErr: "xz-compressed modules are not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			switch {
			case tt.content != nil:
				if err := os.WriteFile(path, tt.content, 0o644); err != nil {
					t.Fatal(err)
				}
			case tt.modinfo != nil:
				writeModule(t, path, tt.modinfo...)
			}
			_, err := ReadInfo(path)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ReadInfo(%s) error = %v, want one containing %q", tt.file, err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.file) {
				t.Errorf("error %q does not name the file %s", err, tt.file)
			}
		})
	}
}

// stripModinfo renames the .modinfo section of a moduleELF object, so it
// is a valid ELF file that is not a module.
func stripModinfo(obj []byte) []byte {
	return []byte(strings.Replace(string(obj), "\x00.modinfo\x00", "\x00.mod_nfo\x00", 1))
}

// TestReadInfoOfCompiledObject checks the parser against what a real
// toolchain emits, since MODULE_INFO is only a string in a section.
func TestReadInfoOfCompiledObject(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		testenv.Unavailable(t, testenv.RequireRootEnv, "gcc not installed: cannot compile a test object")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "dummy.c")
	code := `
#define MODINFO(tag, n, s) static const char tag##n[] __attribute__((section(".modinfo"), used, aligned(1))) = s
MODINFO(info, 1, "license=GPL");
MODINFO(info, 2, "softdep=pre: crc32c");
MODINFO(info, 3, "alias=fs-dummy");
MODINFO(info, 4, "depends=mbcache,jbd2");
MODINFO(info, 5, "name=dummy_fs");
int dummy_init(void) { return 0; }
`
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(dir, "dummy-fs.ko")
	if out, err := exec.Command(gcc, "-c", "-o", obj, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	got, err := ReadInfo(obj)
	if err != nil {
		t.Fatal(err)
	}
	want := Info{Name: "dummy_fs", Depends: []string{"mbcache", "jbd2"}, SoftdepPre: []string{"crc32c"}, Aliases: []string{"fs-dummy"}}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("ReadInfo = %+v, want %+v", *got, want)
	}
}
