package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// record is one record of /dev/kmsg (Documentation/ABI/testing/dev-kmsg).
type record struct {
	Priority  int // facility<<3 | level
	Seq       uint64
	SinceBoot time.Duration
	Message   string
}

// parseRecord reads "PRIORITY,SEQ,USEC,FLAGS[,…];MESSAGE" followed by
// " KEY=VALUE" lines, which are left out. Unprintable bytes of the
// message are escaped by the kernel as \xNN already.
func parseRecord(b []byte) (record, error) {
	s := string(b)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	prefix, msg, ok := strings.Cut(s, ";")
	fields := strings.Split(prefix, ",")
	if !ok || len(fields) < 4 {
		return record{}, fmt.Errorf("not a kmsg record: %q", s)
	}
	prio, err1 := strconv.Atoi(fields[0])
	seq, err2 := strconv.ParseUint(fields[1], 10, 64)
	usec, err3 := strconv.ParseInt(fields[2], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return record{}, fmt.Errorf("not a kmsg record: %q: %w", s, err)
	}
	return record{Priority: prio, Seq: seq, SinceBoot: time.Duration(usec) * time.Microsecond, Message: msg}, nil
}

// copyRecords reads r, /dev/kmsg, one record per read, and writes each
// to w. Records the kernel overwrote before they were read (EPIPE) are
// skipped, saying how many; it returns only on an error of r or w.
func copyRecords(r io.Reader, w io.Writer, booted time.Time) error {
	buf := make([]byte, 8192) // a record is at most 8 KiB less a header
	var last uint64
	for {
		n, err := r.Read(buf)
		if errors.Is(err, syscall.EPIPE) {
			continue // the next read returns the oldest record left
		}
		if err != nil {
			return fmt.Errorf("read /dev/kmsg: %w", err)
		}
		rec, err := parseRecord(buf[:n])
		if err != nil {
			fmt.Fprintf(w, "kmsg: %v\n", err)
			continue
		}
		if last != 0 && rec.Seq > last+1 {
			fmt.Fprintf(w, "kmsg: %d records overwritten before they were read\n", rec.Seq-last-1)
		}
		last = rec.Seq
		if _, err := io.WriteString(w, format(rec, booted)); err != nil {
			return err
		}
	}
}
