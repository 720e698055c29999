package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/internal/control"
	"golang.org/x/sys/unix"
)

// serviceConfig is what a service's bundle says about its supervision.
type serviceConfig struct {
	name        string
	bundle      string
	restart     restarter
	stopSignal  unix.Signal
	stopTimeout time.Duration
	dependsOn   []string
	notify      bool
	// notifyHost is the notify socket's path in init's mount namespace,
	// notifyPath in the container's; they differ only in host test mode.
	notifyHost, notifyPath string
	// err, when set, keeps the service from starting: its bundle or its
	// dependencies are broken.
	err error
}

// loadServiceConfig reads the supervision policy from the annotations of
// the bundle in dir. A broken bundle still gives a config, with err set,
// so that the service is listed as failed and says why.
func loadServiceConfig(name, dir string) serviceConfig {
	cfg := serviceConfig{
		name:        name,
		bundle:      dir,
		restart:     defaultRestarter,
		stopSignal:  unix.SIGTERM,
		stopTimeout: 10 * time.Second,
	}
	spec, err := readSpec(dir)
	if err != nil {
		cfg.err = err
		return cfg
	}
	var errs []error
	if cfg.restart.policy, err = parseRestartPolicy(annotation(spec, bundle.AnnotationRestart)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", bundle.AnnotationRestart, err))
	}
	if v := annotation(spec, bundle.AnnotationStopSignal); v != "" {
		if cfg.stopSignal = unix.SignalNum(v); cfg.stopSignal == 0 {
			errs = append(errs, fmt.Errorf("%s: %q is no signal", bundle.AnnotationStopSignal, v))
		}
	}
	if v := annotation(spec, bundle.AnnotationStopTimeout); v != "" {
		if secs, err := strconv.Atoi(v); err != nil || secs < 0 {
			errs = append(errs, fmt.Errorf("%s: %q is no number of seconds", bundle.AnnotationStopTimeout, v))
		} else {
			cfg.stopTimeout = time.Duration(secs) * time.Second
		}
	}
	for _, d := range strings.Split(annotation(spec, bundle.AnnotationDependsOn), ",") {
		if d = strings.TrimSpace(d); d != "" {
			cfg.dependsOn = append(cfg.dependsOn, d)
		}
	}
	cfg.notify = annotation(spec, bundle.AnnotationNotify) == "true"
	cfg.err = errors.Join(errs...)
	return cfg
}

// containerLauncher starts services as containers through the runner.
type containerLauncher struct{ r *runner }

func (l containerLauncher) Launch(cfg *serviceConfig, out io.Writer) (process, error) {
	var opts []startOption
	if cfg.notifyHost != "" {
		opts = append(opts, withNotifySocket(cfg.notifyHost, cfg.notifyPath))
	}
	c, err := l.r.start(cfg.name, cfg.bundle, out, opts...)
	if err != nil {
		return nil, err
	}
	p := &containerProcess{c: c}
	if cg := c.c.Config().Cgroups; cg != nil {
		p.cgroup = cg.Path
	}
	return p, nil
}

// containerProcess is a service's running container.
type containerProcess struct {
	c      *container
	cgroup string
}

func (p *containerProcess) Pid() int                   { return p.c.pid }
func (p *containerProcess) Signal(sig os.Signal) error { return p.c.signal(sig) }
func (p *containerProcess) Wait() (int, error)         { return p.c.wait() }

func (p *containerProcess) Usage() (*control.Usage, error) {
	if p.cgroup == "" {
		return nil, errors.New("no cgroup")
	}
	return cgroupUsage("/sys/fs/cgroup", p.cgroup)
}
