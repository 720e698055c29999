package packer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/minikit/minikit/internal/observe"
)

// observe writes the spec's `observe:` section where init reads it. A CA
// that the image does not carry would only show at boot, as logs that
// never arrive: it is an error here.
func (b *build) observe() error {
	c := b.Spec.Observe
	if c == nil || c.Empty() {
		return nil
	}
	if c.LogCA != "" {
		fi, err := os.Stat(filepath.Join(b.staging, c.LogCA))
		if err != nil || !fi.Mode().IsRegular() {
			return fmt.Errorf("observe.logCA: %s is not a file of the image (add it under files:)", c.LogCA)
		}
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return b.writeImageFile(observe.File, append(data, '\n'))
}
