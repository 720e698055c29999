package observe

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The kernel command line adds destinations to the image's and replaces
// its listener, so one image can report to another collector unrebuilt.
func TestCmdlineAddsToTheImagesSettings(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "observe.json")
	if err := os.WriteFile(f, []byte(`{"logs":["json+tcp://a:1"],"logQueue":500,"metrics":"127.0.0.1:9100"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Read(f)
	if err != nil {
		t.Fatal(err)
	}
	c.Merge(FromCmdline("console=ttyS0 minikit.log=syslog+udp://10.0.2.2:514 minikit.log=json+tcp://a:1 minikit.metrics=:9200 quiet"))
	if !slices.Equal(c.Logs, []string{"json+tcp://a:1", "syslog+udp://10.0.2.2:514"}) || c.LogQueue != 500 || c.Metrics != ":9200" {
		t.Errorf("merged: %+v", c)
	}
	if none, err := Read(filepath.Join(dir, "missing")); err != nil || !none.Empty() {
		t.Errorf("a missing file: %+v, %v", none, err)
	}
	os.WriteFile(f, []byte("{"), 0o644)
	if _, err := Read(f); err == nil {
		t.Error("a broken file read without error")
	}
}

func TestCheckListen(t *testing.T) {
	for s, ok := range map[string]bool{":9100": true, "0.0.0.0:9100": true, "[::1]:9100": true, "10.0.2.15:0": false,
		"host:9100": false, "9100": false, ":99999": false} {
		if err := CheckListen(s); (err == nil) != ok {
			t.Errorf("CheckListen(%q) = %v", s, err)
		}
	}
}
