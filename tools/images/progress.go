package images

import (
	"fmt"
	"io"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// progressInterval keeps a progress line from redrawing faster than a
// person can read it.
const progressInterval = 200 * time.Millisecond

// pullProgress draws one self-overwriting line of bytes fetched while a
// pull's layers are copied into the store. A nil *pullProgress draws
// nothing, which is what a pull without a terminal gets.
type pullProgress struct {
	w     io.Writer
	name  string
	total int64

	mu      sync.Mutex
	fetched int64
	drawn   time.Time
}

func newPullProgress(w io.Writer, name string, img v1.Image) *pullProgress {
	if w == nil {
		return nil
	}
	p := &pullProgress{w: w, name: name}
	if layers, err := img.Layers(); err == nil {
		for _, l := range layers {
			if size, err := l.Size(); err == nil {
				p.total += size
			}
		}
	}
	return p
}

// track counts the bytes read through rc.
func (p *pullProgress) track(rc io.ReadCloser) io.ReadCloser {
	if p == nil {
		return rc
	}
	return &countingReader{ReadCloser: rc, add: p.add}
}

func (p *pullProgress) add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fetched += int64(n)
	if now := time.Now(); now.Sub(p.drawn) >= progressInterval {
		p.drawn = now
		p.draw()
	}
}

func (p *pullProgress) draw() {
	fmt.Fprintf(p.w, "\rpull %s: %s / %s\x1b[K", p.name, humanSize(p.fetched), humanSize(p.total))
}

// done draws the final state and ends the line.
func (p *pullProgress) done(err error) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw()
	if err != nil {
		fmt.Fprintln(p.w, " failed")
		return
	}
	fmt.Fprintln(p.w, " done")
}

type countingReader struct {
	io.ReadCloser
	add func(int)
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.ReadCloser.Read(b)
	c.add(n)
	return n, err
}

// humanSize prints a byte count with a decimal unit, as "4.2MB".
func humanSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%cB", float64(n)/float64(div), "kMGTPE"[exp])
}
