package main

import (
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"path/filepath"
)

// Linux input event constants (linux/input-event-codes.h).
const (
	evKey    = 0x01
	keyPower = 116
)

// watchPowerButton powers off when any input device reports the power
// key, which is how the ACPI power button (qemu's system_powerdown)
// arrives once the button and evdev modules are loaded. No acpid needed.
func (in *initSys) watchPowerButton() {
	devices, _ := filepath.Glob("/dev/input/event*")
	for _, dev := range devices {
		f, err := os.Open(dev)
		if err != nil {
			continue
		}
		in.goSafe("power button "+dev, func() {
			if waitPowerKey(f) {
				slog.Info("power button pressed", "device", dev)
				in.requestShutdown("poweroff")
			}
			f.Close() // not deferred: after a panic the guard reads on
		})
	}
	slog.Debug("watching for the power button", "devices", len(devices))
}

// waitPowerKey reads input events until a power key press; it reports
// false when the device goes away first.
func waitPowerKey(r io.Reader) bool {
	// struct input_event on 64-bit: timeval (16), type u16, code u16, value s32.
	var ev [24]byte
	for {
		if _, err := io.ReadFull(r, ev[:]); err != nil {
			return false
		}
		typ := binary.LittleEndian.Uint16(ev[16:])
		code := binary.LittleEndian.Uint16(ev[18:])
		value := int32(binary.LittleEndian.Uint32(ev[20:]))
		if typ == evKey && code == keyPower && value == 1 {
			return true
		}
	}
}
