package qemu

import (
	"fmt"
	"strconv"
	"strings"
)

// consoleChardev names the chardev wired to the guest's first serial port.
const consoleChardev = "console"

// bootDiskID names the boot disk's drive.
const bootDiskID = "bootdisk"

// args is qemu's argument list (without the program name) for options that
// already went through withDefaults. ovmfVars is the guest's copy of the
// UEFI variable store, for FirmwareEFI.
func (o Options) args(qmpSocket, ovmfCode, ovmfVars string) []string {
	a := []string{
		// Nothing but what is listed below: no VGA, no default NIC, no
		// monitor on stdio competing with the serial console, and no
		// config file from the host changing the machine.
		"-nodefaults", "-no-user-config",
		"-display", "none",
		"-machine", "q35",
		"-accel", string(o.Accel),
		"-cpu", cpuModel(o.Accel, o.NoRNG),
		"-m", strconv.Itoa(o.MemoryMiB),
		"-smp", strconv.Itoa(o.CPUs),
	}
	if o.Firmware == FirmwareEFI {
		a = append(a,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+escapeOption(ovmfCode),
			"-drive", "if=pflash,format=raw,unit=1,file="+escapeOption(ovmfVars))
	}
	switch {
	case o.Kernel != "":
		a = append(a, "-kernel", o.Kernel)
		if o.Initrd != "" {
			a = append(a, "-initrd", o.Initrd)
		}
		a = append(a, "-append", kernelCmdline(o.Cmdline))
	case o.ISO != "":
		// bootindex makes the firmware try this device first, whatever
		// other disks are attached.
		a = append(a,
			"-drive", "if=none,id=bootcd,media=cdrom,readonly=on,file="+escapeOption(o.ISO),
			"-device", "ide-cd,drive=bootcd,bootindex=0")
	case o.BootDisk != nil:
		snapshot := "snapshot=on,"
		if o.WriteBootDisk {
			snapshot = ""
		}
		a = append(a,
			"-drive", "if=none,id="+bootDiskID+","+snapshot+"format="+o.BootDisk.format()+",file="+escapeOption(o.BootDisk.Path),
			"-device", "virtio-blk-pci,drive="+bootDiskID+",bootindex=0")
	}
	a = append(a,
		// Serial on qemu's stdin and stdout, which Start connects to pipes
		// so qemu never touches the caller's terminal.
		"-chardev", "stdio,id="+consoleChardev,
		"-serial", "chardev:"+consoleChardev,
		"-qmp", "unix:"+escapeOption(qmpSocket)+",server=on,wait=off",
	)
	if !o.NoRNG {
		// The guest's entropy comes from the host so that a fresh VM does
		// not block in getrandom waiting for a pool that never fills.
		a = append(a,
			"-object", "rng-random,id=rng0,filename=/dev/urandom",
			"-device", "virtio-rng-pci,rng=rng0")
	}
	a = append(a,
		// A kernel with the pvpanic driver reports a panic through this
		// device, and qemu then stops with a SHUTDOWN whose reason says
		// so. Kernels without it are caught on the console instead.
		"-device", "pvpanic",
		"-action", "panic=shutdown",
	)
	if !o.NoNetwork {
		netdev := "user,id=net0"
		for _, f := range o.Forwards {
			netdev += ",hostfwd=" + f.hostfwd()
		}
		a = append(a, "-netdev", netdev, "-device", o.NIC+",netdev=net0")
	}
	for i, iso := range o.CDROMs {
		id := fmt.Sprintf("cd%d", i)
		a = append(a,
			"-drive", "if=none,id="+id+",media=cdrom,readonly=on,file="+escapeOption(iso),
			"-device", "ide-cd,drive="+id)
	}
	for i := range o.HotplugSlots {
		a = append(a, "-device", fmt.Sprintf("pcie-root-port,id=hotplug%d,chassis=%d,slot=%d", i, 100+i, 100+i))
	}
	scsi := false
	for i, d := range o.Disks {
		drive := "file=" + escapeOption(d.Path)
		if d.Bus == "" || d.Bus == BusVirtio {
			drive += ",if=virtio"
		} else {
			drive = fmt.Sprintf("if=none,id=disk%d,", i) + drive
		}
		drive += ",format=" + d.format()
		if d.ReadOnly {
			drive += ",readonly=on"
		}
		a = append(a, "-drive", drive)
		switch d.Bus {
		case BusSCSI:
			if !scsi {
				a = append(a, "-device", "virtio-scsi-pci,id=scsi0")
				scsi = true
			}
			a = append(a, "-device", fmt.Sprintf("scsi-hd,drive=disk%d,bus=scsi0.0", i))
		case BusSATA:
			// q35's AHCI controller: the next of its six ports.
			a = append(a, "-device", fmt.Sprintf("ide-hd,drive=disk%d", i))
		}
	}
	if !o.AllowReboot {
		a = append(a, "-no-reboot")
	}
	// Start paused: Start connects to QMP first and then resumes the
	// guest, so no SHUTDOWN event can happen before anyone listens.
	a = append(a, "-S")
	return append(a, o.ExtraArgs...)
}

// cpuModel passes the host CPU through under KVM; under TCG "max" offers
// every feature the emulator has, so binaries built for newer x86-64
// levels still run. noRNG hides RDRAND and RDSEED, which the kernel
// would otherwise seed its CRNG from at once.
func cpuModel(a Accel, noRNG bool) string {
	model := "max"
	if a == AccelKVM {
		model = "host"
	}
	if noRNG {
		model += ",-rdrand,-rdseed"
	}
	return model
}

// kernelCmdline appends console=ttyS0 unless the command line already
// chooses a console: without it the guest's messages never reach the
// serial port that Console reads.
func kernelCmdline(cmdline string) string {
	for _, field := range strings.Fields(cmdline) {
		if strings.HasPrefix(field, "console=") {
			return cmdline
		}
	}
	return strings.TrimSpace(cmdline + " console=ttyS0")
}

// escapeOption doubles commas, which is how qemu's option syntax reads a
// literal comma inside a value such as file=.
func escapeOption(s string) string {
	return strings.ReplaceAll(s, ",", ",,")
}

// shellQuote renders argv so that pasting it into a POSIX shell runs the
// very same command.
func shellQuote(argv []string) string {
	quoted := make([]string, len(argv))
	for i, arg := range argv {
		quoted[i] = quoteArg(arg)
	}
	return strings.Join(quoted, " ")
}

func quoteArg(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !isShellSafe(r) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func isShellSafe(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return true
	}
	return strings.ContainsRune("-_./:=,+@%", r)
}
