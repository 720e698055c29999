package main

import (
	"strings"
	"testing"
)

func TestNoteSaysWhereTheLogsAre(t *testing.T) {
	if n := note("/var/log"); !strings.Contains(n, "/var/log/NAME.log") || strings.Contains(n, "not used") {
		t.Errorf("note = %q", n)
	}
	if n := note("/var/log/other"); !strings.Contains(n, "-log-dir /var/log/other is not used") {
		t.Errorf("note with another directory = %q", n)
	}
}
