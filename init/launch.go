package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/minikit/minikit/init/boottime"
	"github.com/minikit/minikit/init/logs"
	"github.com/minikit/minikit/init/supervisor"
	"github.com/minikit/minikit/internal/control"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// startServices loads every service bundle in dir and starts supervising
// them all, as containers.
func (in *initSys) startServices(dir string) {
	in.outputs.Sink(logs.InitName) // /var/log is writable now: init's log gets its file
	sup := supervisor.New(supervisor.Options{
		Launcher:  containerLauncher{in.runner},
		Clock:     systemClock{},
		Logs:      in.outputs,
		GoSafe:    in.goSafe,
		NotifyDir: in.path(privateRun + "/notify"),
	})
	for _, name := range bundlesIn(dir) {
		sup.Add(supervisor.LoadConfig(name, filepath.Join(dir, name)))
	}
	sup.Run()
	in.sup = sup
}

// systemClock is the supervisor's clock on a running system.
type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (systemClock) Boot() time.Duration                    { return boottime.Now() }

// containerLauncher starts services as containers through the runner.
type containerLauncher struct{ r *runner }

func (l containerLauncher) Launch(cfg *supervisor.Config, out io.Writer) (supervisor.Process, error) {
	var opts []startOption
	if cfg.NotifyHost != "" {
		opts = append(opts, withNotifySocket(cfg.NotifyHost, cfg.NotifyPath))
	}
	c, err := l.r.start(cfg.Name, cfg.Bundle, out, opts...)
	if err != nil {
		return nil, err
	}
	p := &containerProcess{c: c}
	if cg := c.c.Config().Cgroups; cg != nil && cg.Path != "" {
		// Without it (a cgroup v1 host in test mode), the service
		// shows no usage.
		p.cgroup, p.cgroupErr = openCgroup("/sys/fs/cgroup", cg.Path)
	} else {
		p.cgroupErr = errors.New("no cgroup")
	}
	return p, nil
}

// withNotifySocket binds the host's socket at hostPath into a container
// at path and names it in NOTIFY_SOCKET. The mount comes last, so it
// lands on top of any bind of its parent directory (such as the
// /run/minikit of a service that uses svcctl).
func withNotifySocket(hostPath, path string) startOption {
	return func(spec *specs.Spec) {
		spec.Mounts = append(spec.Mounts, specs.Mount{
			Destination: path,
			Type:        "bind",
			Source:      hostPath,
			Options:     []string{"bind", "nosuid", "nodev", "noexec"},
		})
		spec.Process.Env = append(spec.Process.Env, "NOTIFY_SOCKET="+path)
	}
}

// containerProcess is a service's running container.
type containerProcess struct {
	c         *container
	cgroup    *cgroupDir // nil when it could not be opened
	cgroupErr error
}

func (p *containerProcess) Pid() int                   { return p.c.pid }
func (p *containerProcess) Signal(sig os.Signal) error { return p.c.signal(sig) }

// Exited is closed once the container's init has exited; Wait then
// returns without waiting.
func (p *containerProcess) Exited() <-chan struct{} { return p.c.exited }

// Wait lets the cgroup go once the container has ended.
func (p *containerProcess) Wait() (int, error) {
	code, err := p.c.wait()
	if p.cgroup != nil {
		p.cgroup.Close()
	}
	return code, err
}

// Usage is read from the container's cgroup, for `svcctl list` and
// `svcctl status`.
func (p *containerProcess) Usage() (*control.Usage, error) {
	if p.cgroup == nil {
		return nil, p.cgroupErr
	}
	return p.cgroup.Usage()
}
