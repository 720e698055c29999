package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/minikit/minikit/internal/control"
	"github.com/minikit/minikit/internal/slots"
	"github.com/minikit/minikit/internal/update"
	"github.com/minikit/minikit/internal/verity"
)

// Applying an update. The bundle arrives as a stream, from a caller init
// does not trust to be quick or to send what it says; nothing of it
// reaches the slot before all of it is checked. Its manifest's signature
// is checked first, then every part is read into memory (a memfd) while
// it is hashed against the signed manifest. Only a bundle that checks
// whole is written, so a bundle that does not (tampered, damaged, cut
// short, signed with another key) leaves the other slot as it was, a
// rollback target still. Checking each chunk against hashes in the
// manifest before writing it would spare the memory, but a bundle found
// bad halfway would have destroyed the other slot's system by then; the
// memory needed is checked against what is free before anything is
// read, and the bundle's size is the slot's, tens of MiB.
//
// Then, so that a power cut at any moment leaves a machine that boots a
// good slot: the other slot's script is emptied first (GRUB can no
// longer boot a half-written slot), the parts are written and synced,
// read back from the disk and hashed again, the slot's script written,
// and only then the boot state set to try the slot once.

// spoolMargin is memory left free besides the spooled bundle.
const spoolMargin = 64 << 20

// Update checks a bundle and writes it into the slot this boot does not
// run from, to be tried once at the next boot.
func (u *updater) Update(ctx context.Context, body io.Reader) (control.UpdateResult, error) {
	if !u.busy.TryLock() {
		return control.UpdateResult{}, notNow(errors.New("an update or rollback is already under way"))
	}
	defer u.busy.Unlock()
	switch {
	case u.running == "":
		return control.UpdateResult{}, notNow(errors.New(u.why))
	case u.key == nil:
		return control.UpdateResult{}, notNow(errNoKey)
	}
	u.envMu.Lock()
	v, _, err := u.readView()
	u.envMu.Unlock()
	if err != nil {
		return control.UpdateResult{}, err
	}
	target, err := v.Target()
	if err != nil {
		return control.UpdateResult{}, notNow(err)
	}
	r, err := update.NewReader(body, u.key)
	if err != nil {
		return control.UpdateResult{}, badBundle(err)
	}
	m := r.Manifest
	slog.Info(fmt.Sprintf("update: receiving %s for slot %s, signed by key %s", versionText(m.Version), target, update.KeyID(u.key)),
		"slot", target, "version", m.Version, "bytes", m.Total())
	if err := u.fits(m, target); err != nil {
		return control.UpdateResult{}, notNow(err)
	}
	sp, err := spool(r)
	if err != nil {
		return control.UpdateResult{}, badBundle(err)
	}
	defer sp.Close()
	script, err := sp.script(target, m)
	if err != nil {
		return control.UpdateResult{}, badBundle(err)
	}
	slog.Info(fmt.Sprintf("update: %s checked: writing slot %s", versionText(m.Version), target), "slot", target, "version", m.Version)
	if err := u.write(ctx, target, sp, script); err != nil {
		slog.Error("update: writing slot "+target+" failed: "+err.Error()+"; the slot stays empty", "slot", target)
		return control.UpdateResult{}, err
	}
	msg := fmt.Sprintf("slot %s now holds %s: it boots once at the next boot, and is kept once every service has run for %ds", target, versionText(m.Version), u.config.GraceSeconds)
	slog.Info("update: "+msg, "slot", target, "version", m.Version)
	return control.UpdateResult{Slot: target, Version: m.Version, Message: msg}, nil
}

func versionText(v string) string {
	if v == "" {
		return "no version"
	}
	return "version " + v
}

// badBundle is a refusal of a bundle that did not check.
func badBundle(err error) error {
	slog.Warn("update: bundle refused: " + err.Error())
	if errors.Is(err, update.ErrSignature) || errors.Is(err, update.ErrBundle) || errors.Is(err, update.ErrHash) || errors.Is(err, errBadParts) {
		return &control.Refusal{Status: control.StatusBadBundle, Err: fmt.Errorf("update refused: %w", err)}
	}
	return fmt.Errorf("update refused: %w", err)
}

