//go:build cgo

package imagespec

import (
	"slices"
	"testing"

	"github.com/opencontainers/runc/libcontainer/specconv"
)

// The default masked and read-only paths are still those of `runc spec`
// in the runc this module builds with.
func TestDefaultPathsAreRuncs(t *testing.T) {
	runc := specconv.Example().Linux
	if !slices.Equal(defaultMaskedPaths, runc.MaskedPaths) {
		t.Errorf("masked paths %v, runc spec writes %v", defaultMaskedPaths, runc.MaskedPaths)
	}
	if !slices.Equal(defaultReadonlyPaths, runc.ReadonlyPaths) {
		t.Errorf("read-only paths %v, runc spec writes %v", defaultReadonlyPaths, runc.ReadonlyPaths)
	}
}
