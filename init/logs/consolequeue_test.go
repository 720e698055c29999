package logs

import (
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// init logs on, without waiting, while its console takes nothing; once
// the console moves again it shows the lines that fitted, in order, and
// says how many it dropped, so that none goes missing unsaid.
func TestInitsLogNeverWaitsForTheConsole(t *testing.T) {
	console := &stuckConsole{release: make(chan struct{})}
	o := New(console, "", nil)
	q := o.queue
	logger := slog.New(o.Handler(slog.LevelInfo))
	total := 3 * initConsoleShare
	for i := range total { // would hang here at the first line if logging waited
		logger.Info(fmt.Sprint("line ", i))
	}
	close(console.release)
	q.flush(hang)
	logger.Info("after the stall")
	q.flush(hang)

	c := console.String()
	shown := regexp.MustCompile(`\] line (\d+)\n`).FindAllStringSubmatch(c, -1)
	for i, m := range shown {
		if m[1] != strconv.Itoa(i) {
			t.Fatalf("line %d on the console is line %s: the console shows lines out of order or with holes", i, m[1])
		}
	}
	note := regexp.MustCompile(`\] \((\d+) lines dropped from the console; see svcctl logs init\)\n`).FindStringSubmatch(c)
	if note == nil {
		t.Fatalf("the console does not say it dropped lines:\n...%s", c[max(0, len(c)-300):])
	}
	if dropped, _ := strconv.Atoi(note[1]); len(shown)+dropped != total {
		t.Errorf("%d lines shown and %d said dropped, of %d", len(shown), dropped, total)
	}
	if !strings.HasSuffix(c, "] after the stall\n") {
		t.Errorf("the console does not end with the line logged after the stall:\n...%s", c[max(0, len(c)-300):])
	}
}

// A service's flood leaves init's own lines their room on the console.
func TestAFloodLeavesInitsLinesTheirRoom(t *testing.T) {
	console := &stuckConsole{release: make(chan struct{})}
	o := New(console, "", nil)
	for i := range 20 {
		s := o.Sink(fmt.Sprint("flood", i))
		for j := range consoleShare {
			s.write(time.Time{}, 0, []string{fmt.Sprint("flood ", j)})
		}
	}
	logger := slog.New(o.Handler(slog.LevelInfo))
	logger.Info("service x exited 1")
	close(console.release)
	o.queue.flush(hang)
	if c := console.String(); !strings.Contains(c, "] service x exited 1\n") {
		t.Errorf("init's line did not reach the console:\n...%s", c[max(0, len(c)-300):])
	}
}
