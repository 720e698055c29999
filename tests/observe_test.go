package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	syslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/octetcounting"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/minikit/minikit/tests/harness"
)

// shipped is one line as a collector received it.
type shipped struct {
	Host, BootID, Service, Stream, Msg string
}

// collector is a log receiver on the host's loopback, which the guest
// reaches as 10.0.2.2 through qemu's user network. It takes one
// connection at a time and can leave and come back on the same port.
type collector struct {
	t     *testing.T
	parse func(io.Reader, func(shipped))
	addr  string

	mu    sync.Mutex
	lines []shipped
	l     net.Listener
	conn  net.Conn
	done  chan struct{} // closed when conn's reader is done
}

func newCollector(t *testing.T, parse func(io.Reader, func(shipped))) *collector {
	c := &collector{t: t, parse: parse, addr: "127.0.0.1:0"}
	c.start()
	t.Cleanup(func() { c.stop() })
	return c
}

func (c *collector) port() int { return c.l.Addr().(*net.TCPAddr).Port }

func (c *collector) start() {
	l, err := net.Listen("tcp", c.addr)
	if err != nil {
		c.t.Fatalf("collector on %s: %v", c.addr, err)
	}
	c.mu.Lock()
	c.l, c.addr = l, l.Addr().String()
	c.mu.Unlock()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			done := make(chan struct{})
			c.mu.Lock()
			if c.conn != nil {
				c.conn.Close() // the shipper came back: its old connection is dead
			}
			c.conn, c.done = conn, done
			c.mu.Unlock()
			go func() {
				defer close(done)
				c.parse(conn, func(s shipped) {
					c.mu.Lock()
					c.lines = append(c.lines, s)
					c.mu.Unlock()
				})
			}()
		}
	}()
}

// stop leaves in good order, as a collector that is restarted does: no
// new connections, its end closed, and what was sent read until the
// shipper hangs up.
func (c *collector) stop() {
	c.mu.Lock()
	l, conn, done := c.l, c.conn, c.done
	c.conn = nil
	c.mu.Unlock()
	l.Close()
	if conn == nil {
		return
	}
	conn.(*net.TCPConn).CloseWrite()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		c.t.Errorf("the shipper did not hang up on a collector that closed its end")
	}
	conn.Close()
}

