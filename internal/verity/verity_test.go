package verity

import (
	"bytes"
	"strings"
	"testing"
)

func TestParamsRoundTripThroughTheCommandLine(t *testing.T) {
	p := Params{RootHash: bytes.Repeat([]byte{0xab}, HashSize), Salt: []byte{1, 2, 3}, DataBlocks: 13526}
	cmdline := "console=ttyS0 " + CmdlineKey + "=" + p.String() + " panic=-1"
	got, ok, err := FromCmdline(cmdline)
	if err != nil || !ok {
		t.Fatalf("FromCmdline(%q) = %v, %v", cmdline, ok, err)
	}
	if !bytes.Equal(got.RootHash, p.RootHash) || !bytes.Equal(got.Salt, p.Salt) || got.DataBlocks != p.DataBlocks {
		t.Errorf("read back %+v, wrote %+v", got, p)
	}
	if _, ok, err := FromCmdline("console=ttyS0"); ok || err != nil {
		t.Errorf("a command line without %s: ok=%v err=%v", CmdlineKey, ok, err)
	}
}

func TestTheTableInitBuildsFromACommandLine(t *testing.T) {
	root := strings.Repeat("3f", HashSize)
	p, err := Parse(root + ":c172b9:13526")
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Target("7:0")
	if err != nil {
		t.Fatal(err)
	}
	// Data and hash on one device, the tree right after the data.
	want := "1 7:0 7:0 4096 4096 13526 13526 sha256 " + root + " c172b9"
	if got != want {
		t.Errorf("target\n got %s\nwant %s", got, want)
	}
	if p.Sectors() != 13526*8 || p.HashOffset() != 13526*4096 {
		t.Errorf("sectors %d, hash offset %d", p.Sectors(), p.HashOffset())
	}
	p.Salt = nil
	if got, _ := p.Target("7:0"); !strings.HasSuffix(got, " -") {
		t.Errorf("no salt is written as -: %s", got)
	}
}

func TestParseRefusesWhatIsNoVerityParameter(t *testing.T) {
	root := strings.Repeat("ab", HashSize)
	for _, bad := range []string{
		"",
		root,
		root + ":00",
		"zz:00:1",
		strings.Repeat("ab", HashSize-1) + ":00:1",
		root + ":0g:1",
		root + ":" + strings.Repeat("00", maxSalt+1) + ":1",
		root + ":00:0",
		root + ":00:-1",
		root + ":00:18446744073709551615",
		root + ":00:1:extra",
	} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted it", bad)
		} else if !strings.Contains(err.Error(), CmdlineKey) {
			t.Errorf("Parse(%q): %v does not name %s", bad, err, CmdlineKey)
		}
	}
}
