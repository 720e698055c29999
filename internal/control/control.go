// Package control is the contract between init's control API and its
// clients (svcctl, tests): where the socket is, the JSON that travels over
// it, and a small client. The API is HTTP with JSON on a unix socket, so
// `curl --unix-socket /run/minikit/control.sock http://init/v1/services`
// works as well as svcctl does.
package control

import (
	"time"
)

// Socket is where init serves its control API. Only root may use it,
// and a change (start, stop, restart, poweroff, reboot) needs the
// capability it names in the caller's effective set: CapServices or
// CapPower.
const Socket = "/run/minikit/control.sock"

// The capabilities the API's changes need.
const (
	CapServices = "CAP_SYS_ADMIN" // start, stop, restart
	CapPower    = "CAP_SYS_BOOT"  // poweroff, reboot
)

// NotifyDir holds each notify service's sd_notify socket, one per service
// (NotifyDir/NAME). The same path is bound into the service's container
// and named by NOTIFY_SOCKET there.
const NotifyDir = "/run/minikit/notify"

// The API's endpoints. {name} is a service's name, or for logs any name
// that has logs: a service, an onboot container ("000-NAME") or "init".
const (
	PathServices = "/v1/services"                 // GET: []Service
	PathService  = "/v1/services/{name}"          // GET: Service
	PathAction   = "/v1/services/{name}/{action}" // POST start, stop, restart: Service
	PathLogs     = "/v1/logs/{name}"              // GET ?lines=N&follow=true: LogLine, one JSON object a line
	PathAnalyze  = "/v1/analyze"                  // GET: Analysis
	PathMetrics  = "/v1/metrics"                  // GET: Metrics (svcctl metrics writes them as Prometheus text)
	PathPoweroff = "/v1/poweroff"                 // POST: 202 Accepted
	PathReboot   = "/v1/reboot"                   // POST: 202 Accepted
)

// MetricsContentType is the type of the metrics a metrics listener
// (ServeMetrics) answers with: Prometheus' text exposition format.
const MetricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// Service states.
const (
	StateStarting = "starting" // waiting for its dependencies, or being created
	StateRunning  = "running"  // its process runs (a notify service has not said READY=1 yet)
	StateReady    = "ready"    // a notify service said READY=1
	StateExited   = "exited"   // it ended and its policy does not restart it
	StateBackoff  = "backoff"  // it ended and waits before its restart
	StateStopping = "stopping" // asked to stop, its process has not exited yet
	StateStopped  = "stopped"  // stopped on request
	StateFailed   = "failed"   // crash-looped, failed to start, or exited non-zero for good
)

// Service is the state of one service, as list and status report it.
type Service struct {
	Name  string `json:"name"`
	State string `json:"state"`
	// Ready tells whether services that depend on this one may start:
	// it is running (ready, for a notify service).
	Ready    bool `json:"ready"`
	Pid      int  `json:"pid,omitempty"`
	Restarts int  `json:"restarts"`
	// Since is when the service entered its state.
	Since time.Time `json:"since"`
	// Started is when its current process started (zero when none runs).
	Started time.Time `json:"started,omitzero"`
	// UptimeSeconds is how long its current process has run.
	UptimeSeconds float64 `json:"uptimeSeconds,omitempty"`
	// Status is the last STATUS= the service sent over sd_notify.
	Status string `json:"status,omitempty"`
	// LastExit is the exit status of its last process (128+N for signal N).
	LastExit *int `json:"lastExit,omitempty"`
	// Error says why the service failed or waits, when it does.
	Error     string   `json:"error,omitempty"`
	Restart   string   `json:"restart"` // always, on-failure, never
	DependsOn []string `json:"dependsOn,omitempty"`
	Notify    bool     `json:"notify,omitempty"`
	// Usage is read from the service's cgroup while it runs.
	Usage *Usage `json:"usage,omitempty"`
}

// Usage is a running service's resource use and limits, from its cgroup.
// A limit of 0 means none.
type Usage struct {
	Cgroup      string `json:"cgroup"`
	MemoryBytes uint64 `json:"memoryBytes"`
	MemoryLimit uint64 `json:"memoryLimit,omitempty"`
	CPUMicros   uint64 `json:"cpuMicros"`
	Pids        uint64 `json:"pids"`
	PidsLimit   uint64 `json:"pidsLimit,omitempty"`
}

