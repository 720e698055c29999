package imagespec

import (
	"math"

	"github.com/goccy/go-yaml/ast"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// number is the integer types of OCI resource fields.
type number interface {
	~int | ~int64 | ~uint64 | ~uint32 | ~uint16
}

// setNum returns a reader that stores a whole number in [lo, hi] in *dst.
func setNum[T number](d *decoder, dst **T, lo, hi int64) func(ast.Node, string) {
	return func(n ast.Node, p string) {
		if v, ok := d.integer(n, p, lo, hi); ok {
			t := T(v)
			*dst = &t
		}
	}
}

// setStr returns a reader that stores a string in *dst.
func setStr(d *decoder, dst *string) func(ast.Node, string) {
	return func(n ast.Node, p string) {
		if v, ok := d.str(n, p); ok {
			*dst = v
		}
	}
}

// setBool returns a reader that stores true or false in *dst.
func setBool(d *decoder, dst **bool) func(ast.Node, string) {
	return func(n ast.Node, p string) {
		if v, ok := d.boolean(n, p); ok {
			*dst = v
		}
	}
}

const (
	maxU16 = math.MaxUint16
	maxU32 = math.MaxUint32
	maxI64 = math.MaxInt64
	minI64 = math.MinInt64
)

// resources reads the OCI cgroup limits with their OCI (JSON) key names,
// which are also the names LinuxKit's schema documents.
func (d *decoder) resources(n ast.Node, path string) *specs.LinuxResources {
	r := &specs.LinuxResources{}
	d.object(n, path, fields{
		"devices": func(n ast.Node, p string) {
			items, _ := d.list(n, p, "device rules")
			r.Devices = []specs.LinuxDeviceCgroup{}
			for i, item := range items {
				var dc specs.LinuxDeviceCgroup
				ip := index(p, i)
				d.object(item, ip, fields{
					"allow": func(n ast.Node, p string) {
						if b, ok := d.boolean(n, p); ok {
							dc.Allow = *b
						}
					},
					"type": func(n ast.Node, p string) {
						if s, ok := d.str(n, p); ok {
							if s != "a" && s != "b" && s != "c" {
								d.errorf(d.pos(n), p, "%q is not a device type (allowed: a, b or c)", s)
							}
							dc.Type = s
						}
					},
					"major": setNum(d, &dc.Major, -1, maxI64),
					"minor": setNum(d, &dc.Minor, -1, maxI64),
					"access": func(n ast.Node, p string) {
						if s, ok := d.str(n, p); ok {
							for _, c := range s {
								if c != 'r' && c != 'w' && c != 'm' {
									d.errorf(d.pos(n), p, "%q is not a device access (allowed: letters r, w, m)", s)
									break
								}
							}
							dc.Access = s
						}
					},
				})
				r.Devices = append(r.Devices, dc)
			}
		},
		"memory": func(n ast.Node, p string) {
			m := &specs.LinuxMemory{}
			d.object(n, p, fields{
				"limit":            setNum(d, &m.Limit, -1, maxI64),
				"reservation":      setNum(d, &m.Reservation, -1, maxI64),
				"swap":             setNum(d, &m.Swap, -1, maxI64),
				"kernel":           setNum(d, &m.Kernel, -1, maxI64),
				"kernelTCP":        setNum(d, &m.KernelTCP, -1, maxI64),
				"swappiness":       setNum(d, &m.Swappiness, 0, 100),
				"disableOOMKiller": setBool(d, &m.DisableOOMKiller),
			})
			r.Memory = m
		},
		"cpu": func(n ast.Node, p string) {
			c := &specs.LinuxCPU{}
			d.object(n, p, fields{
				"shares":          setNum(d, &c.Shares, 0, maxI64),
				"quota":           setNum(d, &c.Quota, -1, maxI64),
				"burst":           setNum(d, &c.Burst, 0, maxI64),
				"period":          setNum(d, &c.Period, 0, maxI64),
				"realtimeRuntime": setNum(d, &c.RealtimeRuntime, minI64, maxI64),
				"realtimePeriod":  setNum(d, &c.RealtimePeriod, 0, maxI64),
				"cpus":            setStr(d, &c.Cpus),
				"mems":            setStr(d, &c.Mems),
				"idle":            setNum(d, &c.Idle, 0, 1),
			})
			r.CPU = c
		},
		"pids": func(n ast.Node, p string) {
			pl := &specs.LinuxPids{}
			d.object(n, p, fields{"limit": setNum(d, &pl.Limit, -1, maxI64)})
			r.Pids = pl
		},
		"blockio":        func(n ast.Node, p string) { r.BlockIO = d.blockIO(n, p) },
		"blockIO":        func(n ast.Node, p string) { r.BlockIO = d.blockIO(n, p) },
		"hugepageLimits": func(n ast.Node, p string) { r.HugepageLimits = d.hugepageLimits(n, p) },
		"network": func(n ast.Node, p string) {
			nw := &specs.LinuxNetwork{}
			d.object(n, p, fields{
				"classID": setNum(d, &nw.ClassID, 0, maxU32),
				"priorities": func(n ast.Node, p string) {
					items, _ := d.list(n, p, "interface priorities")
					for i, item := range items {
						var ip specs.LinuxInterfacePriority
						var prio *uint32
						d.object(item, index(p, i), fields{
							"name":     setStr(d, &ip.Name),
							"priority": setNum(d, &prio, 0, maxU32),
						})
						if prio != nil {
							ip.Priority = *prio
						}
						nw.Priorities = append(nw.Priorities, ip)
					}
				},
			})
			r.Network = nw
		},
		"unified": func(n ast.Node, p string) { r.Unified = d.strMap(n, p, nil) },
	})
	return r
}

func (d *decoder) blockIO(n ast.Node, path string) *specs.LinuxBlockIO {
	b := &specs.LinuxBlockIO{}
	throttle := func(dst *[]specs.LinuxThrottleDevice) func(ast.Node, string) {
		return func(n ast.Node, p string) {
			items, _ := d.list(n, p, "devices")
			for i, item := range items {
				var td specs.LinuxThrottleDevice
				var major, minor *int64
				var rate *uint64
				d.object(item, index(p, i), fields{
					"major": setNum(d, &major, 0, maxI64),
					"minor": setNum(d, &minor, 0, maxI64),
					"rate":  setNum(d, &rate, 0, maxI64),
				})
				if major != nil {
					td.Major = *major
				}
				if minor != nil {
					td.Minor = *minor
				}
				if rate != nil {
					td.Rate = *rate
				}
				*dst = append(*dst, td)
			}
		}
	}
	d.object(n, path, fields{
		"weight":     setNum(d, &b.Weight, 0, maxU16),
		"leafWeight": setNum(d, &b.LeafWeight, 0, maxU16),
		"weightDevice": func(n ast.Node, p string) {
			items, _ := d.list(n, p, "devices")
			for i, item := range items {
				var wd specs.LinuxWeightDevice
				var major, minor *int64
				d.object(item, index(p, i), fields{
					"major":      setNum(d, &major, 0, maxI64),
					"minor":      setNum(d, &minor, 0, maxI64),
					"weight":     setNum(d, &wd.Weight, 0, maxU16),
					"leafWeight": setNum(d, &wd.LeafWeight, 0, maxU16),
				})
				if major != nil {
					wd.Major = *major
				}
				if minor != nil {
					wd.Minor = *minor
				}
				b.WeightDevice = append(b.WeightDevice, wd)
			}
		},
		"throttleReadBpsDevice":   throttle(&b.ThrottleReadBpsDevice),
		"throttleWriteBpsDevice":  throttle(&b.ThrottleWriteBpsDevice),
		"throttleReadIOPSDevice":  throttle(&b.ThrottleReadIOPSDevice),
		"throttleWriteIOPSDevice": throttle(&b.ThrottleWriteIOPSDevice),
	})
	return b
}

func (d *decoder) hugepageLimits(n ast.Node, path string) []specs.LinuxHugepageLimit {
	items, _ := d.list(n, path, "hugepage limits")
	out := []specs.LinuxHugepageLimit{}
	for i, item := range items {
		var hl specs.LinuxHugepageLimit
		var limit *uint64
		d.object(item, index(path, i), fields{
			"pageSize": setStr(d, &hl.Pagesize),
			"limit":    setNum(d, &limit, 0, maxI64),
		})
		if limit != nil {
			hl.Limit = *limit
		}
		out = append(out, hl)
	}
	return out
}
