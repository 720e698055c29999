package images

import "errors"

// ErrDigestMismatch is wrapped by errors about content whose digest is not
// the one asked for: a pinned name that resolves to another image, or a
// blob whose bytes do not hash to its name.
var ErrDigestMismatch = errors.New("digest mismatch")

// ErrUnsafeEntry is wrapped by unpack errors about a layer entry that would
// be written outside the destination directory.
var ErrUnsafeEntry = errors.New("entry would be written outside the destination")
