package slots

import (
	"errors"
	"strings"
	"testing"
)

func TestScriptRoundTrip(t *testing.T) {
	s := Script{
		Slot:    B,
		Version: "v2",
		Spec:    "sha256:abc",
		Cmdline: "console=ttyS0 panic=-1 minikit.verity=aa:bb:3 msg=$HOME",
		Layout:  Plan(9703424, 8247232, 7999233),
	}
	data, err := s.Format()
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != ScriptSize {
		t.Fatalf("the script is %d bytes, want %d", len(data), ScriptSize)
	}
	text := string(data)
	for _, want := range []string{
		// the kernel at the first 4 KiB boundary after the root image,
		// 8247232 bytes in 16108 sectors, the last one padded
		"linux ${minikit_dev}18952+16108 console=ttyS0 panic=-1 minikit.verity=aa:bb:3 'msg=$HOME' minikit.slot=B minikit.trial panic=10\n",
		"linux ${minikit_dev}18952+16108 console=ttyS0 panic=-1 minikit.verity=aa:bb:3 'msg=$HOME' minikit.slot=B\n",
		"initrd ${minikit_dev}35064+15624\n",
		`if [ "$minikit_trial" = B ]; then`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the script lacks %q:\n%s", want, text[:strings.Index(text, "###")])
		}
	}
	back, err := ParseScript(data)
	if err != nil {
		t.Fatal(err)
	}
	if *back != s {
		t.Errorf("read back\n%+v\nwant\n%+v", *back, s)
	}
}

func TestEmptyAndCutScripts(t *testing.T) {
	if _, err := ParseScript(EmptyScript(A, "being written")); !errors.Is(err, ErrEmpty) {
		t.Errorf("ParseScript of an empty slot's script = %v, want ErrEmpty", err)
	}
	full, err := Script{Slot: A, Layout: Plan(4096, 100, 100)}.Format()
	if err != nil {
		t.Fatal(err)
	}
	cut := append([]byte{}, full[:300]...)
	if _, err := ParseScript(cut); !errors.Is(err, ErrEmpty) {
		t.Errorf("ParseScript of a script cut short = %v, want ErrEmpty", err)
	}
	if len(EmptyScript(B, strings.Repeat("why ", 2000))) != ScriptSize {
		t.Error("an empty script with a long reason is not ScriptSize bytes")
	}
}

func TestScriptRefusesWhatGrubWouldMisread(t *testing.T) {
	for name, s := range map[string]Script{
		"no slot":             {Slot: "C", Layout: Plan(0, 1, 1)},
		"a version of lines":  {Slot: A, Version: "1\nboot", Layout: Plan(0, 1, 1)},
		"no kernel":           {Slot: A, Layout: Plan(4096, 0, 1)},
		"a huge command line": {Slot: A, Cmdline: strings.Repeat("x ", 3000), Layout: Plan(0, 1, 1)},
	} {
		if _, err := s.Format(); err == nil {
			t.Errorf("%s: Format did not fail", name)
		}
	}
}

func TestLayoutIsAligned(t *testing.T) {
	l := Plan(4096*3+0, 5000, 7000)
	if l.Kernel.Offset != 12288 || l.Initrd.Offset != 12288+8192 || l.End() != 12288+8192+8192 {
		t.Errorf("Plan = %+v, end %d", l, l.End())
	}
	if err := l.Check(l.End() - 1); err == nil {
		t.Error("a layout larger than its slot passes Check")
	}
	if err := (Layout{Kernel: Extent{4096, 10}, Initrd: Extent{0, 10}}).Check(0); err == nil {
		t.Error("overlapping parts pass Check")
	}
}

func TestGrubConfigNamesTheSlotsPartitions(t *testing.T) {
	for scheme, want := range map[string][]string{
		SchemeMBR: {"($minikit_disk,msdos2)", "($minikit_disk,msdos3)"},
		SchemeGPT: {"($minikit_disk,gpt2)", "($minikit_disk,gpt3)"},
	} {
		cfg := GrubConfig(scheme)
		for _, w := range append(want, "load_env -f $minikit_env minikit_good minikit_try minikit_trying minikit_failed",
			"save_env -f $minikit_env minikit_trying minikit_try", "source ($root)/boot/$minikit_slot.cfg") {
			if !strings.Contains(cfg, w) {
				t.Errorf("%s grub.cfg lacks %q", scheme, w)
			}
		}
		if strings.Contains(cfg, "@") {
			t.Errorf("%s grub.cfg has a placeholder left:\n%s", scheme, cfg)
		}
	}
}
