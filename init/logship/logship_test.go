package logship

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	syslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/octetcounting"
	"github.com/leodido/go-syslog/v4/rfc5424"
)

var at = time.Date(2026, 12, 6, 10, 0, 0, 123456789, time.UTC)

func entry(i int) Entry {
	return Entry{Time: at, Service: "sshd", Stream: "output", Message: fmt.Sprintf("line %d", i)}
}

// The syslog message is valid RFC 5424, as a receiver's parser reads it,
// with what the receiver needs to tell lines apart.
func TestSyslogMessagesAreRFC5424(t *testing.T) {
	e := Entry{Time: at, Service: "000-dhcpcd", Stream: "output", Message: `lease bound address=10.0.2.15/24 "quoted" ] \ é`}
	msg := AppendSyslog(nil, e, "minikit-host", "0e6c3f1a-boot", 42)
	want := `<30>1 2026-12-06T10:00:00.123456Z minikit-host 000-dhcpcd - - [minikit@32473 bootID="0e6c3f1a-boot" seq="42" stream="output"] lease bound address=10.0.2.15/24 "quoted" ] \ é`
	if string(msg) != want {
		t.Errorf("syslog message\n got %s\nwant %s", msg, want)
	}
	parsed, err := rfc5424.NewParser().Parse(msg)
	if err != nil {
		t.Fatalf("a receiver's parser refuses %s: %v", msg, err)
	}
	m := parsed.(*rfc5424.SyslogMessage)
	if *m.Appname != "000-dhcpcd" || *m.Hostname != "minikit-host" || *m.Message != e.Message || (*m.StructuredData)[sdID]["bootID"] != "0e6c3f1a-boot" {
		t.Errorf("parsed back as %+v", m)
	}
	// Names that RFC 5424 does not allow in its header are cut to what it does.
	odd := AppendSyslog(nil, Entry{Time: at, Service: "a name with spaces and " + strings.Repeat("x", 60)}, "", "", 1)
	if _, err := rfc5424.NewParser().Parse(odd); err != nil {
		t.Errorf("%s: %v", odd, err)
	}
	// Bytes that are not UTF-8 do not make an invalid message.
	bad := AppendSyslog(nil, Entry{Time: at, Service: "x", Message: "\xff\xfe"}, "h", "b", 1)
	if _, err := rfc5424.NewParser().Parse(bad); err != nil {
		t.Errorf("%q: %v", bad, err)
	}
}

func TestJSONLinesHaveTalosShape(t *testing.T) {
	line := AppendJSON(nil, entry(1), "minikit-host", "boot-1")
	var got map[string]string
	if err := json.Unmarshal(line, &got); err != nil || line[len(line)-1] != '\n' {
		t.Fatalf("%q: %v", line, err)
	}
	want := map[string]string{"time": "2026-12-06T10:00:00.123456789Z", "host": "minikit-host", "boot_id": "boot-1", "service": "sshd", "stream": "output", "msg": "line 1"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestParseDestination(t *testing.T) {
	for _, good := range []string{"syslog+udp://10.0.2.2:514", "syslog+tcp://logs.example:6514", "syslog+tls://[::1]:6514", "json+tcp://10.0.2.2:9999"} {
		if d, err := ParseDestination(good); err != nil || d.String() != good {
			t.Errorf("ParseDestination(%q) = %v, %v", good, d, err)
		}
	}
	for _, bad := range []string{"", "syslog://h:1", "http://h:1", "syslog+tcp://h", "syslog+tcp://:1", "json+tcp://user@h:1", "json+tcp://h:1/path", "json+tcp://h:1?x=1", "h:1"} {
		if _, err := ParseDestination(bad); err == nil {
			t.Errorf("ParseDestination(%q) accepted it", bad)
		}
	}
	if _, err := ParseAll([]string{"json+tcp://h:1", "bogus", " "}); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("ParseAll names the bad one: %v", err)
	}
}

// receiver accepts TCP connections and hands their lines to a channel;
// down closes the listener (the receiver is stopped) until up.
type receiver struct {
	t     *testing.T
	lines chan string
	addr  string
	up    atomic.Bool
}

// pipeDial is a Dial that connects to r while it is up, through an
// in-memory pipe whose far end r reads.
func (r *receiver) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if !r.up.Load() {
		return nil, errors.New("connection refused")
	}
	near, far := net.Pipe()
	go func() {
		sc := bufio.NewScanner(far)
		for sc.Scan() {
			if !r.up.Load() {
				far.Close()
				return
			}
			r.lines <- sc.Text()
		}
	}()
	return near, nil
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, lines: make(chan string, 1000)}
	r.up.Store(true)
	return r
}

func (r *receiver) next(t *testing.T) map[string]string {
	t.Helper()
	select {
	case l := <-r.lines:
		var m map[string]string
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no line arrived")
	}
	return nil
}

