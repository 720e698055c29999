package devmapper

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The table is laid out as struct dm_target_spec entries, each followed by
// its NUL-terminated parameters, 8-byte aligned, next pointing at the
// following one: what dmsetup sends.
func TestEncodeTableLaysOutTargetSpecs(t *testing.T) {
	table := []Target{
		{Start: 0, Length: 108208, Type: "verity", Params: "1 7:0 7:0 4096 4096 13526 13526 sha256 ab -"},
		{Start: 108208, Length: 8, Type: "zero"},
	}
	b, err := encodeTable(table)
	if err != nil {
		t.Fatal(err)
	}
	at := 0
	for i, want := range table {
		le := binary.LittleEndian
		if got := le.Uint64(b[at:]); got != want.Start {
			t.Errorf("target %d: sector_start %d, want %d", i, got, want.Start)
		}
		if got := le.Uint64(b[at+8:]); got != want.Length {
			t.Errorf("target %d: length %d, want %d", i, got, want.Length)
		}
		next := int(le.Uint32(b[at+20:]))
		typ := string(b[at+24 : at+24+len(want.Type)])
		if typ != want.Type || b[at+24+len(want.Type)] != 0 {
			t.Errorf("target %d: type %q, want %q", i, typ, want.Type)
		}
		params := b[at+unix.SizeofDmTargetSpec : at+unix.SizeofDmTargetSpec+len(want.Params)+1]
		if string(params) != want.Params+"\x00" {
			t.Errorf("target %d: params %q, want %q", i, params, want.Params)
		}
		if next%8 != 0 || next < unix.SizeofDmTargetSpec+len(want.Params)+1 {
			t.Errorf("target %d: next %d is not past its params and aligned", i, next)
		}
		at += next
	}
	if at != len(b) {
		t.Errorf("the entries cover %d of %d bytes", at, len(b))
	}
	if _, err := encodeTable(nil); err == nil {
		t.Error("an empty table was encoded")
	}
	if _, err := encodeTable([]Target{{Type: "a-type-name-far-too-long"}}); err == nil {
		t.Error("a type longer than the kernel's field was encoded")
	}
}

// The status the kernel writes back is read target by target; next counts
// from the start of the data, not from the entry.
func TestDecodeStatusReadsWhatTheKernelWrites(t *testing.T) {
	buf := make([]byte, 1024)
	h := (*header)(unsafe.Pointer(&buf[0]))
	h.Data_start = unix.SizeofDmIoctl
	h.Target_count = 2
	at := int(h.Data_start)
	for _, s := range []TargetStatus{{Length: 8, Type: "verity", Params: "C"}, {Start: 8, Length: 8, Type: "verity", Params: "V"}} {
		spec := (*unix.DmTargetSpec)(unsafe.Pointer(&buf[at]))
		spec.Sector_start, spec.Length = s.Start, s.Length
		copy(spec.Target_type[:], s.Type)
		copy(buf[at+unix.SizeofDmTargetSpec:], s.Params+"\x00")
		end := at + unix.SizeofDmTargetSpec + len(s.Params) + 1
		end = (end + 7) &^ 7
		spec.Next = uint32(end - int(h.Data_start))
		at = end
	}
	got, err := decodeStatus(buf, h)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Params != "C" || got[1].Params != "V" || got[1].Start != 8 || got[0].Type != "verity" {
		t.Errorf("decoded %+v", got)
	}
	h.Target_count = 50
	if _, err := decodeStatus(buf, h); err == nil {
		t.Error("a status claiming more targets than its buffer holds was read")
	}
}
