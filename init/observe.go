package main

import (
	"cmp"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/minikit/minikit/init/logship"
	"github.com/minikit/minikit/init/metrics"
	"github.com/minikit/minikit/internal/observe"
)

// startShipping ships every log to the destinations the image's
// observe.json and the kernel command line name. A destination that is
// wrong is named on the console and left out; the others still go.
func (in *initSys) startShipping(cmdline string) {
	cfg, err := observe.Read(in.path(observe.File))
	if err != nil {
		slog.Error("the image's observe settings are unreadable; only the kernel command line's apply", "err", err)
	}
	cfg.Merge(observe.FromCmdline(cmdline))
	in.observe = cfg
	dests, err := logship.ParseAll(cfg.Logs)
	if err != nil {
		slog.Error("log destinations left out", "err", err)
	}
	if len(dests) == 0 {
		return
	}
	lc := logship.Config{BootID: strings.TrimSpace(readFile("/proc/sys/kernel/random/boot_id")), QueueLines: cfg.LogQueue}
	if cfg.LogCA != "" {
		lc.RootCAs, err = readCAs(in.path(cfg.LogCA))
		if err != nil {
			// syslog+tls destinations will refuse every receiver, and say
			// so in their metrics; better than trusting any.
			slog.Error("no CA for the syslog+tls destinations: they will reach no receiver", "err", err)
			lc.RootCAs = x509.NewCertPool()
		}
	}
	for _, d := range dests {
		s := logship.New(d, lc)
		in.shippers = append(in.shippers, s)
		in.goSafe("logship "+d.String(), func() { s.Run(context.Background()) })
		slog.Info("shipping every log", "to", d.String(), "queue", cmp.Or(lc.QueueLines, logship.DefaultQueueLines))
	}
	shippers := in.shippers
	in.outputs.ShipTo(func(name, stream string, wall time.Time, lines []string) {
		for _, l := range lines {
			e := logship.Entry{Time: wall, Service: name, Stream: stream, Message: l}
			for _, s := range shippers {
				s.Offer(e)
			}
		}
	})
}

func readCAs(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// shipDrainWait bounds how long a shutdown waits for lines still queued
// for a collector.
const shipDrainWait = 2 * time.Second

// drainShipping gives the queued lines a last chance to leave.
func (in *initSys) drainShipping() {
	if len(in.shippers) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), shipDrainWait)
	defer cancel()
	for _, s := range in.shippers {
		if !s.Drain(ctx) {
			st := s.Stats()
			slog.Warn("shutdown: log lines not shipped", "to", st.Destination, "queued", st.Queued)
		}
	}
}

// Metrics writes what init knows of the system (init/metrics).
func (b controlBackend) Metrics(w io.Writer) error {
	snap := metrics.Snapshot{Services: b.sup.Statuses(), Phases: b.timeline.Phases(), Init: *initMemory()}
	for _, v := range b.outputs.Volumes() {
		snap.Logs = append(snap.Logs, metrics.Log{Name: v.Name, Lines: v.Lines, Bytes: v.Bytes})
	}
	for _, s := range b.shippers {
		snap.Shipping = append(snap.Shipping, s.Stats())
	}
	return metrics.Write(w, snap)
}
