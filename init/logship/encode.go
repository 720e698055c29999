package logship

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leodido/go-syslog/v4/rfc5424"
)

// The syslog messages are RFC 5424's, built by go-syslog's rfc5424
// package, which checks every field as the RFC says: facility daemon,
// severity info, the log's name as APP-NAME, and the boot id, stream and
// a sequence number as structured data under minikit's SD-ID. 32473 is
// the private enterprise number RFC 5612 reserves for documentation and
// examples: minikit has none of its own.
const (
	priority = 3*8 + 6 // daemon.info
	sdID     = "minikit@32473"
)

// AppendSyslog appends e as an RFC 5424 message, without framing.
func AppendSyslog(b []byte, e Entry, host, bootID string, seq uint64) []byte {
	m := &rfc5424.SyslogMessage{}
	m.SetPriority(priority)
	m.SetVersion(1)
	// At most six digits of fraction, as the RFC allows.
	m.SetTimestamp(e.Time.UTC().Format("2006-01-02T15:04:05.000000Z07:00"))
	m.SetHostname(headerField(host, 255))
	m.SetAppname(headerField(e.Service, 48))
	m.SetParameter(sdID, "bootID", validUTF8(bootID))
	m.SetParameter(sdID, "stream", validUTF8(e.Stream))
	m.SetParameter(sdID, "seq", strconv.FormatUint(seq, 10))
	m.SetMessage(validUTF8(e.Message))
	s, err := m.String()
	if err != nil {
		// Only fields the builder refuses get here; the line still goes.
		s = fmt.Sprintf("<%d>1 - - - - - - %s", priority, validUTF8(e.Message))
	}
	return append(b, s...)
}

// headerField keeps what a header field may hold: printable US-ASCII
// without spaces, at most max octets; the builder writes "-" for "".
func headerField(s string, max int) string {
	out := make([]byte, 0, min(len(s), max))
	for i := 0; i < len(s) && len(out) < max; i++ {
		if c := s[i]; c > 32 && c < 127 {
			out = append(out, c)
		}
	}
	return string(out)
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// AppendOctetCounted frames a message for a stream, as RFC 6587's octet
// counting does: its length in octets, a space, the message.
func AppendOctetCounted(b, msg []byte) []byte {
	b = strconv.AppendInt(b, int64(len(msg)), 10)
	b = append(b, ' ')
	return append(b, msg...)
}

// jsonLine is one line of a JSON receiver, in the shape Talos sends.
type jsonLine struct {
	Time    string `json:"time"`
	Host    string `json:"host"`
	BootID  string `json:"boot_id"`
	Service string `json:"service"`
	Stream  string `json:"stream"`
	Msg     string `json:"msg"`
}

// AppendJSON appends e as one JSON object and a newline.
func AppendJSON(b []byte, e Entry, host, bootID string) []byte {
	data, _ := json.Marshal(jsonLine{
		Time: e.Time.UTC().Format(time.RFC3339Nano), Host: host, BootID: bootID,
		Service: e.Service, Stream: e.Stream, Msg: validUTF8(e.Message),
	})
	return append(append(b, data...), '\n')
}