// While the destination is down, lines wait; past the bound the oldest go,
// counted; when it is back, the count comes first, then the lines kept,
// in order, and nothing offered since is lost.
func TestQueueKeepsOrderBoundAndCountsDrops(t *testing.T) {
	r := newReceiver(t)
	r.up.Store(false)
	s := New(Destination{Kind: JSONTCP, Addr: "10.0.2.2:1"}, Config{Host: "h", BootID: "b", QueueLines: 5, Dial: r.dial})
	for i := range 12 {
		s.Offer(entry(i))
	}
	if st := s.Stats(); st.Queued != 5 || st.Dropped != 7 || st.Connected {
		t.Fatalf("stats while down: %+v", st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	time.Sleep(50 * time.Millisecond) // a failed attempt or two
	r.up.Store(true)
	if m := r.next(t); !strings.Contains(m["msg"], "7 lines dropped") || m["service"] != "init" {
		t.Errorf("first line after the outage: %v, want the count of dropped lines", m)
	}
	for i := 7; i < 12; i++ {
		if m := r.next(t); m["msg"] != fmt.Sprintf("line %d", i) {
			t.Errorf("got %q, want line %d", m["msg"], i)
		}
	}
	s.Offer(entry(12))
	if m := r.next(t); m["msg"] != "line 12" {
		t.Errorf("got %q after the queue drained, want line 12", m["msg"])
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.Stats().Sent != 6 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.Stats(); st.Sent != 6 || st.Queued != 0 || st.Dropped != 7 || !st.Connected {
		t.Errorf("stats after: %+v", st)
	}
}

// Offer never waits, whatever the destination does.
func TestOfferNeverBlocks(t *testing.T) {
	s := New(Destination{Kind: JSONTCP, Addr: "h:1"}, Config{QueueLines: 100, Dial: func(context.Context, string, string) (net.Conn, error) {
		near, _ := net.Pipe() // nobody reads: every write stalls
		return near, nil
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	done := make(chan struct{})
	go func() {
		for i := range 100000 {
			s.Offer(entry(i))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Offer waited for a destination that does not read")
	}
	if st := s.Stats(); st.Queued > 100 {
		t.Errorf("the queue holds %d lines, over its bound of 100", st.Queued)
	}
}

// Over TCP and TLS, syslog messages are framed by octet counting, which a
// receiver's parser splits back into the messages sent.
func TestSyslogOverTLSIsOctetCounted(t *testing.T) {
	cert, pool := selfSigned(t)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan string, 10)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		octetcounting.NewParser(syslog.WithBestEffort(), syslog.WithListener(func(r *syslog.Result) {
			if r.Error != nil {
				got <- "error: " + r.Error.Error()
				return
			}
			got <- *r.Message.(*rfc5424.SyslogMessage).Message
		})).Parse(c)
	}()
	s := New(Destination{Kind: SyslogTLS, Addr: l.Addr().String()}, Config{Host: "h", BootID: "b", RootCAs: pool})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	s.Offer(Entry{Time: at, Service: "a", Message: "first, with a\nnewline"})
	s.Offer(Entry{Time: at, Service: "a", Message: "second"})
	for _, want := range []string{"first, with a\nnewline", "second"} {
		select {
		case m := <-got:
			if m != want {
				t.Errorf("received %q, want %q", m, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("nothing received (stats %+v)", s.Stats())
		}
	}
}

// A receiver whose certificate the spec's CA did not sign gets nothing.
func TestSyslogOverTLSChecksTheReceiver(t *testing.T) {
	cert, _ := selfSigned(t)
	_, otherPool := selfSigned(t)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	s := New(Destination{Kind: SyslogTLS, Addr: l.Addr().String()}, Config{RootCAs: otherPool})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	s.Offer(entry(1))
	deadline := time.Now().Add(30 * time.Second)
	for s.Stats().LastError == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.Stats(); st.Sent != 0 || !strings.Contains(st.LastError, "certificate") {
		t.Errorf("an unknown receiver: %+v", st)
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "receiver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// A full queue makes room by its oldest line even while that line is being
// sent: a line that then arrives is not counted as dropped, and one whose
// send failed is, and is told of on the next connection.
func TestLinesInFlightAreDroppedOnlyIfTheirSendFails(t *testing.T) {
	conns := make(chan net.Conn, 2)
	s := New(Destination{Kind: JSONTCP, Addr: "h:1"}, Config{Host: "h", BootID: "b", QueueLines: 2,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			near, far := net.Pipe()
			conns <- far
			return near, nil
		}})
	s.Offer(entry(0))
	s.Offer(entry(1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	far := <-conns
	// The batch [0 1] is being written, and stays so until far reads.
	waitFor(t, "the batch in flight", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.inflightEnd == 2 })
	s.Offer(entry(2)) // evicts line 0, in flight
	if st := s.Stats(); st.Dropped != 0 {
		t.Fatalf("a line in flight counted as dropped: %+v", st)
	}
	sc := bufio.NewScanner(far)
	for i := range 3 {
		if !sc.Scan() || !strings.Contains(sc.Text(), fmt.Sprintf(`"line %d"`, i)) {
			t.Fatalf("line %d: got %q", i, sc.Text())
		}
	}
	waitFor(t, "3 lines sent", func() bool { return s.Stats().Sent == 3 })
	if st := s.Stats(); st.Dropped != 0 {
		t.Errorf("after a good send: %+v", st)
	}

	// Now the receiver dies while a batch is in flight.
	s.Offer(entry(3))
	s.Offer(entry(4))
	waitFor(t, "the second batch in flight", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.inflightEnd == 5 })
	s.Offer(entry(5)) // evicts line 3, in flight
	far.Close()
	far = <-conns
	sc = bufio.NewScanner(far)
	for _, want := range []string{"1 lines dropped", `"line 4"`, `"line 5"`} {
		if !sc.Scan() || !strings.Contains(sc.Text(), want) {
			t.Fatalf("after the failed send: got %q, want %s", sc.Text(), want)
		}
	}
	waitFor(t, "5 lines sent", func() bool { return s.Stats().Sent == 5 })
	if st := s.Stats(); st.Dropped != 1 || st.DroppedBy["sshd"] != 1 {
		t.Errorf("after a failed send: %+v", st)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A receiver that shuts down in good order (it stops taking connections,
// closes its end and reads what was sent until the shipper hangs up) and
// comes back later on the same port misses no line, though lines were
// offered all along.
func TestAReceiverThatLeavesInGoodOrderMissesNothing(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	var mu sync.Mutex
	var got []string
	receive := func(c net.Conn) {
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			var m map[string]string
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				mu.Lock()
				got = append(got, m["msg"])
				mu.Unlock()
			}
		}
	}
	s := New(Destination{Kind: JSONTCP, Addr: addr}, Config{Host: "h", BootID: "b"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	stop := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				s.Offer(entry(i))
			}
		}
	}()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { receive(c); close(done) }()
	time.Sleep(100 * time.Millisecond)
	l.Close()
	c.(*net.TCPConn).CloseWrite()
	select {
	case <-done: // the shipper hung up: everything it wrote was read
	case <-time.After(30 * time.Second):
		t.Fatal("the shipper never hung up on a receiver that closed its end")
	}
	c.Close()
	time.Sleep(200 * time.Millisecond) // lines queue meanwhile
	if l, err = net.Listen("tcp", addr); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err = l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go receive(c)
	time.Sleep(100 * time.Millisecond)
	close(stop)
	last := -1
	waitFor(t, "the queue to drain", func() bool { return s.Stats().Queued == 0 })
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for _, msg := range got {
		var n int
		if _, err := fmt.Sscanf(msg, "line %d", &n); err != nil {
			t.Fatalf("unexpected line %q", msg)
		}
		// A line may come twice (sent again after a failed write), never
		// out of order past one, and none may be missing.
		if n > last+1 {
			t.Fatalf("lines %d to %d are missing (%d received)", last+1, n-1, len(got))
		}
		last = max(last, n)
	}
	if last < 20 {
		t.Errorf("only %d lines arrived", last+1)
	}
}

// Long lines while the destination is down are bounded by the bytes they
// take, not only by their number, and the queue grows only as lines wait.
func TestQueueIsBoundedInBytes(t *testing.T) {
	s := New(Destination{Kind: JSONTCP, Addr: "h:1"}, Config{QueueLines: 1000, QueueBytes: 10 << 10})
	if len(s.queue) > 64 {
		t.Errorf("an empty queue holds room for %d lines", len(s.queue))
	}
	long := strings.Repeat("x", 1000)
	for i := range 100 {
		s.Offer(Entry{Service: "flood", Stream: "output", Message: fmt.Sprintf("%d %s", i, long)})
	}
	st := s.Stats()
	if st.Queued+int(st.Dropped) != 100 || st.Queued > 10 || st.Queued < 8 || st.DroppedBy["flood"] != st.Dropped {
		t.Errorf("after 100 lines of 1 KB in a queue of 10 KiB: %+v", st)
	}
	if s.bytes > 10<<10 {
		t.Errorf("the queue holds %d bytes, over its bound", s.bytes)
	}
	// The newest lines are the ones kept.
	if m := s.queue[(s.head+s.n-1)%len(s.queue)].Message; !strings.HasPrefix(m, "99 ") {
		t.Errorf("the newest line kept is %.10q", m)
	}
}

// Lines init could not hand to the observer are told of in the stream,
// before the lines that follow, and counted by log as the queue's drops.
func TestLinesLostBeforeTheQueueAreToldAndCounted(t *testing.T) {
	r := newReceiver(t)
	s := New(Destination{Kind: JSONTCP, Addr: "10.0.2.2:1"}, Config{Host: "h", BootID: "b", Dial: r.dial})
	s.Lost("flood", 40)
	s.Offer(entry(1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	if m := r.next(t); !strings.Contains(m["msg"], "40 lines dropped") || m["service"] != "init" {
		t.Errorf("first line: %v, want the count of lost lines", m)
	}
	if m := r.next(t); m["msg"] != "line 1" {
		t.Errorf("got %q, want line 1", m["msg"])
	}
	if st := s.Stats(); st.Dropped != 40 || st.DroppedBy["flood"] != 40 {
		t.Errorf("stats: %+v", st)
	}
}
