package harness

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// errKernelPanic is the cause Expect reports when the kernel panicked.
var errKernelPanic = errors.New("kernel panic")

// panicTraceGrace is how long a panicking machine may keep printing (the
// trace and the register dump follow the "Kernel panic" line) before it is
// killed: a kernel without panic=N would otherwise hang until the test's
// own timeout.
const panicTraceGrace = 3 * time.Second

// watchForPanic reads the whole console and fails the test on the first
// kernel panic, whatever the test itself is waiting for.
func (m *Machine) watchForPanic() {
	defer close(m.watcherStopped)
	console := m.vm.Console()
	for i := 0; ; i++ {
		line, err := console.Line(context.Background(), i)
		if err != nil {
			return // the console ended
		}
		if !strings.Contains(line, "Kernel panic") {
			continue
		}
		m.t.Errorf("%s: kernel panic on console line %d: %s", m.image, i, line)
		m.reportPanic(fmt.Errorf("%w on console line %d: %s", errKernelPanic, i, line))
		time.AfterFunc(panicTraceGrace, m.vm.Kill)
		return // one report is enough
	}
}
