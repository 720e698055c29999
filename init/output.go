package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// outputs routes container output: each line goes to the console, tagged
// with the container's name, and to /var/log/NAME.log.
type outputs struct {
	mu      sync.Mutex // one line at a time on the console
	console io.Writer
	logDir  string
}

// forContainer returns the writer for one container's stdout and stderr,
// and a func that flushes and closes it once the container has exited.
func (o *outputs) forContainer(name string) (io.Writer, func()) {
	var file *os.File
	if o.logDir != "" {
		if err := os.MkdirAll(o.logDir, 0o755); err == nil {
			file, _ = os.OpenFile(filepath.Join(o.logDir, name+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		}
	}
	w := &lineWriter{emit: func(line string) {
		stamp := fmt.Sprintf("[%9.3f] ", sinceBoot().Seconds())
		o.mu.Lock()
		fmt.Fprintf(o.console, "%s%s: %s\n", stamp, name, line)
		o.mu.Unlock()
		if file != nil {
			fmt.Fprintf(file, "%s%s\n", stamp, line)
		}
	}}
	return w, func() {
		w.Flush()
		if file != nil {
			file.Close()
		}
	}
}