// wait returns the lines received once one satisfies ok.
func (c *collector) wait(what string, ok func(shipped) bool) []shipped {
	c.t.Helper()
	deadline := time.Now().Add(bootTimeout)
	for {
		c.mu.Lock()
		lines := append([]shipped(nil), c.lines...)
		c.mu.Unlock()
		for _, l := range lines {
			if ok(l) {
				return lines
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the collector on %s never received %s; it has %d lines", c.addr, what, len(lines))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func parseJSONLines(r io.Reader, got func(shipped)) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var m struct{ Host, Boot_ID, Service, Stream, Msg string }
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			got(shipped{Host: m.Host, BootID: m.Boot_ID, Service: m.Service, Stream: m.Stream, Msg: m.Msg})
		}
	}
}

func parseSyslog(r io.Reader, got func(shipped)) {
	octetcounting.NewParser(syslog.WithBestEffort(), syslog.WithListener(func(res *syslog.Result) {
		m, ok := res.Message.(*rfc5424.SyslogMessage)
		if res.Error != nil || !ok || m.Message == nil || m.Appname == nil || m.StructuredData == nil {
			return
		}
		sd := (*m.StructuredData)["minikit@32473"]
		host := ""
		if m.Hostname != nil {
			host = *m.Hostname
		}
		got(shipped{Host: host, BootID: sd["bootID"], Service: *m.Appname, Stream: sd["stream"], Msg: *m.Message})
	})).Parse(r)
}

var talkLine = regexp.MustCompile(`^talk (\d+)$`)

// talks returns the talker's line numbers as received, in order.
func talks(lines []shipped) []int {
	var out []int
	for _, l := range lines {
		if m := talkLine.FindStringSubmatch(l.Msg); m != nil && l.Service == "talker" {
			n, _ := strconv.Atoi(m[1])
			out = append(out, n)
		}
	}
	return out
}

// TestLogsLeaveTheMachineAndMetricsAreScraped boots a system that ships
// its logs to a syslog and a JSON collector on the host and serves its
// metrics on TCP: lines of a service, of an onboot container and of init
// arrive at both with their names and the boot id; the JSON collector
// leaves for 30 s and comes back, and no line is missing; the metrics,
// read through svcctl inside and over TCP outside, show a crashing
// service's restarts rising.
func TestLogsLeaveTheMachineAndMetricsAreScraped(t *testing.T) {
	sys := newCollector(t, parseSyslog)
	js := newCollector(t, parseJSONLines)
	image := build(t, "observe", "images/observe.yml")
	m := harness.Boot(t, image, harness.WithForward(9100), harness.WithCmdline(
		fmt.Sprintf("minikit.log=syslog+tcp://10.0.2.2:%d", sys.port()),
		fmt.Sprintf("minikit.log=json+tcp://10.0.2.2:%d", js.port())))

	talked := func(n int) func(shipped) bool {
		return func(s shipped) bool { return s.Service == "talker" && s.Msg == fmt.Sprintf("talk %d", n) }
	}
	for _, c := range []*collector{sys, js} {
		lines := c.wait("talk 3 from talker", talked(3))
		var bootID string
		for _, l := range lines {
			if l.Service == "talker" {
				bootID = l.BootID
				if l.Stream != "output" || !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(l.BootID) || l.Host == "" {
					t.Errorf("collector %s: a line of talker lacks its stream, boot id or host: %+v", c.addr, l)
				}
			}
		}
		// Lines logged before the network was up were kept and sent.
		c.wait("init's first line", func(s shipped) bool {
			return s.Service == "init" && s.Stream == "log" && s.BootID == bootID && strings.Contains(s.Msg, "minikit init starting")
		})
		c.wait("the onboot dhcpcd's lease", func(s shipped) bool {
			return s.Service == "000-dhcpcd" && strings.Contains(s.Msg, "lease bound")
		})
	}

	first := scrape(t, m.HostAddr(9100))
	firstInside := m.Expect(`scraper: scraped minikit_service_restarts_total\{service="crasher"\} (\d+)`, bootTimeout)

	// The JSON collector leaves for 30 s (60 lines of talker) and comes back.
	before := talks(js.wait("talk 5", talked(5)))
	upTo := before[len(before)-1] + 60
	js.stop()
	sys.wait(fmt.Sprintf("talk %d", upTo), talked(upTo))
	js.start()
	after := talks(js.wait(fmt.Sprintf("talk %d after the outage", upTo+10), talked(upTo+10)))
	// A line may come twice (sent again after a failed write); none may
	// be missing, and each first arrives in order.
	seen := map[int]bool{}
	var order []int
	for _, n := range after {
		if !seen[n] {
			seen[n] = true
			order = append(order, n)
		}
	}
	for n := 1; n <= upTo+10; n++ {
		if !seen[n] {
			t.Errorf("talk %d never reached the JSON collector that was away for 30 s", n)
		}
	}
	for i := 1; i < len(order); i++ {
		if order[i] < order[i-1] {
			t.Errorf("talk %d arrived after talk %d", order[i], order[i-1])
			break
		}
	}

	// The crasher restarted meanwhile, as both ways of reading say.
	last := scrape(t, m.HostAddr(9100))
	if last.restarts <= first.restarts {
		t.Errorf("crasher's restarts over TCP: %v, then %v after 30 s", first.restarts, last.restarts)
	}
	n0, _ := strconv.Atoi(firstInside.Groups[1])
	for prev, i := firstInside, 0; ; i++ {
		next := m.ExpectAfter(prev, `scraper: scraped minikit_service_restarts_total\{service="crasher"\} (\d+)`, bootTimeout)
		if n, _ := strconv.Atoi(next.Groups[1]); n > n0 {
			break
		}
		if i == 40 { // two minutes of scrapes
			t.Errorf("svcctl metrics inside shows crasher's restarts stuck at %d", n0)
			break
		}
		prev = next
	}
	if !strings.Contains(last.text, `minikit_logship_sent_lines_total{destination="json+tcp://10.0.2.2:`) ||
		strings.Contains(last.text, "minikit_logship_dropped_lines_total") {
		t.Errorf("the metrics do not show both collectors fed and nothing dropped:\n%s", last.text)
	}
	m.Powerdown()
	if exit := m.WaitExit(bootTimeout); !exit.Clean() {
		t.Fatalf("the system did not power off cleanly: %v", exit)
	}
}

type scraped struct {
	text     string
	restarts float64
}

// scrape reads the metrics as a Prometheus server does.
func scrape(t *testing.T, addr string) scraped {
	t.Helper()
	deadline := time.Now().Add(bootTimeout)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
					t.Errorf("metrics served as %q", ct)
				}
				re := regexp.MustCompile(`(?m)^minikit_service_restarts_total\{service="crasher"\} (\S+)$`)
				if m := re.FindSubmatch(body); m != nil {
					v, _ := strconv.ParseFloat(string(m[1]), 64)
					return scraped{text: string(body), restarts: v}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no metrics of crasher at %s: %v", addr, err)
		}
		time.Sleep(time.Second)
	}
}
