package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// cleanup stops the machine, saves its console, and explains a failure.
func (m *Machine) cleanup() {
	t := m.t
	select {
	case <-m.vm.Done():
	default:
		m.vm.Kill()
		if !m.waited.Load() && !t.Failed() && !t.Skipped() {
			// vmtest's guard: a test that never waited could not have
			// checked that the guest shuts down, and it may have ended
			// before the guest did what the test believes it did.
			t.Errorf("%s was still running when the test ended, so it was killed: "+
				"end the test with m.Shutdown(timeout), or m.Powerdown() and m.WaitExit(timeout)", m.image)
		}
	}
	exit, _ := m.vm.Wait()
	m.cancel()
	// The watcher may report a panic from the last lines; let it finish
	// while the test can still be marked failed.
	<-m.watcherStopped

	path, err := m.saveConsole()
	if err != nil {
		t.Errorf("save the console log of %s: %v", m.image, err)
	}
	if !t.Failed() {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s stopped: %v\n", m.image, exit)
	fmt.Fprintf(&b, "console log: %s\n", path)
	fmt.Fprintf(&b, "qemu command: %s", m.vm.CommandLine())
	if os.Getenv(LogsEnv) == "" {
		// The temporary directory goes away with the test; show the end
		// here and say how to keep the whole log.
		fmt.Fprintf(&b, "\n(set %s=DIR to keep console logs)\n%s", LogsEnv, m.tail())
	}
	t.Log(b.String())
}

// logNames remembers the log files written in this process, so that two
// machines in one test do not overwrite each other's log while a rerun
// still replaces the log of the run before.
var logNames = struct {
	sync.Mutex
	used map[string]bool
}{used: make(map[string]bool)}

// saveConsole writes the whole console to a file named after the test.
func (m *Machine) saveConsole() (string, error) {
	base := logFileBase(m.t.Name())
	logNames.Lock()
	name := base + ".console.log"
	for n := 2; logNames.used[filepath.Join(m.logDir, name)]; n++ {
		name = fmt.Sprintf("%s.%d.console.log", base, n)
	}
	path := filepath.Join(m.logDir, name)
	logNames.used[path] = true
	logNames.Unlock()

	var b strings.Builder
	for _, l := range m.vm.Console().Lines() {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return path, err
	}
	return path, nil
}

// logFileBase turns a test name such as "TestBoot/with disk" into a safe
// file name.
func logFileBase(testName string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, testName)
}
