package logs

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestTheRingKeepsTheLastLinesWithinItsBounds(t *testing.T) {
	r := newLogRing(100, 5)
	now := time.Now()
	for i := 1; i <= 8; i++ {
		r.add(now, time.Duration(i)*time.Second, fmt.Sprintf("line %d", i))
	}
	got := r.tail(-1)
	if len(got) != 5 || got[0].Line != "line 4" || got[4].Line != "line 8" || got[4].Seq != 8 {
		t.Fatalf("a ring of 5 lines holds %v", got)
	}
	if got := r.tail(2); len(got) != 2 || got[0].Line != "line 7" {
		t.Errorf("tail(2) = %v", got)
	}

	r.add(now, 0, strings.Repeat("x", 60), strings.Repeat("y", 60))
	if got := r.tail(-1); len(got) != 1 || got[0].Line[0] != 'y' {
		t.Errorf("a ring of 100 bytes holds %d lines after two of 60 bytes", len(got))
	}
	r.add(now, 0, strings.Repeat("z", 500))
	if got := r.tail(-1); len(got) != 1 || len(got[0].Line) != 500 {
		t.Errorf("a line longer than the ring was not kept alone: %d lines", len(got))
	}
}

func TestAFollowerSeesNewLinesAndGaps(t *testing.T) {
	r := newLogRing(1<<10, 4)
	r.add(time.Now(), 0, "a", "b")
	lines, more := r.after(2)
	if len(lines) != 0 {
		t.Fatalf("after the last seq: %v", lines)
	}
	select {
	case <-more:
		t.Fatal("woken before any new line")
	default:
	}
	r.add(time.Now(), 0, "c")
	select {
	case <-more:
	case <-time.After(hang):
		t.Fatal("a new line did not wake the follower")
	}
	lines, _ = r.after(2)
	if len(lines) != 1 || lines[0].Line != "c" || lines[0].Seq != 3 {
		t.Fatalf("after(2) = %v", lines)
	}
	// A slow follower: lines 4..9 arrive, the ring keeps 6..9.
	r.add(time.Now(), 0, "d", "e", "f", "g", "h", "i")
	lines, _ = r.after(3)
	if len(lines) != 4 || lines[0].Seq != 6 {
		t.Errorf("a follower behind the ring got %v; want seq 6.. (the jump tells of the loss)", lines)
	}
}

func TestTheRingGrowsAsLinesComeAndKeepsTheirOrder(t *testing.T) {
	r := newLogRing(1000, 64)
	if len(r.entries) != ringStart {
		t.Fatalf("a new ring has room for %d lines, want %d", len(r.entries), ringStart)
	}
	now := time.Now()
	// Long lines first: the byte bound keeps 10, so the ring wraps
	// around before it is ever full.
	for i := range 25 {
		r.add(now, 0, fmt.Sprintf("%099d", i))
	}
	// Then short ones, which fill it and make it grow from the middle.
	for i := range 100 {
		r.add(now, 0, fmt.Sprint(i))
	}
	got := r.tail(-1)
	if len(got) != 64 || len(r.entries) != 64 {
		t.Fatalf("%d lines held in room for %d, want 64 in 64", len(got), len(r.entries))
	}
	for i, l := range got {
		if want := uint64(125 - 64 + 1 + i); l.Seq != want {
			t.Fatalf("line %d has seq %d, want %d: the order was lost growing", i, l.Seq, want)
		}
	}
}
