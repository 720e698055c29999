package imagespec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestUpdateSection(t *testing.T) {
	s, _, err := Parse("t.yml", []byte("update:\n  version: v2.1\n  grace: 90s\n  slotSize: 2G\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Update.Version != "v2.1" || s.Update.GraceDuration() != 90*time.Second || s.Update.SlotBytes() != 2<<30 {
		t.Errorf("update = %+v, grace %v, slot %d", s.Update, s.Update.GraceDuration(), s.Update.SlotBytes())
	}
	none, _, err := Parse("t.yml", []byte("init: [minikit/init:dev]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if none.Update != nil || none.Update.GraceDuration() != DefaultGrace || none.Update.SlotBytes() != 0 || none.Update.VersionOrNone() != "" {
		t.Errorf("a spec without update: %+v", none.Update)
	}
	if j, _ := none.JSON(); strings.Contains(string(j), "update") {
		t.Errorf("a spec without update writes one:\n%s", j)
	}
}

func TestUpdateMergesFieldByField(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yml"), filepath.Join(dir, "b.yml")
	os.WriteFile(a, []byte("update:\n  version: v1\n  grace: 10s\n"), 0o644)
	os.WriteFile(b, []byte("update:\n  version: v2\n"), 0o644)
	s, _, err := ParseFiles(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if s.Update.Version != "v2" || s.Update.Grace != "10s" {
		t.Errorf("merged update = %+v, want version v2 from b and grace 10s from a", s.Update)
	}
}

func TestUpdateMistakesHaveTheirPosition(t *testing.T) {
	tests := []struct{ src, want string }{
		{"update:\n  version: \"v 2\"\n", `2:12: update.version: "v 2" is not a version`},
		{"update:\n  version: 2\n", `2:12: update.version: expected a string, found a number`},
		{"update:\n  grace: 60\n", `2:10: update.grace: expected a string`},
		{"update:\n  grace: 2h\n", `2:10: update.grace: "2h" is not a duration from 1s to 1h0m0s`},
		{"update:\n  grace: soon\n", `2:10: update.grace: "soon" is not a duration`},
		{"update:\n  slotSize: 1M\n", `2:13: update.slotSize: "1M" is not a size from 16M to 1T`},
		{"update:\n  slotSize: lots\n", `2:13: update.slotSize: "lots" is not a size`},
		{"update:\n  grase: 60s\n", `2:3: update.grase: unknown key (did you mean "grace"?`},
		{"update: [v2]\n", `1:9: update: expected a mapping`},
	}
	for _, tt := range tests {
		errs := parseErrors(t, tt.src)
		if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "t.yml:"+tt.want) {
			t.Errorf("%q: errors %v, want one starting %q", tt.src, errs, "t.yml:"+tt.want)
		}
	}
}
