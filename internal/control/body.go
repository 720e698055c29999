package control

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// A request's body, as it arrives: with a Content-Length, or chunked when
// the caller does not know its length (svcctl sending what it reads from
// stdin). An endpoint that takes a body reads it as a stream, so that a
// bundle of hundreds of MiB never sits in PID 1's memory; before any
// other endpoint the server skips a small body and refuses a larger one.

// Bounds of a chunked body's framing.
const (
	maxChunkLine   = 1 << 10 // a chunk's size line, extensions included
	maxTrailerSize = 4 << 10 // the trailer after the last chunk
)

var errBodyTooLarge = &errRequest{413, "the request's body is larger than the endpoint takes"}

// body reads a request's body from the connection's reader.
type body struct {
	r       *bufio.Reader
	chunked bool
	left    int64 // of a Content-Length body, or of the current chunk
	max     int64 // what the endpoint takes; more is errBodyTooLarge
	read    int64
	done    bool  // read to its end: the connection can take another request
	err     error // once a read failed, every read fails so

	// stall, when set, bounds each read rather than the whole body: a
	// caller that streams slowly goes on, one that stops is dropped.
	stall       func() error
	beforeFirst func() error // sends 100 Continue to a caller that waits for it
	atEnd       func()       // once the whole body is read
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := b.readSome(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (b *body) readSome(p []byte) (int, error) {
	if f := b.beforeFirst; f != nil {
		b.beforeFirst = nil
		if err := f(); err != nil {
			return 0, err
		}
	}
	if b.stall != nil {
		if err := b.stall(); err != nil {
			return 0, err
		}
	}
	if b.chunked && b.left == 0 {
		size, err := b.chunkSize()
		if err != nil {
			return 0, err
		}
		if size == 0 {
			if err := b.trailer(); err != nil {
				return 0, err
			}
			b.end()
			return 0, io.EOF
		}
		b.left = size
	}
	if b.read+b.left > b.max {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	b.read += int64(n)
	if err != nil {
		return n, unexpected(err)
	}
	if b.left > 0 {
		return n, nil
	}
	if b.chunked {
		var crlf [2]byte
		if _, err := io.ReadFull(b.r, crlf[:]); err != nil {
			return n, unexpected(err)
		}
		if crlf != [2]byte{'\r', '\n'} {
			return n, &errRequest{400, "a chunk's data does not end with CRLF"}
		}
		return n, nil
	}
	b.end()
	return n, nil
}

func (b *body) end() {
	b.done = true
	if b.atEnd != nil {
		b.atEnd()
	}
}

// chunkSize reads a chunk's size line; its extensions are ignored.
func (b *body) chunkSize() (int64, error) {
	line, err := b.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > maxChunkLine {
		return 0, &errRequest{400, "a chunk's size line is too long"}
	}
	if err != nil {
		return 0, unexpected(err)
	}
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimRight(line, " \t")
	n, err := strconv.ParseUint(string(line), 16, 63)
	if err != nil {
		return 0, &errRequest{400, fmt.Sprintf("bad chunk size %q", line)}
	}
	return int64(n), nil
}

// trailer reads the header lines after the last chunk, and ignores them.
func (b *body) trailer() error {
	budget := maxTrailerSize
	for {
		line, err := b.r.ReadSlice('\n')
		budget -= len(line)
		if err == bufio.ErrBufferFull || budget < 0 {
			return &errRequest{400, "the body's trailer is too long"}
		}
		if err != nil {
			return unexpected(err)
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return nil
		}
	}
}

// skip reads and drops the body of a request to an endpoint that takes
// none, up to maxBodyBytes, within d: as net/http does, so that a client
// that sends one anyway keeps its connection.
func (b *body) skip(setDeadline func(time.Time) error, d time.Duration) error {
	b.max, b.stall = min(b.max, maxBodyBytes), nil
	if d > 0 {
		if err := setDeadline(time.Now().Add(d)); err != nil {
			return err
		}
	}
	_, err := io.Copy(io.Discard, b)
	return err
}

// bodyError answers a handler's failure to read a request's body: with
// its code when the body was at fault, 400 when the caller stopped
// sending it. The connection closes after, the body being unread.
func bodyError(w responseWriter, err error) {
	var bad *errRequest
	if errors.As(err, &bad) {
		writeError(w, bad.code, bad.msg)
		return
	}
	writeError(w, 400, fmt.Sprintf("reading the request's body: %v", err))
}
