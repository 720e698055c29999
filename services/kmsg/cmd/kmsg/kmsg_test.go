package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"
)

// kmsgReader returns one record per Read, as /dev/kmsg does, and errors
// where the list says so.
type kmsgReader struct {
	reads []any // string or error
}

func (k *kmsgReader) Read(b []byte) (int, error) {
	if len(k.reads) == 0 {
		return 0, io.EOF
	}
	r := k.reads[0]
	k.reads = k.reads[1:]
	if err, ok := r.(error); ok {
		return 0, err
	}
	return copy(b, r.(string)), nil
}

func TestCopyRecordsWritesLinuxKitsLines(t *testing.T) {
	booted := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	in := &kmsgReader{reads: []any{
		"6,0,0,-;Linux version 6.1.0-57-amd64\n",
		"6,1,1500000,-;Command line: console=ttyS0\n SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A03:00\n",
		syscall.EPIPE,
		"4,5,2000000,c;a later message\n",
		"garbage",
	}}
	var out bytes.Buffer
	err := copyRecords(in, &out, booted)
	if !errors.Is(err, io.EOF) {
		t.Errorf("copyRecords = %v, want the reader's EOF", err)
	}
	want := `(0) - 2026-01-02T03:04:05Z: Linux version 6.1.0-57-amd64
(1) - 2026-01-02T03:04:06.5Z: Command line: console=ttyS0
kmsg: 3 records overwritten before they were read
(5) - 2026-01-02T03:04:07Z: a later message
kmsg: not a kmsg record: "garbage"
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestParseRecordKeepsSemicolonsOfTheMessage(t *testing.T) {
	r, err := parseRecord([]byte("30,42,123,-,caller=T1;a; b; c\n"))
	if err != nil || r.Priority != 30 || r.Seq != 42 || r.SinceBoot != 123*time.Microsecond || r.Message != "a; b; c" {
		t.Errorf("parseRecord = %+v, %v", r, err)
	}
	for _, bad := range []string{"6,1;no usec", "x,1,2,-;msg", "6,1,2,-"} {
		if _, err := parseRecord([]byte(bad)); err == nil || !strings.Contains(err.Error(), "not a kmsg record") {
			t.Errorf("parseRecord(%q) = %v", bad, err)
		}
	}
}
