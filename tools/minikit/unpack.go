package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"

	"github.com/minikit/minikit/tools/images"
	"github.com/minikit/minikit/tools/qemu"
)

// maxUnpackFlag registers -max-unpack, the cap on the file contents one
// of what (an image, a Debian package) may unpack, on fs.
func maxUnpackFlag(fs *flag.FlagSet, what string) *sizeFlag {
	s := sizeFlag(images.DefaultMaxBytes)
	fs.Var(&s, "max-unpack", "the most file content "+what+" may unpack (`SIZE`: bytes, or with K, M, G or T); a larger one fails the build")
	return &s
}

// sizeFlag is a byte count written as minikit run -disk's size=N is.
type sizeFlag int64

func (s *sizeFlag) String() string {
	n := int64(*s)
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"T", 40}, {"G", 30}, {"M", 20}, {"K", 10}} {
		if n != 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (s *sizeFlag) Set(value string) error {
	n, err := qemu.ParseSize(value)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

// explainUnpackLimit says how to raise the cap an error ran into, since
// a legitimately huge image meets it too.
func explainUnpackLimit(err error) error {
	if errors.Is(err, images.ErrTooLarge) {
		return fmt.Errorf("%w (if the image is meant to be this large, raise -max-unpack)", err)
	}
	return err
}