// LogLine is one line of a service's (or init's) output.
type LogLine struct {
	// Seq numbers the lines of one log from 1; a jump tells that lines
	// were dropped from the ring before they could be read.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Boot is the time since the kernel started, which is what the
	// console and the files under /var/log show.
	Boot time.Duration `json:"boot"`
	Line string        `json:"line"`
}

// Phase is one timed step of boot, in time since the kernel started.
type Phase struct {
	Name  string        `json:"name"`
	Start time.Duration `json:"start"`
	End   time.Duration `json:"end"`
}

// ServiceTimes is when a service reached each step of its first start, in
// time since the kernel started; zero for a step not reached.
type ServiceTimes struct {
	Name    string        `json:"name"`
	Waiting time.Duration `json:"waiting,omitempty"` // began waiting for its dependencies
	Started time.Duration `json:"started,omitempty"` // its process was started
	Ready   time.Duration `json:"ready,omitempty"`   // it became ready
}

// Analysis is the boot timeline `svcctl analyze` shows.
type Analysis struct {
	Now      time.Duration  `json:"now"`
	Phases   []Phase        `json:"phases"`
	Services []ServiceTimes `json:"services"`
	// Init is what PID 1 itself holds at Now (`svcctl analyze --json`
	// only): for benchmarks and for anyone who wonders.
	Init *InitMemory `json:"init,omitempty"`
}

// InitMemory is PID 1's own memory, as the kernel and the Go runtime
// count it.
type InitMemory struct {
	// RSSBytes is its resident memory (VmRSS): RSSAnonBytes, the heap,
	// stacks and the runtime's own, plus RSSFileBytes, the pages of its
	// binary it touched.
	RSSBytes     uint64 `json:"rssBytes"`
	RSSAnonBytes uint64 `json:"rssAnonBytes"`
	RSSFileBytes uint64 `json:"rssFileBytes"`
	// HeapBytes is the Go heap's objects, live or not yet swept.
	HeapBytes uint64 `json:"heapBytes"`
	// RuntimeBytes is all the memory the Go runtime has mapped and not
	// returned to the kernel (heap, stacks, its own structures).
	RuntimeBytes uint64 `json:"runtimeBytes"`
	Goroutines   int    `json:"goroutines"`
}

// Error is the body of every 4xx and 5xx answer.
type Error struct {
	Error string `json:"error"`
	// Suggestions are known names close to an unknown one.
	Suggestions []string `json:"suggestions,omitempty"`
	// Capability is, on a 403, the capability (such as CAP_SYS_BOOT) the
	// caller lacks in its effective set for what it asked.
	Capability string `json:"capability,omitempty"`
}

// Metrics is what init knows of the system for its metrics, as data:
// PID 1 does not write Prometheus' text format, svcctl and the observer
// do (init/metrics).
type Metrics struct {
	Services []Service `json:"services"`
	// Logs are the volumes of every log.
	Logs []LogVolume `json:"logs"`
	// Shipping is what each log destination has done, as the observer
	// last reported it.
	Shipping []ShipStats `json:"shipping,omitempty"`
	// Phases are the boot's timed steps.
	Phases []Phase `json:"phases"`
	// Init is PID 1's own memory and goroutines.
	Init InitMemory `json:"init"`
}

// LogVolume is what one log has taken: a service's, an onboot
// container's or init's.
type LogVolume struct {
	Name  string `json:"name"`
	Lines uint64 `json:"lines"`
	Bytes uint64 `json:"bytes"`
}

// ShipStats is what the shipper of one log destination has done.
type ShipStats struct {
	Destination string `json:"destination"`
	Connected   bool   `json:"connected"`
	Queued      int    `json:"queued"`
	Sent        uint64 `json:"sent"`
	Dropped     uint64 `json:"dropped"`
	// DroppedBy counts the dropped lines by the log they came from.
	DroppedBy map[string]uint64 `json:"droppedBy,omitempty"`
	LastError string            `json:"lastError,omitempty"`
}
