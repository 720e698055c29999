package images

import (
	"errors"
	"fmt"

	"github.com/dustin/go-humanize"
)

// ErrTooLarge is wrapped by unpack errors about a layer whose files would
// take the unpack past UnpackOptions.MaxBytes.
var ErrTooLarge = errors.New("unpack size limit exceeded")

// budget is what is left of one unpack's MaxBytes. Files are charged at
// their logical size, not at what they take on disk: holes are kept, so a
// sparse file costs the staging tree next to nothing, but every output
// (the initrd's cpio, the root tarball, the ISOs and disks that carry the
// initrd) copies file contents with the holes filled in, and so does the
// machine that boots it.
type budget struct {
	max, used int64
}

func newBudget(max int64) *budget {
	if max <= 0 {
		max = DefaultMaxBytes
	}
	return &budget{max: max}
}

// take charges a file of size bytes, or refuses it when it does not fit.
func (b *budget) take(size int64) error {
	if size >= 0 && size <= b.max-b.used {
		b.used += size
		return nil
	}
	already := ""
	if b.used > 0 {
		already = fmt.Sprintf(", after the %s already unpacked,", humanize.IBytes(uint64(b.used)))
	}
	return fmt.Errorf("%s of content%s would pass the limit of %s on one unpack: %w",
		humanize.IBytes(uint64(max(size, 0))), already, humanize.IBytes(uint64(b.max)), ErrTooLarge)
}
