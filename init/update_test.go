package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/internal/control"
	"github.com/minikit/minikit/internal/fat"
	"github.com/minikit/minikit/internal/grubenv"
	"github.com/minikit/minikit/internal/slots"
	"github.com/minikit/minikit/internal/testenv"
	"github.com/minikit/minikit/internal/update"
	"github.com/minikit/minikit/internal/verity"
)

// testDisk is a disk with slots as files: a FAT boot partition made by
// mtools, as the disk writer makes it, and two slot files. Slot B holds
// an older system's bytes, so that a write to it shows.
type testDisk struct {
	dir     string
	devices map[int]string
	key     ed25519.PrivateKey
}

const testSlotSize = 4 << 20

func newTestDisk(t *testing.T, state slots.State, running string) (*testDisk, *updater) {
	t.Helper()
	testenv.Tools(t, testenv.RequireQEMUEnv, "mformat (apt-get install mtools)")
	d := &testDisk{dir: t.TempDir(), devices: map[int]string{}}
	boot := filepath.Join(d.dir, "boot.fat")
	if err := os.WriteFile(boot, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Truncate(boot, 16<<20)
	mtools(t, "mformat", "-i", boot, "::")
	mtools(t, "mmd", "-i", boot, "::/boot", "::/boot/grub")
	env, err := state.Block()
	if err != nil {
		t.Fatal(err)
	}
	a, err := slots.Script{Slot: slots.A, Version: "v1", Spec: "sha256:aa", Cmdline: "console=ttyS0", Layout: slots.Plan(8192, 100, 100)}.Format()
	if err != nil {
		t.Fatal(err)
	}
	for path, data := range map[string][]byte{
		slots.EnvPath:              env,
		slots.ScriptPath(slots.A):  a,
		slots.ScriptPath(slots.B):  slots.EmptyScript(slots.B, "empty"),
		"boot/grub/grub.cfg":       []byte(slots.GrubConfig(slots.SchemeMBR)),
		"boot/minikit-test-marker": []byte("x"),
	} {
		src := filepath.Join(d.dir, strings.ReplaceAll(path, "/", "_"))
		os.WriteFile(src, data, 0o644)
		mtools(t, "mcopy", "-i", boot, src, "::/"+path)
	}
	d.devices[slots.BootPartition] = boot
	for _, s := range slots.Names {
		p := filepath.Join(d.dir, "slot"+s)
		if err := os.WriteFile(p, bytes.Repeat([]byte{0x5a}, testSlotSize), 0o644); err != nil {
			t.Fatal(err)
		}
		d.devices[slots.Partition(s)] = p
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	d.key = priv
	u := &updater{
		running:      running,
		devices:      d.devices,
		key:          pub,
		config:       bundle.UpdateSettings{Version: "v1", GraceSeconds: 60},
		memAvailable: func() (int64, error) { return 1 << 30, nil },
	}
	return d, u
}

func mtools(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1", "MTOOLSRC=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

// snapshot is every byte of the disk, to tell what an update changed.
func (d *testDisk) snapshot(t *testing.T) map[int][]byte {
	t.Helper()
	s := map[int][]byte{}
	for n, p := range d.devices {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s[n] = data
	}
	return s
}

func (d *testDisk) state(t *testing.T) slots.State {
	t.Helper()
	f, _ := os.Open(d.devices[slots.BootPartition])
	defer f.Close()
	fs, err := fat.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	block, err := fs.ReadFile(slots.EnvPath)
	if err != nil {
		t.Fatal(err)
	}
	env, err := grubenv.Parse(block)
	if err != nil {
		t.Fatal(err)
	}
	return slots.StateFrom(env)
}

// parts are a system's parts: a root image whose top hash block hashes to
// the root hash on the command line, as veritysetup lays one out.
type parts struct {
	kernel, initrd, root []byte
	cmdline              string
}

func newParts(version string) parts {
	fill := func(n int, b byte) []byte { return bytes.Repeat([]byte(version+string(b)), n/(len(version)+1)+1)[:n] }
	p := parts{kernel: fill(3000, 'k'), initrd: fill(5001, 'i')}
	top := fill(verity.BlockSize, 't')
	salt := []byte{1, 2, 3}
	sum := sha256.Sum256(append(append([]byte{}, salt...), top...))
	v := verity.Params{RootHash: sum[:], Salt: salt, DataBlocks: 2}
	p.root = append(fill(2*verity.BlockSize, 'r'), top...)
	p.cmdline = "console=ttyS0 " + verity.CmdlineKey + "=" + v.String()
	return p
}

func (d *testDisk) bundle(t *testing.T, version string, p parts, key ed25519.PrivateKey) []byte {
	t.Helper()
	dir := t.TempDir()
	paths := map[string]string{}
	for name, data := range map[string][]byte{
		update.PartKernel: p.kernel, update.PartInitrd: p.initrd, update.PartRoot: p.root, update.PartCmdline: []byte(p.cmdline + "\n"),
	} {
		paths[name] = filepath.Join(dir, name)
		os.WriteFile(paths[name], data, 0o644)
	}
	var b bytes.Buffer
	spec := "sha256:" + strings.Repeat("ab", 32)
	if err := update.Write(&b, version, spec, paths, key, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestAnUpdateIsWrittenIntoTheOtherSlotAndTriedOnce(t *testing.T) {
	d, u := newTestDisk(t, slots.Initial(), slots.A)
	p := newParts("v2")
	res, err := u.Update(context.Background(), bytes.NewReader(d.bundle(t, "v2", p, d.key)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Slot != slots.B || res.Version != "v2" {
		t.Errorf("result %+v", res)
	}
	if st := d.state(t); st.Try != slots.B || st.Good != slots.A {
		t.Errorf("the boot state after the update: %+v, want B to try and A good", st)
	}
	st := u.UpdateStatus()
	if st.Slots[1].Version != "v2" || st.Slots[1].State != slots.SlotTrying || st.Slots[0].State != slots.SlotActive {
		t.Errorf("status after the update: %+v", st.Slots)
	}
	// Slot B holds each part where its script says, with zeros between.
	v, _, err := u.readView()
	if err != nil {
		t.Fatal(err)
	}
	sc := v.Scripts[slots.B]
	if sc == nil || sc.Cmdline != p.cmdline {
		t.Fatalf("slot B's script: %+v", sc)
	}
	slotB, _ := os.ReadFile(d.devices[slots.Partition(slots.B)])
	for _, part := range []struct {
		data []byte
		at   slots.Extent
	}{{p.root, sc.Layout.Root}, {p.kernel, sc.Layout.Kernel}, {p.initrd, sc.Layout.Initrd}} {
		if !bytes.Equal(slotB[part.at.Offset:part.at.Offset+part.at.Length], part.data) {
			t.Errorf("slot B at %d: not the part written", part.at.Offset)
		}
	}
	end := sc.Layout.Initrd.Offset + sc.Layout.Initrd.Length
	if !bytes.Equal(slotB[end:sc.Layout.End()], make([]byte, sc.Layout.End()-end)) {
		t.Error("the initrd's last block is not padded with zeros")
	}
	if slotB[sc.Layout.End()] != 0x5a {
		t.Error("the update wrote past its layout's end")
	}
}

// TestABadBundleNeverReachesTheSlot: a bundle with one byte changed, one
// signed with another key, one cut short: refused, and not a byte of the
// disk changed, the other slot's old system included.
func TestABadBundleNeverReachesTheSlot(t *testing.T) {
	d, u := newTestDisk(t, slots.Initial(), slots.A)
	good := d.bundle(t, "v2", newParts("v2"), d.key)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	flipped := bytes.Clone(good)
	flipped[len(flipped)-2048-300] ^= 1 // in the root image, the last part
	before := d.snapshot(t)
	for name, b := range map[string][]byte{
		"a flipped byte":   flipped,
		"another key":      d.bundle(t, "v2", newParts("v2"), other),
		"a stream cut off": good[:len(good)/2],
	} {
		_, err := u.Update(context.Background(), bytes.NewReader(b))
		var ref *control.Refusal
		if !errors.As(err, &ref) || ref.Status != control.StatusBadBundle {
			t.Errorf("%s: %v, want a refusal of the bundle", name, err)
		}
		after := d.snapshot(t)
		for n := range before {
			if !bytes.Equal(before[n], after[n]) {
				t.Errorf("%s: partition %d changed", name, n)
			}
		}
	}
}

func TestUpdatesAreRefusedWhenTheSystemCannotTakeThem(t *testing.T) {
	tests := []struct {
		name    string
		state   slots.State
		running string
		change  func(*updater)
		want    string
	}{
		{"no key", slots.Initial(), slots.A, func(u *updater) { u.key = nil }, "built without an update key"},
		{"on trial", slots.State{Good: slots.A, Trying: slots.B}, slots.B, nil, "runs on trial"},
		{"not booted from a slot", slots.Initial(), "", func(u *updater) { u.why = slots.ErrNoSlots.Error() }, "not booted from a slot"},
		{"too little memory", slots.Initial(), slots.A, func(u *updater) {
			u.memAvailable = func() (int64, error) { return 10 << 20, nil }
		}, "of memory are free"},
		{"too small a slot", slots.Initial(), slots.A, func(u *updater) {
			os.Truncate(u.devices[slots.Partition(slots.B)], 8192)
		}, "build the disk with a larger update.slotSize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, u := newTestDisk(t, tt.state, tt.running)
			if tt.change != nil {
				tt.change(u)
			}
			before := d.snapshot(t)
			_, err := u.Update(context.Background(), bytes.NewReader(d.bundle(t, "v2", newParts("v2"), d.key)))
			var ref *control.Refusal
			if !errors.As(err, &ref) || ref.Status != control.StatusNotNow || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Update = %v, want a refusal saying %q", err, tt.want)
			}
			after := d.snapshot(t)
			for n := range before {
				if !bytes.Equal(before[n], after[n]) {
					t.Errorf("partition %d changed", n)
				}
			}
			// What depends on the system, not on the bundle, the status
			// tells before any bundle is sent.
			if strings.HasPrefix(tt.name, "too") {
				return
			}
			if st := u.UpdateStatus(); st.Updatable || !strings.Contains(st.Why, tt.want) {
				t.Errorf("status says updatable=%v why=%q", st.Updatable, st.Why)
			}
		})
	}
}

func TestRollbackTriesTheOtherSlot(t *testing.T) {
	d, u := newTestDisk(t, slots.Initial(), slots.A)
	if _, err := u.Rollback(context.Background()); err == nil {
		t.Error("a rollback to an empty slot B did not fail")
	}
	if _, err := u.Update(context.Background(), bytes.NewReader(d.bundle(t, "v2", newParts("v2"), d.key))); err != nil {
		t.Fatal(err)
	}
	// Staged, not booted: a rollback calls it off.
	res, err := u.Rollback(context.Background())
	if err != nil || !strings.Contains(res.Message, "called off") {
		t.Fatalf("rollback with an update staged: %+v, %v", res, err)
	}
	if st := d.state(t); st.Try != "" || st.Failed != slots.B {
		t.Errorf("after calling it off: %+v", st)
	}
}

func TestFindPartitionsUnderTheVerityDevice(t *testing.T) {
	sys := t.TempDir()
	mk := func(path, content string) {
		p := filepath.Join(sys, path)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if content != "" {
			os.WriteFile(p, []byte(content), 0o644)
		}
	}
	// /sys/class/block entries are links into /sys/devices.
	devices := filepath.Join(sys, "devices/pci/virtio1/block/vda")
	for n := 1; n <= 3; n++ {
		mk(fmt.Sprintf("devices/pci/virtio1/block/vda/vda%d/partition", n), fmt.Sprint(n))
	}
	mk("devices/pci/virtio1/block/vda/queue/x", "") // not a partition
	class := filepath.Join(sys, "class/block")
	os.MkdirAll(class, 0o755)
	for _, name := range []string{"vda", "vda1", "vda2", "vda3"} {
		target := devices
		if name != "vda" {
			target = filepath.Join(devices, name)
		}
		os.Symlink(target, filepath.Join(class, name))
	}
	mk("class/block/dm-0/slaves/vda3/x", "")
	n, parts, err := findPartitions(class, "/dev", "dm-0")
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 || parts[1] != "/dev/vda1" || parts[2] != "/dev/vda2" || parts[3] != "/dev/vda3" || len(parts) != 3 {
		t.Errorf("findPartitions = %d, %v", n, parts)
	}
	if _, _, err := findPartitions(class, "/dev", "dm-9"); err == nil {
		t.Error("a device-mapper device that is not there passed")
	}
}
