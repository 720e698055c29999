//go:build !linux

package kmod

import (
	"errors"
	"os"
)

// finitModule fails: only Linux loads Linux modules. The rest of the
// package (reading, resolving, copying) works on any build host.
func finitModule(*os.File) error {
	return errors.ErrUnsupported
}
