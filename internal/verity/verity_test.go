package verity

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// TestTopMatchesAsVeritysetupHashes checks TopMatches against the root
// hash veritysetup computed for a real image, when veritysetup is here.
func TestTopMatchesAsVeritysetupHashes(t *testing.T) {
	if _, err := exec.LookPath("veritysetup"); err != nil {
		t.Skip("needs veritysetup (apt-get install cryptsetup-bin)")
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "img")
	data := bytes.Repeat([]byte("minikit data block "), 40000) // several hash tree levels' worth
	data = append(data, make([]byte, (BlockSize-len(data)%BlockSize)%BlockSize)...)
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
	p := Params{Salt: []byte{1, 2, 3, 4}, DataBlocks: uint64(len(data) / BlockSize)}
	out, err := exec.Command("veritysetup", "format", "--no-superblock", "--hash=sha256",
		"--data-block-size=4096", "--hash-block-size=4096", fmt.Sprintf("--data-blocks=%d", p.DataBlocks),
		fmt.Sprintf("--hash-offset=%d", p.HashOffset()), "--salt=01020304", img, img).CombinedOutput()
	if err != nil {
		t.Fatalf("veritysetup: %v\n%s", err, out)
	}
	for line := range strings.Lines(string(out)) {
		if v, ok := strings.CutPrefix(line, "Root hash:"); ok {
			p.RootHash, _ = hex.DecodeString(strings.TrimSpace(v))
		}
	}
	image, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	top := image[p.TopOffset() : p.TopOffset()+BlockSize]
	if !p.TopMatches(top) {
		t.Fatal("the top of the hash tree veritysetup wrote does not match its root hash")
	}
	top[100] ^= 1
	if p.TopMatches(top) {
		t.Error("a changed top block still matches")
	}
	other := p
	other.Salt = []byte{9}
	top[100] ^= 1
	if other.TopMatches(top) {
		t.Error("another salt still matches")
	}
}
