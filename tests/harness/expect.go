package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// tailLines is how much of the console a failure message shows.
const tailLines = 50

// Match is a console line that matched an Expect pattern.
type Match struct {
	// Index is the line's number on the console, counting from 0; compare
	// two Matches' Index to check the order of events.
	Index int
	// Line is the whole console line.
	Line string
	// Groups are the pattern's submatches: Groups[0] is the matched text,
	// Groups[1] the first parenthesised group, and so on.
	Groups []string
}

// Expect waits up to timeout for a console line matching the regular
// expression pattern, searching from the first line the machine printed,
// and fails the test with the last console lines when none comes: because
// time ran out, the machine stopped, or the kernel panicked.
func (m *Machine) Expect(pattern string, timeout time.Duration) Match {
	m.t.Helper()
	return m.expect(0, pattern, timeout)
}

// ExpectAfter is Expect searching only the lines after prev, to wait for
// the next occurrence of something or to insist on an order.
func (m *Machine) ExpectAfter(prev Match, pattern string, timeout time.Duration) Match {
	m.t.Helper()
	return m.expect(prev.Index+1, pattern, timeout)
}

func (m *Machine) expect(from int, pattern string, timeout time.Duration) Match {
	m.t.Helper()
	re, err := regexp.Compile(pattern)
	if err != nil {
		m.t.Fatalf("expect pattern %q: %v", pattern, err)
	}
	match, err := m.find(re, from, timeout)
	if err != nil {
		m.t.Fatalf("%s: no console line matching %q after line %d: %v\n%s",
			m.image, pattern, from, err, m.tail())
	}
	return match
}

// find scans the console from line number from until a line matches.
func (m *Machine) find(re *regexp.Regexp, from int, timeout time.Duration) (Match, error) {
	ctx, cancel := context.WithTimeout(m.panicked, timeout)
	defer cancel()
	console := m.vm.Console()
	for i := from; ; i++ {
		line, err := console.Line(ctx, i)
		if err == nil {
			if groups := re.FindStringSubmatch(line); groups != nil {
				return Match{Index: i, Line: line, Groups: groups}, nil
			}
			continue
		}
		// A panic ends the wait early and is the real story, even when
		// the machine has stopped since.
		if cause := context.Cause(m.panicked); errors.Is(cause, errKernelPanic) {
			return Match{}, cause
		}
		switch {
		case errors.Is(err, io.EOF):
			return Match{}, m.exitedEarly()
		case errors.Is(err, context.DeadlineExceeded):
			return Match{}, fmt.Errorf("timed out after %v", timeout)
		}
		return Match{}, err
	}
}

// tail is the end of the console, ready to print.
func (m *Machine) tail() string {
	lines := m.Lines()
	first := m.vm.Console().First()
	if len(lines) > tailLines {
		first += len(lines) - tailLines
		lines = lines[len(lines)-tailLines:]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- console from line %d ---\n", first)
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	b.WriteString("--- end of console ---")
	return b.String()
}
