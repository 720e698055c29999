// Package verity is the contract between the packer, which writes the
// root image with its dm-verity hash tree, and init, which checks every
// block it reads against it: the layout of the image and how the kernel
// command line carries what init needs to set up the verity device.
//
// The layout is fixed so that the command line says little: 4 KiB data
// and hash blocks, SHA-256, no verity superblock, and the hash tree
// written right after the data, at block DataBlocks of the same file or
// partition. The command line names the root hash, the salt and the size
// of the data; the root hash is what makes the image trusted, so nothing
// read from the image itself decides how it is checked.
package verity

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// CmdlineKey is the kernel command line option that carries the
// parameters: minikit.verity=ROOTHASH:SALT:DATABLOCKS.
const CmdlineKey = "minikit.verity"

// The fixed layout.
const (
	BlockSize = 4096
	Algorithm = "sha256"
	// HashSize is the size of a SHA-256 digest, the root hash's.
	HashSize = 32
	// maxSalt is the kernel's limit on a verity salt.
	maxSalt = 256
)

// Params say how to check one image.
type Params struct {
	RootHash []byte
	Salt     []byte
	// DataBlocks is the size of the checked data in BlockSize blocks;
	// the hash tree starts at that block.
	DataBlocks uint64
}

// String is the value of CmdlineKey for p.
func (p Params) String() string {
	return fmt.Sprintf("%x:%x:%d", p.RootHash, p.Salt, p.DataBlocks)
}

// Parse reads the value of CmdlineKey.
func Parse(s string) (Params, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return Params{}, fmt.Errorf("%s=%q: want ROOTHASH:SALT:DATABLOCKS", CmdlineKey, s)
	}
	var p Params
	var err error
	if p.RootHash, err = hex.DecodeString(parts[0]); err != nil || len(p.RootHash) != HashSize {
		return Params{}, fmt.Errorf("%s: the root hash %q is not %d hex-encoded bytes", CmdlineKey, parts[0], HashSize)
	}
	if p.Salt, err = hex.DecodeString(parts[1]); err != nil || len(p.Salt) > maxSalt {
		return Params{}, fmt.Errorf("%s: the salt %q is not at most %d hex-encoded bytes", CmdlineKey, parts[1], maxSalt)
	}
	if p.DataBlocks, err = strconv.ParseUint(parts[2], 10, 64); err != nil || p.DataBlocks == 0 {
		return Params{}, fmt.Errorf("%s: the data size %q is not a positive number of blocks", CmdlineKey, parts[2])
	}
	// The table counts 512-byte sectors in 64 bits.
	if p.DataBlocks > (1<<64-1)/(BlockSize/512) {
		return Params{}, fmt.Errorf("%s: the data size %q is too large", CmdlineKey, parts[2])
	}
	return p, nil
}

// FromCmdline finds the parameters on a kernel command line; ok is false
// when the command line has none (an image built without verity).
func FromCmdline(cmdline string) (p Params, ok bool, err error) {
	for _, f := range strings.Fields(cmdline) {
		if v, found := strings.CutPrefix(f, CmdlineKey+"="); found {
			p, err = Parse(v)
			return p, true, err
		}
	}
	return Params{}, false, nil
}

// Sectors is the size of the checked data in 512-byte sectors, the size
// of the verity device.
func (p Params) Sectors() uint64 { return p.DataBlocks * (BlockSize / 512) }

// HashOffset is where the hash tree starts, in bytes from the start of
// the image.
func (p Params) HashOffset() int64 { return int64(p.DataBlocks) * BlockSize }

// Target is the device-mapper verity target's parameters for an image on
// the block device dev ("MAJOR:MINOR" or a path), which holds both the
// data and, after it, the hash tree (Documentation/admin-guide/
// device-mapper/verity.rst: version 1, the format veritysetup writes).
func (p Params) Target(dev string) (string, error) {
	if len(p.RootHash) != HashSize || p.DataBlocks == 0 {
		return "", errors.New("verity: incomplete parameters")
	}
	salt := "-"
	if len(p.Salt) > 0 {
		salt = hex.EncodeToString(p.Salt)
	}
	return fmt.Sprintf("1 %s %s %d %d %d %d %s %x %s",
		dev, dev, BlockSize, BlockSize, p.DataBlocks, p.DataBlocks, Algorithm, p.RootHash, salt), nil
}

// TopOffset is where the block the root hash is the hash of starts: the
// first block of the hash tree, its top level (veritysetup writes the
// levels from the top down), or, for an image of one block, which has no
// tree, that block.
func (p Params) TopOffset() int64 {
	if p.DataBlocks <= 1 {
		return 0
	}
	return p.HashOffset()
}

// TopMatches reports whether top, the BlockSize bytes at TopOffset,
// hashes to p's root hash, as dm-verity hashes it (format 1: the salt,
// then the block). It tells at the cost of one block whether an
// image is the one p checks, before a verity device reads any data: an
// image that is not (the other slot of an A/B disk) is then passed over
// without dm-verity reporting it as corrupt.
func (p Params) TopMatches(top []byte) bool {
	if len(top) != BlockSize {
		return false
	}
	h := sha256.New()
	h.Write(p.Salt)
	h.Write(top)
	return bytes.Equal(h.Sum(nil), p.RootHash)
}