// fits checks, before a part is read, that the bundle fits the slot and
// the memory it is spooled in.
func (u *updater) fits(m *update.Manifest, target string) error {
	l := slots.Plan(m.Part(update.PartRoot).Size, m.Part(update.PartKernel).Size, m.Part(update.PartInitrd).Size)
	size, err := deviceSize(u.slotDevice(target))
	if err != nil {
		return err
	}
	if l.End() > size {
		return fmt.Errorf("the update needs %d MiB and slot %s holds %d MiB: build the disk with a larger update.slotSize", (l.End()+1<<20-1)>>20, target, size>>20)
	}
	avail, err := u.memAvailable()
	if err != nil {
		return err
	}
	if m.Total()+spoolMargin > avail {
		return fmt.Errorf("the update is %d MiB and only %d MiB of memory are free to hold it while it is checked", m.Total()>>20, avail>>20)
	}
	return nil
}

// deviceSize is the size of a block device (or file).
func deviceSize(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return f.Seek(0, io.SeekEnd)
}

// memAvailable reads MemAvailable from /proc/meminfo.
func memAvailable() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no MemAvailable in /proc/meminfo")
}

// spooled is a bundle's parts, checked, in memory.
type spooled struct {
	f       *os.File
	offsets map[string]int64
	sizes   map[string]int64
}

func (s *spooled) Close() error { return s.f.Close() }

// part is a reader of a spooled part.
func (s *spooled) part(name string) *io.SectionReader {
	return io.NewSectionReader(s.f, s.offsets[name], s.sizes[name])
}

// spool reads every part of the bundle into a memfd, each checked
// against the signed manifest as it is read.
func spool(r *update.Reader) (*spooled, error) {
	fd, err := unix.MemfdCreate("minikit-update", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memory for the update: %w", err)
	}
	s := &spooled{f: os.NewFile(uintptr(fd), "minikit-update"), offsets: map[string]int64{}, sizes: map[string]int64{}}
	at := int64(0)
	err = r.Each(func(p update.Part, body io.Reader) error {
		n, err := io.Copy(io.NewOffsetWriter(s.f, at), body)
		if err != nil {
			return err
		}
		s.offsets[p.Name], s.sizes[p.Name] = at, n
		at += n
		return nil
	})
	if err != nil {
		s.f.Close()
		return nil, err
	}
	return s, nil
}

// errBadParts marks parts that check against the manifest but do not
// make a system this updater can boot.
var errBadParts = errors.New("the bundle's parts do not make a bootable system")

// script checks that the parts belong together (the command line names
// the root image's root hash) and returns the slot's boot script.
func (s *spooled) script(target string, m *update.Manifest) (slots.Script, error) {
	data, err := io.ReadAll(s.part(update.PartCmdline))
	if err != nil {
		return slots.Script{}, err
	}
	cmdline := strings.TrimSpace(string(data))
	if strings.ContainsAny(cmdline, "\n\r") {
		return slots.Script{}, fmt.Errorf("%w: the command line spans lines", errBadParts)
	}
	for _, f := range strings.Fields(cmdline) {
		if k, _, _ := strings.Cut(f, "="); k == slots.CmdlineSlot || k == "minikit.trial" {
			return slots.Script{}, fmt.Errorf("%w: the command line sets %s, which is the boot loader's", errBadParts, k)
		}
	}
	p, ok, err := verity.FromCmdline(cmdline)
	if err != nil || !ok {
		return slots.Script{}, fmt.Errorf("%w: the command line has no valid %s (%v)", errBadParts, verity.CmdlineKey, err)
	}
	root := s.part(update.PartRoot)
	top := make([]byte, verity.BlockSize)
	if _, err := root.ReadAt(top, p.TopOffset()); err != nil || !p.TopMatches(top) {
		return slots.Script{}, fmt.Errorf("%w: the root image is not the one the command line's root hash names", errBadParts)
	}
	sc := slots.Script{
		Slot:    target,
		Version: m.Version,
		Spec:    m.Spec,
		Cmdline: cmdline,
		Layout:  slots.Plan(s.sizes[update.PartRoot], s.sizes[update.PartKernel], s.sizes[update.PartInitrd]),
	}
	if _, err := sc.Format(); err != nil {
		return slots.Script{}, fmt.Errorf("%w: %v", errBadParts, err)
	}
	return sc, nil
}

