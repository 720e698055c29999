package partition

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minikit/minikit/internal/testenv"
)

func TestMBRDescribesItsPartition(t *testing.T) {
	s, err := MBR([]byte{0xfa, 0xeb}, 0x4d4b4954, []MBRPartition{{Bootable: true, Type: TypeFAT32LBA, Start: 2048, Sectors: 131072}})
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 512 || s[510] != 0x55 || s[511] != 0xaa {
		t.Fatalf("sector 0 is %d bytes ending %x %x, want 512 ending 55 aa", len(s), s[510], s[511])
	}
	if !bytes.HasPrefix(s, []byte{0xfa, 0xeb}) {
		t.Errorf("boot code not at the start of the sector")
	}
	if got := binary.LittleEndian.Uint32(s[440:]); got != 0x4d4b4954 {
		t.Errorf("disk signature %#x, want 0x4d4b4954", got)
	}
	e := s[446:462]
	if e[0] != 0x80 || e[4] != 0x0c {
		t.Errorf("entry flags %#x type %#x, want active (0x80) FAT32 LBA (0x0c)", e[0], e[4])
	}
	if start, n := binary.LittleEndian.Uint32(e[8:]), binary.LittleEndian.Uint32(e[12:]); start != 2048 || n != 131072 {
		t.Errorf("partition at %d for %d sectors, want 2048 for 131072", start, n)
	}
	if _, err := MBR(make([]byte, 441), 0, nil); err == nil {
		t.Error("441 bytes of boot code were accepted")
	}
}

func TestCHSSaturatesBeyondTheBIOSGeometry(t *testing.T) {
	for _, tc := range []struct {
		lba  uint32
		want []byte
	}{
		{0, []byte{0, 1, 0}},
		{2048, []byte{32, 33, 0}}, // cylinder 0, head 32, sector 33
		{1 << 30, []byte{254, 0xff, 0xff}},
	} {
		if got := chs(tc.lba); !bytes.Equal(got, tc.want) {
			t.Errorf("chs(%d) = % x, want % x", tc.lba, got, tc.want)
		}
	}
}

func TestGPTHasValidPrimaryAndBackupTables(t *testing.T) {
	const sectors = 8192
	disk := filepath.Join(t.TempDir(), "disk")
	f, err := os.Create(disk)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(sectors * 512); err != nil {
		t.Fatal(err)
	}
	part := GPTPartition{Type: GPTTypeESP, GUID: UUIDFrom([16]byte{1, 2, 3}), First: 2048, Last: 6143, Name: "EFI system partition"}
	if err := WriteGPT(f, sectors, UUIDFrom([16]byte{9}), []GPTPartition{part}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	data, err := os.ReadFile(disk)
	if err != nil {
		t.Fatal(err)
	}
	if data[446+4] != 0xee {
		t.Errorf("protective MBR type %#x, want 0xee", data[446+4])
	}
	for _, at := range []int{1, sectors - 1} {
		h := data[at*512 : at*512+512]
		if string(h[:8]) != "EFI PART" {
			t.Fatalf("no GPT header at sector %d", at)
		}
		sum := binary.LittleEndian.Uint32(h[16:])
		check := append([]byte(nil), h[:92]...)
		binary.LittleEndian.PutUint32(check[16:], 0)
		if crc32.ChecksumIEEE(check) != sum {
			t.Errorf("header at sector %d has a wrong CRC", at)
		}
		entriesAt := binary.LittleEndian.Uint64(h[72:])
		entries := data[entriesAt*512 : entriesAt*512+128*128]
		if crc32.ChecksumIEEE(entries) != binary.LittleEndian.Uint32(h[88:]) {
			t.Errorf("entries of header %d have a wrong CRC", at)
		}
	}
	// util-linux reads it as a GPT with our partition, when it is here.
	sfdisk, err := exec.LookPath("sfdisk")
	if err != nil {
		testenv.Unavailable(t, testenv.RequireRootEnv, "sfdisk (Debian package fdisk) is not installed: the table was checked by hand only")
	}
	out, err := exec.Command(sfdisk, "--json", disk).Output()
	if err != nil {
		t.Fatalf("sfdisk --json: %v", err)
	}
	var table struct {
		PartitionTable struct {
			Label      string
			ID         string
			Partitions []struct {
				Start, Size int
				Type, UUID  string
				Name        string
			}
		}
	}
	if err := json.Unmarshal(out, &table); err != nil {
		t.Fatalf("sfdisk --json: %v\n%s", err, out)
	}
	pt := table.PartitionTable
	if pt.Label != "gpt" || len(pt.Partitions) != 1 {
		t.Fatalf("sfdisk sees %s with %d partitions, want gpt with 1:\n%s", pt.Label, len(pt.Partitions), out)
	}
	p := pt.Partitions[0]
	if p.Start != 2048 || p.Size != 4096 || p.Type != "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" || p.Name != "EFI system partition" {
		t.Errorf("sfdisk sees %+v, want the ESP at 2048 for 4096 sectors", p)
	}
	if v := p.UUID[14]; v != '4' {
		t.Errorf("partition GUID %s is not version 4", p.UUID)
	}
	if out, err := exec.Command(sfdisk, "--verify", disk).CombinedOutput(); err != nil || !strings.Contains(string(out), "No errors detected") {
		t.Errorf("sfdisk --verify: %v\n%s", err, out)
	}
}

func TestMustGUIDUsesMixedEndianOrder(t *testing.T) {
	g := MustGUID("C12A7328-F81F-11D2-BA4B-00A0C93EC93B")
	want := []byte{0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b}
	if !bytes.Equal(g[:], want) {
		t.Errorf("ESP type GUID bytes % x, want % x", g, want)
	}
}
