package main

import (
	"log/slog"
	"testing"
)

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		cmdline string
		want    cmdline
	}{
		{"console=ttyS0 quiet", cmdline{onfail: "poweroff", level: slog.LevelInfo}},
		{"minikit.onfail=reboot minikit.debug", cmdline{onfail: "reboot", level: slog.LevelDebug}},
		{"minikit.onfail=shell minikit.loglevel=warn", cmdline{onfail: "shell", level: slog.LevelWarn}},
		{"minikit.onfail=explode minikit.loglevel=loud", cmdline{onfail: "poweroff", level: slog.LevelInfo}},
		// A trial boot reboots on a fatal error, whatever else it says.
		{"minikit.onfail=shell minikit.slot=B minikit.trial panic=10", cmdline{onfail: "reboot", level: slog.LevelInfo}},
		{"minikit.trial minikit.onfail=poweroff", cmdline{onfail: "reboot", level: slog.LevelInfo}},
	}
	for _, tt := range tests {
		if got := parseCmdline(tt.cmdline); got != tt.want {
			t.Errorf("parseCmdline(%q) = %+v, want %+v", tt.cmdline, got, tt.want)
		}
	}
}
