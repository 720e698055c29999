package qemu

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestParseForward(t *testing.T) {
	tests := []struct {
		in      string
		want    Forward
		wantErr bool
	}{
		{in: "2222:22", want: Forward{HostPort: 2222, GuestPort: 22}},
		{in: "8080:80/tcp", want: Forward{Proto: "tcp", HostPort: 8080, GuestPort: 80}},
		{in: "5353:53/udp", want: Forward{Proto: "udp", HostPort: 5353, GuestPort: 53}},
		{in: "22", wantErr: true},
		{in: "a:22", wantErr: true},
		{in: "22:b", wantErr: true},
		{in: "0:22", wantErr: true},
		{in: "2222:70000", wantErr: true},
		{in: "2222:22/sctp", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseForward(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseForward(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("ParseForward(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseDisk(t *testing.T) {
	tests := []struct {
		in      string
		want    Disk
		wantErr bool
	}{
		{in: "data.img", want: Disk{Path: "data.img"}},
		{in: "data.img,size=1G", want: Disk{Path: "data.img", Size: 1 << 30}},
		{in: "/var/d.img,size=512M", want: Disk{Path: "/var/d.img", Size: 512 << 20}},
		{in: "d.img,size=4", want: Disk{Path: "d.img", Size: 4 << 30}}, // GiB, as LinuxKit reads it
		{in: "d.img,size=4096K", want: Disk{Path: "d.img", Size: 4 << 20}},
		{in: "d.img,size=2t", want: Disk{Path: "d.img", Size: 2 << 40}},
		// LinuxKit's form, and the bus
		{in: "file=d.img,size=512M", want: Disk{Path: "d.img", Size: 512 << 20}},
		{in: "file=d.img,size=1G,format=qcow2,bus=scsi", want: Disk{Path: "d.img", Size: 1 << 30, Format: "qcow2", Bus: BusSCSI}},
		{in: "d.img,bus=sata", want: Disk{Path: "d.img", Bus: BusSATA}},
		{in: "d.img,bus=ahci", want: Disk{Path: "d.img", Bus: BusSATA}},
		{in: "d.img,bus=virtio", want: Disk{Path: "d.img", Bus: BusVirtio}},
		{in: "d.vhd", want: Disk{Path: "d.vhd", Format: "vpc"}},
		{in: "d.img,format=vhd", want: Disk{Path: "d.img", Format: "vpc"}},
		{in: "d.qcow2,format=raw", want: Disk{Path: "d.qcow2"}},
		{in: ",size=1G", wantErr: true},
		{in: "size=1G", wantErr: true},
		{in: "d.img,size=", wantErr: true},
		{in: "d.img,size=-1G", wantErr: true},
		{in: "d.img,size=1X", wantErr: true},
		{in: "d.img,size=99999999999T", wantErr: true},
		{in: "d.img,bus=nvme", wantErr: true},
		{in: "d.img,format=vdi", wantErr: true},
		{in: "d.img,speed=fast", wantErr: true},
		{in: "d.img,extra", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDisk(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseDisk(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("ParseDisk(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseAccel(t *testing.T) {
	tests := []struct {
		in      string
		want    Accel
		wantErr bool
	}{
		{"", AccelAuto, false},
		{"auto", AccelAuto, false},
		{"kvm", AccelKVM, false},
		{"tcg", AccelTCG, false},
		{"KVM", "", true},
		{"hvf", "", true},
	}
	for _, tt := range tests {
		got, err := ParseAccel(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseAccel(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestDiskCreateMakesAMissingImageSparse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scratch.img")
	const size = 1 << 30
	if err := (Disk{Path: path, Size: size}).Create(); err != nil {
		t.Fatalf("Create: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != size {
		t.Errorf("size = %d, want %d", fi.Size(), size)
	}
	if used := allocatedBytes(t, path); used >= size/2 {
		t.Errorf("a fresh disk uses %d bytes on the host, want it sparse", used)
	}
}

// allocatedBytes is how much host storage the file really uses.
func allocatedBytes(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

func TestDiskCreateLeavesAnExistingImageAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.img")
	if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (Disk{Path: path, Size: 1 << 20}).Create(); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "keep me" {
		t.Errorf("existing disk now holds %q", got)
	}
}

func TestDiskCreateNeedsASizeForAMissingImage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.img")
	if err := (Disk{Path: path}).Create(); err == nil {
		t.Errorf("Create of a missing disk without size succeeded")
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("a failed Create left %s behind", path)
	}
}
