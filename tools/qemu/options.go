package qemu

import (
	"fmt"
	"io"
	"runtime"
)

// Binary is the qemu program Start runs when Options.Binary is empty.
const Binary = "qemu-system-x86_64"

// Default sizes of a machine whose Options leave them zero.
const (
	DefaultMemoryMiB = 1024
	DefaultCPUs      = 2
	DefaultNIC       = "virtio-net-pci"
)

// Accel selects how qemu executes the guest.
type Accel string

// The accelerators Start understands.
const (
	// AccelAuto uses KVM when KVMAvailable says it works, else TCG.
	AccelAuto Accel = "auto"
	// AccelKVM requires KVM; qemu fails to start without it.
	AccelKVM Accel = "kvm"
	// AccelTCG emulates the CPU in software: slow, but works everywhere.
	AccelTCG Accel = "tcg"
)

// ParseAccel turns the text of a flag ("auto", "kvm", "tcg", or empty for
// auto) into an Accel.
func ParseAccel(s string) (Accel, error) {
	switch a := Accel(s); a {
	case "", AccelAuto:
		return AccelAuto, nil
	case AccelKVM, AccelTCG:
		return a, nil
	}
	return "", fmt.Errorf("accelerator %q: want auto, kvm or tcg", s)
}

// Options describes one virtual machine. The zero value of every field is
// a sensible default, so callers set only what they care about.
type Options struct {
	// Binary is the qemu program; empty means Binary looked up in $PATH.
	Binary string

	// Kernel and Initrd are the files booted with -kernel and -initrd.
	Kernel string
	Initrd string
	// Cmdline is the kernel command line. console=ttyS0 is appended unless
	// it already names a console, because the serial port is the only
	// window Console has into the guest. It applies to Kernel only: an ISO
	// or a disk boots with the command line its bootloader holds.
	Cmdline string

	// ISO is an ISO image attached as a CD-ROM and booted from, when no
	// Kernel is given.
	ISO string
	// BootDisk is a disk image booted from, when neither Kernel nor ISO is
	// given. It is attached with snapshot=on: the guest may write to it,
	// but the file stays as it was built, unless WriteBootDisk is set.
	BootDisk *Disk
	// WriteBootDisk attaches BootDisk as it is, so that what the guest
	// writes (an update, data) stays in the file, as on a real disk.
	WriteBootDisk bool
	// Firmware is what boots the guest; empty means BIOS. EFI uses
	// Debian's OVMF (see FindOVMF) with a fresh variable store.
	Firmware Firmware

	// MemoryMiB is the guest's RAM; 0 means DefaultMemoryMiB.
	MemoryMiB int
	// CPUs is the number of virtual CPUs; 0 means DefaultCPUs, or fewer
	// when the host has fewer.
	CPUs int
	// Accel is how the guest runs; empty means AccelAuto.
	Accel Accel

	// NoRNG gives the guest no source of randomness but its own timing,
	// like plain qemu or a cloud VM without one: no virtio-rng device
	// (which otherwise feeds it from the host's /dev/urandom) and a CPU
	// without RDRAND and RDSEED. Under TCG the kernel's CRNG is then
	// ready only tens of seconds after boot.
	NoRNG bool

	// NoNetwork leaves the guest without a network card. Otherwise it gets
	// one NIC on qemu's user-mode network, reachable from the host only
	// through Forwards.
	NoNetwork bool
	// NIC is the qemu device model of that card; empty means DefaultNIC.
	NIC string
	// Forwards are host ports forwarded into the guest.
	Forwards []Forward

	// Disks are images attached in order, each on its Bus: virtio block
	// devices are /dev/vda, /dev/vdb, … in the guest; SCSI and SATA disks
	// /dev/sda, /dev/sdb, … (in the order their drivers find them).
	Disks []Disk

	// CDROMs are ISO images attached read-only as CD-ROM drives (after
	// ISO, when one is booted), such as a metadata ISO (diskimage.DataISO).
	CDROMs []string

	// HotplugSlots adds that many empty PCIe root ports, hotplug0,
	// hotplug1, …, into which HotplugNIC plugs cards while the guest runs
	// (q35 has no hotplug slot of its own).
	HotplugSlots int

	// AllowReboot lets a guest reboot stay inside qemu. By default qemu
	// runs with -no-reboot, so a reboot ends the process and Wait reports
	// it as ExitReset: tests and minikit run want to see it.
	AllowReboot bool

	// ConsoleInput, when set, is copied to the guest's serial port.
	ConsoleInput io.Reader
	// ConsoleOutput, when set, receives the serial output byte for byte as
	// it arrives, besides being split into lines for Console.
	ConsoleOutput io.Writer
	// Stderr, when set, receives qemu's own diagnostics. They are kept in
	// memory either way, to explain a failed start.
	Stderr io.Writer
	// ConsoleHistory caps how many console lines Console keeps; 0 keeps
	// them all. A long-running minikit run sets it so memory stays flat.
	ConsoleHistory int

	// QMPSocket is where qemu listens for QMP; empty means a socket in a
	// fresh temporary directory, removed when the VM has exited.
	QMPSocket string

	// ExtraArgs are appended to qemu's command line as they are.
	ExtraArgs []string
}

// withDefaults returns a copy of o with every zero field filled in. The
// host's CPU count and the KVM probe are parameters so tests can choose
// them.
func (o Options) withDefaults(hostCPUs int, kvm func() bool) (Options, error) {
	if o.Binary == "" {
		o.Binary = Binary
	}
	if o.MemoryMiB == 0 {
		o.MemoryMiB = DefaultMemoryMiB
	}
	if o.MemoryMiB < 0 {
		return o, fmt.Errorf("memory %d MiB: must be positive", o.MemoryMiB)
	}
	if o.CPUs == 0 {
		o.CPUs = min(DefaultCPUs, max(hostCPUs, 1))
	}
	if o.CPUs < 0 {
		return o, fmt.Errorf("%d CPUs: must be positive", o.CPUs)
	}
	accel, err := ParseAccel(string(o.Accel))
	if err != nil {
		return o, err
	}
	if accel == AccelAuto {
		accel = AccelTCG
		if kvm() {
			accel = AccelKVM
		}
	}
	o.Accel = accel
	if o.NIC == "" {
		o.NIC = DefaultNIC
	}
	if o.Kernel == "" && o.ISO == "" && o.BootDisk == nil {
		return o, fmt.Errorf("nothing to boot: give a kernel, an ISO or a boot disk")
	}
	fw, err := ParseFirmware(string(o.Firmware))
	if err != nil {
		return o, err
	}
	o.Firmware = fw
	if o.BootDisk != nil {
		if err := o.BootDisk.validate(); err != nil {
			return o, err
		}
	}
	for _, d := range o.Disks {
		if err := d.validate(); err != nil {
			return o, err
		}
	}
	for _, f := range o.Forwards {
		if err := f.validate(); err != nil {
			return o, err
		}
	}
	if o.NoNetwork && len(o.Forwards) > 0 {
		return o, fmt.Errorf("port forwards need a network, but NoNetwork is set")
	}
	return o, nil
}

// hostCPUs is the number of CPUs qemu may use on this host.
func hostCPUs() int { return runtime.NumCPU() }
