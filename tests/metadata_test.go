package tests

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/minikit/minikit/tests/harness"
	"github.com/minikit/minikit/tools/diskimage"
	"github.com/minikit/minikit/tools/qemu"
)

// TestMetadataFromCDROM boots a LinuxKit-style spec whose metadata entry
// reads user data from a CD-ROM, as `minikit run -data` gives it, and
// checks what the system's containers then see.
func TestMetadataFromCDROM(t *testing.T) {
	image := build(t, "metadata", "images/metadata.yml", "images/poweroff.yml")
	iso := filepath.Join(t.TempDir(), "data.iso")
	userdata := `{
		"hostname": {"content": "from-the-cd"},
		"etc": {"entries": {"motd": {"content": "hello from the CD"}}},
		"ssh": {"entries": {"authorized_keys": {"perm": "0600", "content": "ssh-ed25519 AAAAtest user@host"}}}
	}`
	if err := diskimage.DataISO(t.Context(), iso, []byte(userdata), time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	m := harness.Boot(t, image, harness.WithQEMU(func(o *qemu.Options) { o.CDROMs = []string{iso} }))
	m.Expect(`000-metadata: .*msg="metadata written" provider=cdrom`, bootTimeout)
	m.Expect(`reader: provider: cdrom`, bootTimeout)
	m.Expect(`reader: hostname: from-the-cd`, bootTimeout)
	m.Expect(`reader: motd: hello from the CD`, bootTimeout)
	m.Expect(`reader: keys: 600 ssh-ed25519 AAAAtest user@host`, bootTimeout)
	if exit := m.WaitExit(bootTimeout); !exit.Clean() {
		t.Fatalf("the system did not power off cleanly: %v", exit)
	}
}
