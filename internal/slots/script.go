package slots

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Script is what a slot's boot script says: the system the slot holds.
// The script is GRUB's, sourced by grub.cfg with $minikit_dev naming the
// slot's partition and $minikit_trial the slot on trial, if any; its
// first lines are comments that init reads back (ParseScript).
type Script struct {
	Slot    string
	Version string // as the spec's update.version says; "" for none
	Spec    string // the digest of the spec the system was built from
	// Cmdline is the kernel command line the system was built with,
	// root hash included; the script adds minikit.slot=SLOT.
	Cmdline string
	Layout  Layout
}

// TrialArgs are added to the kernel command line of a trial boot: init
// learns that the boot is a trial (and takes a fatal error for a reason
// to reboot, whatever minikit.onfail says), and a kernel panic reboots
// after 10 s, so that GRUB falls back in either case.
const TrialArgs = "minikit.trial panic=10"

// CmdlineSlot is the kernel command line option that names the slot a
// boot runs: minikit.slot=A or B.
const CmdlineSlot = "minikit.slot"

// ErrEmpty says that a slot's script names no complete system: the slot
// was never written, or its writing did not finish.
var ErrEmpty = errors.New("the slot holds no complete system")

// scriptEnd is the script's last line before its padding: a script
// without it was cut short.
const scriptEnd = "# end of slot "

// Format writes the script as ScriptSize bytes.
func (s Script) Format() ([]byte, error) {
	if !Valid(s.Slot) {
		return nil, fmt.Errorf("slot script: no slot %q", s.Slot)
	}
	for what, v := range map[string]string{"version": s.Version, "spec": s.Spec, "command line": s.Cmdline} {
		if strings.ContainsAny(v, "\n\r") {
			return nil, fmt.Errorf("slot script: the %s %q spans lines", what, v)
		}
	}
	if err := s.Layout.Check(0); err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# minikit slot %s, sourced by grub.cfg. Updates rewrite this file in place:\n", s.Slot)
	fmt.Fprintf(&b, "# an edit must keep it %d bytes long.\n", ScriptSize)
	fmt.Fprintf(&b, "# version: %s\n", s.Version)
	fmt.Fprintf(&b, "# spec: %s\n", s.Spec)
	for _, p := range []struct {
		name string
		e    Extent
	}{{"root", s.Layout.Root}, {"kernel", s.Layout.Kernel}, {"initrd", s.Layout.Initrd}} {
		fmt.Fprintf(&b, "# %s: %d+%d\n", p.name, p.e.Offset, p.e.Length)
	}
	fmt.Fprintf(&b, "# cmdline: %s\n", s.Cmdline)
	kFirst, kCount := s.Layout.Kernel.Sectors()
	iFirst, iCount := s.Layout.Initrd.Sectors()
	var args []string
	for _, f := range strings.Fields(s.Cmdline) {
		args = append(args, GrubQuote(f))
	}
	args = append(args, CmdlineSlot+"="+s.Slot)
	linux := fmt.Sprintf("linux ${minikit_dev}%d+%d %s", kFirst, kCount, strings.Join(args, " "))
	fmt.Fprintf(&b, "echo %s\n", GrubQuote(fmt.Sprintf("minikit: loading slot %s (%s)", s.Slot, cmpVersion(s.Version))))
	fmt.Fprintf(&b, "if [ \"$minikit_trial\" = %s ]; then\n  %s %s\nelse\n  %s\nfi\n", s.Slot, linux, TrialArgs, linux)
	fmt.Fprintf(&b, "initrd ${minikit_dev}%d+%d\n", iFirst, iCount)
	b.WriteString("boot\n")
	b.WriteString(scriptEnd + s.Slot + "\n")
	return pad(b.String())
}

func cmpVersion(v string) string {
	if v == "" {
		return "no version"
	}
	return "version " + v
}

// EmptyScript is the script of a slot that holds no system, saying why.
func EmptyScript(slot, why string) []byte {
	why = strings.Join(strings.Fields(why), " ")
	s := fmt.Sprintf("# minikit slot %s: %s\necho \"minikit: slot %s holds no system\"\n", slot, why, slot)
	b, err := pad(s)
	if err != nil {
		b, _ = pad(fmt.Sprintf("# minikit slot %s: empty\n", slot))
	}
	return b
}

// pad fills a script up to ScriptSize with a comment line of '#'.
func pad(s string) ([]byte, error) {
	if len(s)+1 > ScriptSize {
		return nil, fmt.Errorf("slot script: %d bytes, more than the %d a script holds (is the command line that long?)", len(s), ScriptSize)
	}
	b := []byte(s)
	b = append(b, bytes.Repeat([]byte("#"), ScriptSize-len(s)-1)...)
	return append(b, '\n'), nil
}

// ParseScript reads back what a script says; ErrEmpty when it names no
// complete system.
func ParseScript(data []byte) (*Script, error) {
	text := string(data)
	first, _, _ := strings.Cut(text, "\n")
	var s Script
	if _, err := fmt.Sscanf(first, "# minikit slot %1s,", &s.Slot); err != nil || !Valid(s.Slot) {
		return nil, ErrEmpty
	}
	if !strings.Contains(text, "\n"+scriptEnd+s.Slot+"\n") {
		return nil, fmt.Errorf("%w: the script of slot %s was cut short", ErrEmpty, s.Slot)
	}
	extent := func(v string) (Extent, error) {
		off, n, ok := strings.Cut(v, "+")
		o, err1 := strconv.ParseInt(off, 10, 64)
		l, err2 := strconv.ParseInt(n, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return Extent{}, fmt.Errorf("slot script: %q is not OFFSET+LENGTH", v)
		}
		return Extent{o, l}, nil
	}
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "# "), ": ")
		if !ok || !strings.HasPrefix(line, "# ") {
			continue
		}
		var err error
		switch k {
		case "version":
			s.Version = v
		case "spec":
			s.Spec = v
		case "cmdline":
			s.Cmdline = v
		case "root":
			s.Layout.Root, err = extent(v)
		case "kernel":
			s.Layout.Kernel, err = extent(v)
		case "initrd":
			s.Layout.Initrd, err = extent(v)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := s.Layout.Check(0); err != nil {
		return nil, fmt.Errorf("slot %s: %w", s.Slot, err)
	}
	return &s, nil
}

// GrubQuote quotes a word for GRUB's shell-like script language when it
// holds anything GRUB would interpret.
func GrubQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"'\\$;|&<>{}[]#*?`") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
