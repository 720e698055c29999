package handoff

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minikit/minikit/internal/control"
)

type got struct {
	lines []Line
	lost  map[string]uint64
}

// receiveAll reads until init ends the hand-off.
func receiveAll(t *testing.T, f *os.File) got {
	t.Helper()
	r, err := NewReceiver(f)
	if err != nil {
		t.Fatal(err)
	}
	g := got{lost: map[string]uint64{}}
	err = r.Receive(func(l Line) { g.lines = append(g.lines, l) }, func(log string, n uint64) { g.lost[log] += n })
	if !errors.Is(err, ErrEnd) {
		t.Fatalf("Receive: %v", err)
	}
	return g
}

// A dup of the observer's end, as exec hands the observer a copy.
func dup(t *testing.T, f *os.File) *os.File {
	t.Helper()
	c, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var nf *os.File
	c.Control(func(fd uintptr) {
		d, err := dupFD(int(fd))
		if err != nil {
			t.Fatal(err)
		}
		nf = os.NewFile(uintptr(d), "dup")
	})
	return nf
}

func TestLinesArriveWholeAndInOrder(t *testing.T) {
	s, peer, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Unix(1700000000, 123456789)
	s.Send("sshd", "output", wall, []string{"one", "two\x00with a NUL", ""})
	s.Send("init", "log", wall, []string{strings.Repeat("x", 4096)})
	if err := s.End(context.Background()); err != nil {
		t.Fatal(err)
	}
	g := receiveAll(t, peer)
	want := []Line{
		{wall, "sshd", "output", "one"}, {wall, "sshd", "output", "two\x00with a NUL"}, {wall, "sshd", "output", ""},
		{wall, "init", "log", strings.Repeat("x", 4096)},
	}
	if len(g.lines) != len(want) {
		t.Fatalf("got %d lines, want %d", len(g.lines), len(want))
	}
	for i := range want {
		if !g.lines[i].Time.Equal(want[i].Time) || g.lines[i].Log != want[i].Log || g.lines[i].Stream != want[i].Stream || g.lines[i].Message != want[i].Message {
			t.Errorf("line %d: %+v, want %+v", i, g.lines[i], want[i])
		}
	}
	if len(g.lost) != 0 || s.Dropped() != 0 {
		t.Errorf("lines lost: %v, %d", g.lost, s.Dropped())
	}
}

// Nobody reads: Send must still return at once, and what did not fit is
// counted and then told, by log, once there is room again.
func TestSendNeverBlocksAndCountsWhatItDrops(t *testing.T) {
	s, peer, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("y", 4000)
	done := make(chan int)
	go func() {
		n := 0
		for s.Dropped() == 0 {
			s.Send("flood", "output", time.Now(), []string{line})
			n++
		}
		for range 99 {
			s.Send("flood", "output", time.Now(), []string{line})
			n++
		}
		s.Send("other", "output", time.Now(), []string{"a", "b"})
		done <- n
	}()
	var sent int
	select {
	case sent = <-done:
	case <-time.After(time.Minute):
		t.Fatal("Send blocked with nobody reading")
	}
	dropped := s.Dropped()
	if dropped < 100+2 {
		t.Fatalf("dropped %d, want at least 102", dropped)
	}
	// The observer comes back: it reads what the socket held, then the
	// counts, then what follows.
	endErr := make(chan error, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		s.Send("later", "output", time.Now(), []string{"after the drop"})
		endErr <- s.End(context.Background())
	}()
	g := receiveAll(t, peer)
	if err := <-endErr; err != nil {
		t.Fatal(err)
	}
	if g.lost["flood"]+g.lost["other"] != dropped || g.lost["other"] != 2 {
		t.Errorf("told of %v lost, %d dropped", g.lost, dropped)
	}
	if uint64(len(g.lines)) != uint64(sent+2+1)-dropped {
		t.Errorf("received %d lines of %d sent, %d dropped", len(g.lines), sent+3, dropped)
	}
	if last := g.lines[len(g.lines)-1]; last.Message != "after the drop" {
		t.Errorf("last line %+v", last)
	}
}

// An observer that dies leaves the lines it did not read to the next.
func TestLinesOutliveTheObserver(t *testing.T) {
	s, peer, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	first, err := NewReceiver(dup(t, peer))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		s.Send("svc", "output", time.Now(), []string{fmt.Sprint(i)})
	}
	n := 0
	// Reads three lines and dies.
	_ = first.Receive(func(Line) {
		if n++; n == 3 {
			first.conn.Close()
		}
	}, func(string, uint64) {})
	if err := s.End(context.Background()); err != nil {
		t.Fatal(err)
	}
	g := receiveAll(t, peer)
	if len(g.lines) != 7 || g.lines[0].Message != "3" {
		t.Errorf("the next observer got %d lines from %+v", len(g.lines), g.lines)
	}
}

func TestStatsGoBackToInit(t *testing.T) {
	s, peer, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	go s.ReadStats()
	r, err := NewReceiver(peer)
	if err != nil {
		t.Fatal(err)
	}
	want := []control.ShipStats{{Destination: "json+tcp://10.0.2.2:1", Sent: 5, DroppedBy: map[string]uint64{"a": 1}}}
	if err := r.SendStats(want); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		st := s.Stats()
		if len(st) == 1 && st[0].Sent == 5 && st[0].DroppedBy["a"] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("init has %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func dupFD(fd int) (int, error) { return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0) }

// BenchmarkSend is what handing one line over costs init, with the
// observer reading as fast as it can.
func BenchmarkSend(b *testing.B) {
	s, peer, err := Pair()
	if err != nil {
		b.Fatal(err)
	}
	r, err := NewReceiver(peer)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan int)
	go func() {
		n := 0
		_ = r.Receive(func(Line) { n++ }, func(string, uint64) {})
		done <- n
	}()
	line := []string{strings.Repeat("z", 120)}
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s.Send("svc", "output", now, line)
	}
	b.StopTimer()
	if err := s.End(context.Background()); err != nil {
		b.Fatal(err)
	}
	if received := <-done; uint64(received)+s.Dropped() != uint64(b.N) {
		b.Errorf("%d lines received and %d dropped of %d", received, s.Dropped(), b.N)
	}
	b.ReportMetric(float64(s.Dropped())/float64(b.N)*100, "dropped-%")
}