// write writes a checked bundle into slot target, in the order that
// keeps the machine bootable whenever it stops.
func (u *updater) write(ctx context.Context, target string, sp *spooled, sc slots.Script) error {
	u.envMu.Lock()
	defer u.envMu.Unlock()
	v, env, err := u.readView()
	if err != nil {
		return err
	}
	if next := v.State.Invalidate(target); next != v.State {
		if err := u.writeState(env, next); err != nil {
			return err
		}
		v.State = next
	}
	if err := u.rewrite(slots.ScriptPath(target), slots.EmptyScript(target, "being written by an update to "+versionText(sc.Version))); err != nil {
		return err
	}
	// From here a power cut leaves the slot empty, never half a system
	// GRUB could boot; the log says so, for the user and for the test
	// that cuts the power here.
	slog.Info(fmt.Sprintf("update: slot %s no longer boots: writing %s into it", target, versionText(sc.Version)), "slot", target)
	dev, err := os.OpenFile(u.slotDevice(target), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer dev.Close()
	l := sc.Layout
	parts := []struct {
		name string
		at   slots.Extent
	}{{update.PartRoot, l.Root}, {update.PartKernel, l.Kernel}, {update.PartInitrd, l.Initrd}}
	written := int64(0)
	for _, p := range parts {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Zeros from where the last part ended, so that no byte of an
		// earlier system stays in a sector GRUB reads.
		if err := writeZeros(dev, written, p.at.Offset); err != nil {
			return err
		}
		if _, err := io.Copy(io.NewOffsetWriter(dev, p.at.Offset), sp.part(p.name)); err != nil {
			return fmt.Errorf("write %s into slot %s: %w", p.name, target, err)
		}
		written = p.at.Offset + p.at.Length
	}
	if err := writeZeros(dev, written, l.End()); err != nil {
		return err
	}
	if err := dev.Sync(); err != nil {
		return fmt.Errorf("sync slot %s: %w", target, err)
	}
	// Read back from the disk, not from the page cache.
	_ = unix.IoctlSetInt(int(dev.Fd()), unix.BLKFLSBUF, 0)
	for _, p := range parts {
		if err := sameContent(io.NewSectionReader(dev, p.at.Offset, p.at.Length), sp.part(p.name)); err != nil {
			return fmt.Errorf("slot %s does not read back what was written to it (%s): %w", target, p.name, err)
		}
	}
	script, err := sc.Format()
	if err != nil {
		return err
	}
	if err := u.rewrite(slots.ScriptPath(target), script); err != nil {
		return err
	}
	return u.writeState(env, v.State.Stage(target))
}

// writeZeros writes zeros over [from, to) of w.
func writeZeros(w io.WriterAt, from, to int64) error {
	zero := make([]byte, 64<<10)
	for at := from; at < to; {
		n := min(int64(len(zero)), to-at)
		if _, err := w.WriteAt(zero[:n], at); err != nil {
			return err
		}
		at += n
	}
	return nil
}

// sameContent compares two readers by their SHA-256.
func sameContent(a, b io.Reader) error {
	sum := func(r io.Reader) (string, error) {
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	sa, err := sum(a)
	if err != nil {
		return err
	}
	sb, err := sum(b)
	if err != nil {
		return err
	}
	if sa != sb {
		return fmt.Errorf("SHA-256 %s, not %s", sa, sb)
	}
	return nil
}
