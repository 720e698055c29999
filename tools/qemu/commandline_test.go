package qemu

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/minikit/minikit/internal/testenv"
)

func noKVM() bool  { return false }
func hasKVM() bool { return true }

func TestDefaultsFillEveryZeroField(t *testing.T) {
	tests := []struct {
		name     string
		in       Options
		hostCPUs int
		kvm      func() bool
		want     Options
	}{
		{
			name:     "a bare machine gets 1 GiB, two CPUs, TCG and virtio-net",
			in:       Options{Kernel: "k"},
			hostCPUs: 8,
			kvm:      noKVM,
			want:     Options{Binary: Binary, Kernel: "k", MemoryMiB: 1024, CPUs: 2, Accel: AccelTCG, NIC: DefaultNIC},
		},
		{
			name:     "auto picks KVM when the probe says it works",
			in:       Options{Kernel: "k", Accel: AccelAuto},
			hostCPUs: 8,
			kvm:      hasKVM,
			want:     Options{Binary: Binary, Kernel: "k", MemoryMiB: 1024, CPUs: 2, Accel: AccelKVM, NIC: DefaultNIC},
		},
		{
			name:     "a one-CPU host gets a one-CPU guest",
			in:       Options{Kernel: "k"},
			hostCPUs: 1,
			kvm:      noKVM,
			want:     Options{Binary: Binary, Kernel: "k", MemoryMiB: 1024, CPUs: 1, Accel: AccelTCG, NIC: DefaultNIC},
		},
		{
			name:     "explicit choices are kept, even TCG on a KVM host",
			in:       Options{Kernel: "k", MemoryMiB: 300, CPUs: 4, Accel: AccelTCG, NIC: "e1000", Binary: "/opt/qemu"},
			hostCPUs: 1,
			kvm:      hasKVM,
			want:     Options{Binary: "/opt/qemu", Kernel: "k", MemoryMiB: 300, CPUs: 4, Accel: AccelTCG, NIC: "e1000"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.withDefaults(tt.hostCPUs, tt.kvm)
			if err != nil {
				t.Fatalf("withDefaults: %v", err)
			}
			if got.Binary != tt.want.Binary || got.MemoryMiB != tt.want.MemoryMiB || got.CPUs != tt.want.CPUs ||
				got.Accel != tt.want.Accel || got.NIC != tt.want.NIC {
				t.Errorf("withDefaults() = %+v,\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDefaultsRejectImpossibleMachines(t *testing.T) {
	tests := []struct {
		name string
		in   Options
	}{
		{"nothing to boot", Options{}},
		{"an unknown firmware", Options{Kernel: "k", Firmware: "coreboot"}},
		{"a disk of an unknown format", Options{ISO: "x.iso", Disks: []Disk{{Path: "d.vdi", Format: "vdi"}}}},
		{"negative memory", Options{Kernel: "k", MemoryMiB: -1}},
		{"negative CPUs", Options{Kernel: "k", CPUs: -2}},
		{"unknown accelerator", Options{Kernel: "k", Accel: "hvf"}},
		{"a forward without a network", Options{Kernel: "k", NoNetwork: true, Forwards: []Forward{{HostPort: 1, GuestPort: 2}}}},
		{"a forward to port 0", Options{Kernel: "k", Forwards: []Forward{{HostPort: 2222, GuestPort: 0}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.in.withDefaults(2, noKVM); err == nil {
				t.Errorf("withDefaults(%+v) succeeded, want an error", tt.in)
			}
		})
	}
}

// argsOf builds qemu's arguments the way Start does.
func argsOf(t *testing.T, o Options) []string {
	t.Helper()
	o, err := o.withDefaults(2, noKVM)
	if err != nil {
		t.Fatalf("withDefaults: %v", err)
	}
	return o.args("/run/q/qmp.sock", "/fw/CODE.fd", "/run/q/VARS.fd")
}

// option returns the values following each occurrence of flag.
func option(args []string, flag string) []string {
	var values []string
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			values = append(values, args[i+1])
		}
	}
	return values
}

func TestArgsDescribeTheMachine(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		flag string
		want []string
	}{
		{"the kernel", Options{Kernel: "/img/a-kernel"}, "-kernel", []string{"/img/a-kernel"}},
		{"the initrd", Options{Kernel: "k", Initrd: "/img/a-initrd.img"}, "-initrd", []string{"/img/a-initrd.img"}},
		{"no initrd when none is given", Options{Kernel: "k"}, "-initrd", nil},
		{"default memory", Options{Kernel: "k"}, "-m", []string{"1024"}},
		{"chosen memory", Options{Kernel: "k", MemoryMiB: 512}, "-m", []string{"512"}},
		{"CPUs", Options{Kernel: "k", CPUs: 3}, "-smp", []string{"3"}},
		{"TCG", Options{Kernel: "k", Accel: AccelTCG}, "-accel", []string{"tcg"}},
		{"KVM", Options{Kernel: "k", Accel: AccelKVM}, "-accel", []string{"kvm"}},
		{"the host CPU under KVM", Options{Kernel: "k", Accel: AccelKVM}, "-cpu", []string{"host"}},
		{"the richest emulated CPU under TCG", Options{Kernel: "k", Accel: AccelTCG}, "-cpu", []string{"max"}},
		{"no CPU RNG under TCG when asked", Options{Kernel: "k", Accel: AccelTCG, NoRNG: true}, "-cpu", []string{"max,-rdrand,-rdseed"}},
		{"no CPU RNG under KVM when asked", Options{Kernel: "k", Accel: AccelKVM, NoRNG: true}, "-cpu", []string{"host,-rdrand,-rdseed"}},
		{"the host's entropy by default", Options{Kernel: "k"}, "-object", []string{"rng-random,id=rng0,filename=/dev/urandom"}},
		{"no entropy from the host when asked", Options{Kernel: "k", NoRNG: true}, "-object", nil},
		{"console appended to the command line", Options{Kernel: "k", Cmdline: "quiet"}, "-append", []string{"quiet console=ttyS0"}},
		{"a chosen console kept", Options{Kernel: "k", Cmdline: "console=hvc0 quiet"}, "-append", []string{"console=hvc0 quiet"}},
		{"an empty command line still gets the console", Options{Kernel: "k"}, "-append", []string{"console=ttyS0"}},
		{"serial on stdio", Options{Kernel: "k"}, "-serial", []string{"chardev:console"}},
		{"the stdio chardev", Options{Kernel: "k"}, "-chardev", []string{"stdio,id=console"}},
		{"QMP on a unix socket that does not block startup", Options{Kernel: "k"}, "-qmp", []string{"unix:/run/q/qmp.sock,server=on,wait=off"}},
		{"user networking without forwards", Options{Kernel: "k"}, "-netdev", []string{"user,id=net0"}},
		{
			"forwards on loopback",
			Options{Kernel: "k", Forwards: []Forward{{HostPort: 2222, GuestPort: 22}, {Proto: "udp", HostPort: 5353, GuestPort: 53}}},
			"-netdev",
			[]string{"user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp:127.0.0.1:5353-:53"},
		},
		{
			"a forward on a chosen address",
			Options{Kernel: "k", Forwards: []Forward{{HostAddr: "0.0.0.0", HostPort: 8080, GuestPort: 80}}},
			"-netdev",
			[]string{"user,id=net0,hostfwd=tcp:0.0.0.0:8080-:80"},
		},
		{"no network at all", Options{Kernel: "k", NoNetwork: true}, "-netdev", nil},
		{"disks in order, commas escaped", Options{Kernel: "k", Disks: []Disk{{Path: "/d/a.img"}, {Path: "/d/b,c.img"}}}, "-drive",
			[]string{"file=/d/a.img,if=virtio,format=raw", "file=/d/b,,c.img,if=virtio,format=raw"}},
		{"a qcow2 disk", Options{Kernel: "k", Disks: []Disk{{Path: "/d/a.qcow2", Format: "qcow2"}}}, "-drive",
			[]string{"file=/d/a.qcow2,if=virtio,format=qcow2"}},
		{"SCSI and SATA disks are drives without an interface", Options{Kernel: "k", Disks: []Disk{
			{Path: "/d/v.img"}, {Path: "/d/s.img", Bus: BusSCSI}, {Path: "/d/t.img", Bus: BusSCSI, ReadOnly: true}, {Path: "/d/a.img", Bus: BusSATA},
		}}, "-drive", []string{
			"file=/d/v.img,if=virtio,format=raw", "if=none,id=disk1,file=/d/s.img,format=raw",
			"if=none,id=disk2,file=/d/t.img,format=raw,readonly=on", "if=none,id=disk3,file=/d/a.img,format=raw",
		}},
		{"SCSI disks share one controller; SATA disks take AHCI ports", Options{Kernel: "k", Disks: []Disk{
			{Path: "/d/s.img", Bus: BusSCSI}, {Path: "/d/t.img", Bus: BusSCSI}, {Path: "/d/a.img", Bus: BusSATA},
		}, NoNetwork: true, NoRNG: true}, "-device", []string{
			"pvpanic", "virtio-scsi-pci,id=scsi0", "scsi-hd,drive=disk0,bus=scsi0.0", "scsi-hd,drive=disk1,bus=scsi0.0", "ide-hd,drive=disk2",
		}},
		{"an ISO read-only", Options{ISO: "/i/a,b.iso"}, "-drive", []string{"if=none,id=bootcd,media=cdrom,readonly=on,file=/i/a,,b.iso"}},
		{"a boot disk in a snapshot, so the image stays as built", Options{BootDisk: &Disk{Path: "/i/a.qcow2", Format: "qcow2"}}, "-drive",
			[]string{"if=none,id=bootdisk,snapshot=on,format=qcow2,file=/i/a.qcow2"}},
		{"a boot disk written in place when asked", Options{BootDisk: &Disk{Path: "/i/a.img"}, WriteBootDisk: true}, "-drive",
			[]string{"if=none,id=bootdisk,format=raw,file=/i/a.img"}},
		{"UEFI code read-only and a private variable store", Options{ISO: "/i/a.iso", Firmware: FirmwareEFI}, "-drive",
			[]string{"if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE.fd", "if=pflash,format=raw,unit=1,file=/run/q/VARS.fd", "if=none,id=bootcd,media=cdrom,readonly=on,file=/i/a.iso"}},
		{"no kernel command line without a kernel", Options{ISO: "/i/a.iso", Cmdline: "quiet"}, "-append", nil},
		{"a panic stops qemu", Options{Kernel: "k"}, "-action", []string{"panic=shutdown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := option(argsOf(t, tt.opts), tt.flag); !slices.Equal(got, tt.want) {
				t.Errorf("%s = %q, want %q", tt.flag, got, tt.want)
			}
		})
	}
}

func TestArgsDevices(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{"virtio-net, the rng and pvpanic by default", Options{Kernel: "k"}, []string{"virtio-rng-pci,rng=rng0", "pvpanic", "virtio-net-pci,netdev=net0"}},
		{"no rng when asked", Options{Kernel: "k", NoRNG: true}, []string{"pvpanic", "virtio-net-pci,netdev=net0"}},
		{"a chosen NIC model", Options{Kernel: "k", NIC: "e1000"}, []string{"virtio-rng-pci,rng=rng0", "pvpanic", "e1000,netdev=net0"}},
		{"no NIC without a network", Options{Kernel: "k", NoNetwork: true}, []string{"virtio-rng-pci,rng=rng0", "pvpanic"}},
		{"a data CD-ROM", Options{Kernel: "k", NoNetwork: true, CDROMs: []string{"/d/meta.iso"}}, []string{"virtio-rng-pci,rng=rng0", "pvpanic", "ide-cd,drive=cd0"}},
		{"empty root ports for hotplug", Options{Kernel: "k", NoNetwork: true, HotplugSlots: 2}, []string{"virtio-rng-pci,rng=rng0", "pvpanic",
			"pcie-root-port,id=hotplug0,chassis=100,slot=100", "pcie-root-port,id=hotplug1,chassis=101,slot=101"}},
		{"an ISO as a CD-ROM booted first", Options{ISO: "/i/a.iso", NoNetwork: true}, []string{"ide-cd,drive=bootcd,bootindex=0", "virtio-rng-pci,rng=rng0", "pvpanic"}},
		{"a boot disk booted first", Options{BootDisk: &Disk{Path: "/i/a.img"}, NoNetwork: true}, []string{"virtio-blk-pci,drive=bootdisk,bootindex=0", "virtio-rng-pci,rng=rng0", "pvpanic"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := option(argsOf(t, tt.opts), "-device"); !slices.Equal(got, tt.want) {
				t.Errorf("-device = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestArgsFlags(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		flag    string
		present bool
	}{
		{"reboots end qemu by default", Options{Kernel: "k"}, "-no-reboot", true},
		{"reboots stay inside when allowed", Options{Kernel: "k", AllowReboot: true}, "-no-reboot", false},
		{"the guest starts paused until QMP listens", Options{Kernel: "k"}, "-S", true},
		{"no default devices", Options{Kernel: "k"}, "-nodefaults", true},
		{"extra arguments come last", Options{Kernel: "k", ExtraArgs: []string{"-trace", "virtio*"}}, "-trace", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := argsOf(t, tt.opts)
			if got := slices.Contains(args, tt.flag); got != tt.present {
				t.Errorf("%s present = %v, want %v in %q", tt.flag, got, tt.present, args)
			}
		})
	}
}

func TestShellQuoteRoundTripsThroughAShell(t *testing.T) {
	argv := []string{"qemu-system-x86_64", "-append", "quiet console=ttyS0", "", "it's", `$HOME "x" \n`, "a,b=c:d/e"}
	sh, err := exec.LookPath("sh")
	if err != nil {
		testenv.Unavailable(t, testenv.RequireRootEnv, "no sh to check the quoting against")
	}
	// printf prints each argument on its own line, so the shell's view of
	// the arguments can be compared with the original.
	script := "printf '%s\\n' " + shellQuote(argv[1:])
	out, err := exec.Command(sh, "-c", script).Output()
	if err != nil {
		t.Fatalf("sh -c %q: %v", script, err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if !slices.Equal(got, argv[1:]) {
		t.Errorf("the shell read %q, want %q", got, argv[1:])
	}
}

func TestShellQuoteLeavesPlainWordsAlone(t *testing.T) {
	got := shellQuote([]string{"qemu-system-x86_64", "-m", "1024", "file=/d/a.img,if=virtio"})
	if want := "qemu-system-x86_64 -m 1024 file=/d/a.img,if=virtio"; got != want {
		t.Errorf("shellQuote = %q, want %q", got, want)
	}
}
