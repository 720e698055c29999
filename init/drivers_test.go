package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/minikit/minikit/rootfs/kmod"
)

// Coldplug loads the drivers of the devices present, then those of the
// devices the new drivers brought (virtio devices appear once virtio_pci
// is loaded), and nothing for devices that are not there. The kernel's
// events tell of the devices a driver brought, so /sys/devices is walked
// once; it is walked again only when no events tell, or some were lost.
func TestColdplugFollowsTheDevicesDriversBring(t *testing.T) {
	dir := t.TempDir()
	table, modules := writeColdplugTable(t, dir, []kmod.ColdplugRule{
		{Pattern: "pci:v00001AF4d*sv*sd*bc*sc*i*", Paths: []string{"/virtio_pci.ko"}},
		{Pattern: "virtio:d00000001v*", Paths: []string{"/failover.ko", "/virtio_net.ko"}},
		{Pattern: "pci:v00008086d0000100Esv*sd*bc*sc*i*", Paths: []string{"/e1000.ko"}},
	})
	const virtioNIC = "virtio:d00000001v00001AF4"
	for _, tc := range []struct {
		name      string
		events    bool // a uevent socket is open
		lost      bool // a burst overflowed its queue
		wantWalks int
	}{
		{name: "told by events", events: true, wantWalks: 1},
		{name: "events lost", events: true, lost: true, wantWalks: 2},
		// A walk after each round, until one loads nothing.
		{name: "no events", wantWalks: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := filepath.Join(t.TempDir(), "sys")
			addDevice := func(rel, alias string) {
				p := filepath.Join(sys, rel, "modalias")
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(alias+"\n"), 0o444); err != nil {
					t.Fatal(err)
				}
			}
			addDevice("pci0000:00/0000:00:03.0", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00")
			ev := &fakeUevents{}
			var inserted []string
			l := &kmod.Loader{Root: modules, Insert: func(f *os.File) error {
				inserted = append(inserted, filepath.Base(f.Name()))
				if filepath.Base(f.Name()) == "virtio_pci.ko" {
					addDevice("pci0000:00/0000:00:03.0/virtio0", virtioNIC)
					ev.queue = append(ev.queue,
						map[string]string{"ACTION": "add", "SUBSYSTEM": "virtio", "MODALIAS": virtioNIC},
						map[string]string{"ACTION": "add", "SUBSYSTEM": "net"})
					ev.lost = tc.lost
					if tc.lost {
						ev.queue = nil
					}
				}
				return nil
			}}
			d, err := newDrivers(l, table, []string{"/failover.ko"})
			if err != nil {
				t.Fatal(err)
			}
			walks := 0
			d.walk = func(sys string) ([]string, error) {
				walks++
				return kmod.Modaliases(sys)
			}
			var src ueventSource
			if tc.events {
				src = ev
			}
			d.coldplug(sys, src)
			if want := []string{"virtio_pci.ko", "virtio_net.ko"}; !slices.Equal(inserted, want) {
				t.Errorf("coldplug loaded %v, want %v", inserted, want)
			}
			if walks != tc.wantWalks {
				t.Errorf("coldplug walked /sys/devices %d times, want %d", walks, tc.wantWalks)
			}
		})
	}

	l := &kmod.Loader{Root: modules}
	d, err := newDrivers(l, table, []string{"/failover.ko", "/virtio_pci.ko", "/virtio_net.ko"})
	if err != nil {
		t.Fatal(err)
	}
	var inserted []string
	l.Insert = func(f *os.File) error {
		inserted = append(inserted, filepath.Base(f.Name()))
		return nil
	}

	// Then an e1000 is plugged in, and a second virtio NIC, whose driver
	// is loaded already.
	inserted = nil
	d.hotplug(&fakeUevents{events: []map[string]string{
		{"ACTION": "add", "SUBSYSTEM": "pci", "MODALIAS": "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00"},
		{"ACTION": "remove", "SUBSYSTEM": "pci", "MODALIAS": "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00"},
		{"ACTION": "add", "SUBSYSTEM": "virtio", "MODALIAS": "virtio:d00000001v00001AF4"},
		{"ACTION": "add", "SUBSYSTEM": "net"},
	}})
	if want := []string{"e1000.ko"}; !slices.Equal(inserted, want) {
		t.Errorf("hotplug loaded %v, want %v", inserted, want)
	}

	if d, err := newDrivers(l, filepath.Join(dir, "no-table"), nil); d != nil || err != nil {
		t.Errorf("without a table: %v, %v; want nothing to do", d, err)
	}
}

