package logs

import (
	"fmt"
	"os"
	"time"
)

// Each log goes to /var/log/NAME.log too. When the file would grow past
// MaxFileSize it is renamed NAME.log.1 (the older ones moving up to
// NAME.log.OldFiles, the oldest dropped), so a log never takes more than
// (1+OldFiles)·MaxFileSize of /var, which is usually a tmpfs: RAM.
const (
	MaxFileSize = 1 << 20
	OldFiles    = 3
)

// rotatingFile is an append-only log file with size-based rotation. Its
// errors are kept, not logged: logging them would write to a log.
type rotatingFile struct {
	path string
	max  int64
	keep int

	f       *os.File
	size    int64
	retryAt time.Time // after an open failed, when to try again
	err     error     // the last error, for status
}

func newRotatingFile(path string) *rotatingFile {
	return &rotatingFile{path: path, max: MaxFileSize, keep: OldFiles}
}

// write appends p, a batch of whole lines, rotating first when it would
// not fit. The caller serializes calls.
func (r *rotatingFile) write(p []byte) {
	if r.f == nil && !r.open() {
		return
	}
	if r.size > 0 && r.size+int64(len(p)) > r.max {
		r.rotate()
		if r.f == nil && !r.open() {
			return
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	if err != nil {
		r.err = fmt.Errorf("write %s: %w", r.path, err)
	}
}

func (r *rotatingFile) open() bool {
	if time.Now().Before(r.retryAt) {
		return false
	}
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		// /var may not be mounted yet, or full: try again later rather
		// than at every line.
		r.err, r.retryAt = err, time.Now().Add(5*time.Second)
		return false
	}
	st, err := f.Stat()
	if err == nil {
		r.size = st.Size()
	}
	r.f = f
	return true
}

// rotate shifts NAME.log.N-1 to NAME.log.N, …, NAME.log to NAME.log.1.
func (r *rotatingFile) rotate() {
	r.close()
	for i := r.keep; i > 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", r.path, i-1), fmt.Sprintf("%s.%d", r.path, i))
	}
	if r.keep > 0 {
		if err := os.Rename(r.path, r.path+".1"); err != nil && !os.IsNotExist(err) {
			r.err = fmt.Errorf("rotate %s: %w", r.path, err)
		}
	} else {
		_ = os.Remove(r.path)
	}
	r.size = 0
}

func (r *rotatingFile) close() {
	if r.f != nil {
		_ = r.f.Close()
		r.f = nil
	}
}
