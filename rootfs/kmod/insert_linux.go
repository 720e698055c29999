package kmod

import (
	"os"

	"golang.org/x/sys/unix"
)

// finitModule loads an uncompressed module with no parameters.
func finitModule(f *os.File) error {
	return unix.FinitModule(int(f.Fd()), "", 0)
}