// The walk runs beside the loading of the listed modules, so a device
// one of them adds may come after it: its event, queued, has coldplug
// load its driver before the boot goes on, as a walk after the loading
// would have.
func TestColdplugTakesTheDevicesAddedAfterItsWalk(t *testing.T) {
	dir := t.TempDir()
	table, modules := writeColdplugTable(t, dir,
		[]kmod.ColdplugRule{{Pattern: "input:b0019v0000p0001e0000-e0,1,k74,ramlsfw", Paths: []string{"/evdev.ko"}}})
	var inserted []string
	l := &kmod.Loader{Root: modules, Insert: func(f *os.File) error {
		inserted = append(inserted, filepath.Base(f.Name()))
		return nil
	}}
	d, err := newDrivers(l, table, []string{"/button.ko"})
	if err != nil {
		t.Fatal(err)
	}
	// button.ko, listed, added the power button once the walk was over.
	ev := &fakeUevents{queue: []map[string]string{
		{"ACTION": "add", "SUBSYSTEM": "input", "MODALIAS": "input:b0019v0000p0001e0000-e0,1,k74,ramlsfw"},
	}}
	d.coldplugFrom(nil, filepath.Join(dir, "sys"), ev)
	if want := []string{"evdev.ko"}; !slices.Equal(inserted, want) {
		t.Errorf("coldplug loaded %v, want %v", inserted, want)
	}
}

// writeColdplugTable writes under dir a coldplug table of rules and an
// empty file for each module it names, and returns the table's path and
// the modules' root.
func writeColdplugTable(t *testing.T, dir string, rules []kmod.ColdplugRule) (table, modules string) {
	t.Helper()
	table = filepath.Join(dir, "coldplug")
	if err := os.WriteFile(table, kmod.FormatColdplug(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	modules = filepath.Join(dir, "modules")
	if err := os.MkdirAll(modules, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		for _, p := range r.Paths {
			if err := os.WriteFile(filepath.Join(modules, p), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return table, modules
}

// fakeUevents yields its events, then an error that ends the watch; the
// queue is what it has queued, lost whether a burst overflowed it.
type fakeUevents struct {
	events []map[string]string
	queue  []map[string]string
	lost   bool
}

func (f *fakeUevents) next() (map[string]string, error) {
	if len(f.events) == 0 {
		return nil, io.EOF
	}
	ev := f.events[0]
	f.events = f.events[1:]
	return ev, nil
}

func (f *fakeUevents) queued() ([]map[string]string, bool, error) {
	q, lost := f.queue, f.lost
	f.queue, f.lost = nil, false
	return q, lost, nil
}

func TestParseUevent(t *testing.T) {
	ev := parseUevent([]byte("add@/devices/pci0000:00/0000:00:05.0\x00ACTION=add\x00DEVPATH=/devices/pci0000:00/0000:00:05.0\x00SUBSYSTEM=pci\x00MODALIAS=pci:v00008086d0000100Esv*\x00SEQNUM=1234\x00"))
	if ev["ACTION"] != "add" || ev["SUBSYSTEM"] != "pci" || ev["MODALIAS"] != "pci:v00008086d0000100Esv*" || ev["SEQNUM"] != "1234" {
		t.Errorf("parseUevent = %v", ev)
	}
	// udev's rebroadcasts start with a binary header, not ACTION@DEVPATH.
	if ev := parseUevent([]byte("libudev\x00\xfe\xed\xca\xfe")); ev != nil {
		t.Errorf("a libudev message parsed as %v", ev)
	}
}
