package qemu

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Firmware is what starts the guest before the kernel.
type Firmware string

// The firmwares Start can give a guest.
const (
	// FirmwareBIOS is qemu's default SeaBIOS. It is what -kernel boots
	// with, and it boots ISOs and disks made for BIOS.
	FirmwareBIOS Firmware = "bios"
	// FirmwareEFI is UEFI from Debian's OVMF, for images made for UEFI.
	FirmwareEFI Firmware = "efi"
)

// ParseFirmware reads "bios" or "efi"; empty means BIOS.
func ParseFirmware(s string) (Firmware, error) {
	switch f := Firmware(s); f {
	case "":
		return FirmwareBIOS, nil
	case FirmwareBIOS, FirmwareEFI:
		return f, nil
	}
	return "", fmt.Errorf("firmware %q: want bios or efi", s)
}

// ErrNoOVMF is wrapped by the error Start returns for a UEFI guest on a
// host without OVMF.
var ErrNoOVMF = errors.New("OVMF (UEFI firmware for qemu) not found: install the Debian package ovmf")

// ovmfPairs are where Debian's ovmf package puts the firmware code and
// the template of its variable store, newest layout first.
var ovmfPairs = [][2]string{
	{"/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"},
	{"/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"},
}

// FindOVMF returns the OVMF code and variable-store template to boot a
// UEFI guest with, or an error wrapping ErrNoOVMF. The code is the build
// without Secure Boot, since minikit's images are not signed.
func FindOVMF() (code, vars string, err error) {
	for _, p := range ovmfPairs {
		if fileExists(p[0]) && fileExists(p[1]) {
			return p[0], p[1], nil
		}
	}
	return "", "", fmt.Errorf("looked for %s: %w", filepath.Dir(ovmfPairs[0][0]), ErrNoOVMF)
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// copyVars gives a guest its own writable copy of the variable store: the
// firmware writes boot entries into it, and the template must stay as
// Debian shipped it.
func copyVars(template, dir string) (string, error) {
	in, err := os.Open(template)
	if err != nil {
		return "", fmt.Errorf("OVMF variables: %w", err)
	}
	defer in.Close()
	dest := filepath.Join(dir, "OVMF_VARS.fd")
	out, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", fmt.Errorf("OVMF variables: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return "", fmt.Errorf("OVMF variables: %w", err)
	}
	return dest, out.Close()
}
