package tests

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/tests/harness"
)

// LinuxKit's onboot packages, named as LinuxKit specs name them, do at
// boot what a user of LinuxKit's would look for: extend grows the disk's
// filesystem, losetup attaches a file on it and dm-crypt opens that for
// mount, swap enables encrypted swap, sysfs writes into the kernel, ip
// configures the address, and poweroff, after its wait, powers the
// machine off without the services starting.
func TestLinuxKitOnbootPackages(t *testing.T) {
	image := build(t, "linuxkit-onboot", "images/linuxkit-onboot.yml")
	disk := filepath.Join(t.TempDir(), "disk.img")
	writePartitionedDisk(t, disk, 256<<20, 64<<20)
	m := harness.Boot(t, image, harness.WithDisk(disk, 256<<20))

	size := m.Expect(`check: size: (\d+) KiB`, bootTimeout)
	if kib, _ := strconv.Atoi(size.Groups[1]); kib < 200<<10 {
		t.Errorf("the filesystem has %d KiB: extend did not grow it over the 256 MiB disk", kib)
	}
	for _, want := range []string{
		`check: swap: SwapTotal: 32764 kB$`,
		`check: swaps: \S*swapfile partition 32764 `,
		`check: loop: /dev/loop0: 0 /var/external/storage_file$`,
		`check: secure: /dev/mapper/crypt_loop_dev ext4 secret$`,
		`check: thp: always \[madvise\] never$`,
		`check: ip: 10\.10\.1\.225/24 default via 10\.10\.1\.100 dev eth0`,
		`check: check done`,
	} {
		m.Expect(want, bootTimeout)
	}

	started := m.Expect(`poweroff: powering off in 3 seconds`, bootTimeout)
	waited := m.ExpectAfter(started, `onboot \d+-poweroff exited 0 in (\S+) `, bootTimeout)
	if d, err := time.ParseDuration(waited.Groups[1]); err != nil || d < 3*time.Second {
		t.Errorf("poweroff ran for %s, not its 3 s wait", waited.Groups[1])
	}
	m.ExpectAfter(waited, `poweroff asked for during onboot: the services are not started`, bootTimeout)
	if exit := m.WaitExit(bootTimeout); !exit.Clean() {
		t.Fatalf("the machine did not power itself off cleanly: %v", exit)
	}
	for _, l := range m.Lines() {
		if strings.Contains(l, "service getty started") {
			t.Errorf("a service started after poweroff asked: %s", l)
		}
	}
}

// LinuxKit's service packages, and those listed under init:, replaced by
// their stand-ins: node_exporter answers on its port, kmsg's kernel log
// is kept in /var/log with logwrite in the spec, openntpd's engine runs,
// the firmware files are in /lib/firmware, binfmt's emulators are
// registered (an onboot entry: its 66 MiB would slow the heavier onboot
// image's boot), and acpid, alone to hear the
// power button (the image has no evdev for init's own watch), powers the
// machine off.
func TestLinuxKitServicePackages(t *testing.T) {
	image := build(t, "linuxkit-services", "images/linuxkit-services.yml")
	m := harness.Boot(t, image)

	for _, want := range []string{
		`write-and-rotate-logs: logwrite: nothing to do: .*/var/log/NAME\.log`,
		`openntpd: ntp engine ready`,
		`probe: metrics: [1-9]\d* node_ lines; release="6\.1\.`,
		`probe: kmsg\.log: \(0\) - \S+: Linux version 6\.1\.`,
		`probe: logs: kmsg\.log openntpd\.log write-and-rotate-logs\.log $`,
		`probe: firmware: /firmware/carl9170-1\.fw$`,
		`probe: binfmt: enabled interpreter /usr/bin/qemu-aarch64 flags: OCF `,
		`acpid: 1 rule loaded`,
	} {
		m.Expect(want, bootTimeout)
	}
	done := m.Expect(`probe: probe done`, bootTimeout)

	m.Powerdown()
	handled := m.ExpectAfter(done, `acpid: acpid: power button \(button/power \S+ 00000080 [0-9a-f]+\): asking init to power off`, bootTimeout)
	m.ExpectAfter(handled, `shutdown: poweroff`, bootTimeout)
	if exit := m.WaitExit(bootTimeout); !exit.Clean() {
		t.Fatalf("the machine did not power off cleanly after acpid asked: %v", exit)
	}
	for _, l := range m.Lines() {
		if regexp.MustCompile(`power button pressed device=`).MatchString(l) {
			t.Errorf("init saw the power button itself, so acpid's part is unproven: %s", l)
		}
	}
}

// writePartitionedDisk makes a disk image of size bytes holding an MBR
// with one Linux partition of part bytes from sector 2048, the rest of
// the disk free for extend.
func writePartitionedDisk(t *testing.T, path string, size, part int64) {
	t.Helper()
	mbr := make([]byte, 512)
	entry := mbr[446:462]
	entry[4] = 0x83 // Linux
	binary.LittleEndian.PutUint32(entry[8:], 2048)
	binary.LittleEndian.PutUint32(entry[12:], uint32(part/512))
	mbr[510], mbr[511] = 0x55, 0xAA
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(mbr); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}
