// Package observer is the process that takes the system's logs and
// metrics off the machine, so that PID 1 does not have to: it ships every
// log line init hands it (init/handoff) to the destinations of the spec's
// `observe` section (init/logship), and serves the metrics to a
// Prometheus server (init/metrics).
//
// Init starts it only when the image or the kernel command line asks for
// either, as a binary of its own (cmd/minikit-observe, which the image
// has at observe.ObserverBinary), and restarts it if it dies. What
// reaches the network, TLS and an HTTP server are thus in a process of
// their own: PID 1 stays small, and a receiver that misbehaves can at
// worst stall the observer, whose lines then wait in the hand-off socket
// and are dropped and counted past its bound.
package observer

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"reflect"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minikit/minikit/init/handoff"
	"github.com/minikit/minikit/init/logship"
	"github.com/minikit/minikit/init/metrics"
	"github.com/minikit/minikit/internal/control"
	"github.com/minikit/minikit/internal/observe"
)

// statsEvery is how often the shipping figures go back to init, for
// `svcctl metrics`; the metrics listener reads them live.
const statsEvery = 2 * time.Second

// drainWait bounds how long the lines still queued get once init says
// the system shuts down.
const drainWait = 2 * time.Second

// Main is the observer's main: it returns the exit status.
func Main(args []string) int {
	// Init stamps each line of the observer's log; a second time is noise.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	})))
	if len(args) != 2 {
		slog.Error("usage: " + observe.ObserverName + " ARGS-JSON (init starts it)")
		return 2
	}
	var a observe.ObserverArgs
	if err := json.Unmarshal([]byte(args[1]), &a); err != nil {
		slog.Error("unreadable arguments", "err", err)
		return 2
	}
	// Before anything from the network is read: an observer that cannot
	// give up its privileges does not run.
	if err := confine(); err != nil {
		slog.Error("cannot give up the privileges the observer does not need", "err", err)
		return 1
	}
	signal.Ignore(unix.SIGHUP, unix.SIGPIPE)
	// SIGTERM comes at the end of a shutdown, after init's end message,
	// or from someone else: either way the queued lines get their chance.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, unix.SIGTERM, unix.SIGINT)
	if err := Run(a, os.NewFile(observe.HandoffFD, "handoff"), stop); err != nil {
		slog.Error("observer stopped", "err", err)
		return 1
	}
	return 0
}

// Run ships and serves until init ends the hand-off or stop receives.
func Run(a observe.ObserverArgs, handoffFile *os.File, stop <-chan os.Signal) error {
	return run(a, handoffFile, stop, func() (net.Listener, error) { return net.Listen("tcp", a.Config.Metrics) })
}

// run is Run with the metrics listener made by listen.
func run(a observe.ObserverArgs, handoffFile *os.File, stop <-chan os.Signal, listen func() (net.Listener, error)) error {
	recv, err := handoff.NewReceiver(handoffFile)
	if err != nil {
		return err
	}
	o := &observer{args: a, recv: recv, listen: listen}
	if err := o.startShippers(); err != nil {
		slog.Error("log destinations left out", "err", err)
	}
	if a.Config.Metrics != "" {
		go o.serveMetrics()
	}
	go o.reportStats()

	ended := make(chan error, 1)
	go func() {
		ended <- recv.Receive(func(l handoff.Line) {
			e := logship.Entry{Time: l.Time, Service: l.Log, Stream: l.Stream, Message: l.Message}
			for _, s := range o.shippers {
				s.Offer(e)
			}
		}, func(log string, n uint64) {
			for _, s := range o.shippers {
				s.Lost(log, n)
			}
		})
	}()
	select {
	case err = <-ended:
		if errors.Is(err, handoff.ErrEnd) {
			err = nil
		}
	case <-stop:
	}
	o.drain()
	return err
}

type observer struct {
	args     observe.ObserverArgs
	recv     *handoff.Receiver
	listen   func() (net.Listener, error)
	shippers []*logship.Shipper
	// lastStats are the figures init has.
	lastStats []control.ShipStats
}

func (o *observer) startShippers() error {
	dests, err := logship.ParseAll(o.args.Config.Logs)
	cfg := logship.Config{BootID: o.args.BootID, QueueLines: o.args.Config.LogQueue}
	if o.args.Config.LogCA != "" {
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM([]byte(o.args.LogCA)) {
			// syslog+tls destinations will refuse every receiver, and say
			// so in their metrics; better than trusting any.
			slog.Error("no CA for the syslog+tls destinations: they will reach no receiver", "ca", o.args.Config.LogCA)
		}
	}
	for _, d := range dests {
		s := logship.New(d, cfg)
		o.shippers = append(o.shippers, s)
		go s.Run(context.Background())
		slog.Info("shipping every log", "to", d.String())
	}
	return err
}

// stats are the shippers' figures now.
func (o *observer) stats() []control.ShipStats {
	st := make([]control.ShipStats, 0, len(o.shippers))
	for _, s := range o.shippers {
		st = append(st, s.Stats())
	}
	return st
}

// reportStats sends the figures to init when they changed.
func (o *observer) reportStats() {
	if len(o.shippers) == 0 {
		return
	}
	for {
		st := o.stats()
		if !reflect.DeepEqual(st, o.lastStats) {
			if err := o.recv.SendStats(st); err != nil {
				slog.Warn("shipping figures not sent to init", "err", err)
			}
			o.lastStats = st
		}
		time.Sleep(statsEvery)
	}
}

// serveMetrics listens on addr, again and again while the address is not
// the system's yet (dhcpcd has not configured it), and serves the
// metrics there.
func (o *observer) serveMetrics() {
	addr := o.args.Config.Metrics
	client := control.NewClient(o.args.Control)
	var l net.Listener
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		var err error
		if l, err = o.listen(); err == nil {
			break
		}
		slog.Warn("no metrics listener yet; trying again", "addr", addr, "in", wait, "err", err)
		time.Sleep(wait)
	}
	slog.Info("serving metrics", "addr", l.Addr().String())
	control.ServeMetrics(l, func(w io.Writer) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m, err := client.Metrics(ctx)
		if err != nil {
			return fmt.Errorf("from init: %w", err)
		}
		m.Shipping = o.stats() // live, not as last reported
		return metrics.Write(w, m)
	}, control.DefaultLimits, nil)
}

// drain gives the queued lines a last, bounded chance.
func (o *observer) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), drainWait)
	defer cancel()
	for _, s := range o.shippers {
		if !s.Drain(ctx) {
			st := s.Stats()
			slog.Warn("shutdown: log lines not shipped", "to", st.Destination, "queued", st.Queued)
		}
	}
	if len(o.shippers) > 0 {
		_ = o.recv.SendStats(o.stats())
	}
}
