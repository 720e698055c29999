package supervisor

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/minikit/minikit/internal/bundle"
	"golang.org/x/sys/unix"
)

// Config is what a service's bundle says about its supervision, and what
// its Launcher needs to start it.
type Config struct {
	Name   string
	Bundle string // the bundle's directory
	// NotifyHost is the notify socket's path in init's mount namespace,
	// NotifyPath in the container's ("" for a service that does not
	// notify); they differ only in host test mode.
	NotifyHost, NotifyPath string

	restart     restarter
	stopSignal  unix.Signal
	stopTimeout time.Duration
	dependsOn   []string
	notify      bool
	// err, when set, keeps the service from starting: its bundle or its
	// dependencies are broken.
	err error
}

// LoadConfig reads the supervision policy from the annotations of the
// bundle in dir. A broken bundle still gives a config, one that says what
// is wrong, so that the service is listed as failed and says why.
func LoadConfig(name, dir string) Config {
	cfg := Config{
		Name:        name,
		Bundle:      dir,
		restart:     defaultRestarter,
		stopSignal:  unix.SIGTERM,
		stopTimeout: 10 * time.Second,
	}
	spec, err := bundle.ReadSpec(dir)
	if err != nil {
		cfg.err = err
		return cfg
	}
	annotation := func(key string) string { return spec.Annotations[key] }
	var errs []error
	if cfg.restart.policy, err = parseRestartPolicy(annotation(bundle.AnnotationRestart)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", bundle.AnnotationRestart, err))
	}
	if v := annotation(bundle.AnnotationStopSignal); v != "" {
		if cfg.stopSignal = unix.SignalNum(v); cfg.stopSignal == 0 {
			errs = append(errs, fmt.Errorf("%s: %q is no signal", bundle.AnnotationStopSignal, v))
		}
	}
	if v := annotation(bundle.AnnotationStopTimeout); v != "" {
		if secs, err := strconv.Atoi(v); err != nil || secs < 0 {
			errs = append(errs, fmt.Errorf("%s: %q is no number of seconds", bundle.AnnotationStopTimeout, v))
		} else {
			cfg.stopTimeout = time.Duration(secs) * time.Second
		}
	}
	for _, d := range strings.Split(annotation(bundle.AnnotationDependsOn), ",") {
		if d = strings.TrimSpace(d); d != "" {
			cfg.dependsOn = append(cfg.dependsOn, d)
		}
	}
	cfg.notify = annotation(bundle.AnnotationNotify) == "true"
	cfg.err = errors.Join(errs...)
	return cfg
}
