package packer

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/minikit/minikit/internal/atomicfile"
	"github.com/minikit/minikit/internal/bundle"
	"github.com/minikit/minikit/internal/update"
)

// A system takes updates on a disk with slots A and B (internal/slots):
// an update bundle (internal/update) holds what a slot holds, signed with
// the key whose public half the system carries.

// writeUpdateFiles puts what init needs to take updates into the root:
// the public key bundles must be signed with (when the build signs) and
// the spec's update settings. A system built without a key refuses
// every update.
func (b *build) writeUpdateFiles() error {
	if b.SignKey == nil && b.Spec.Update == nil {
		return nil
	}
	if b.SignKey != nil {
		pub, err := update.EncodePublicKey(b.publicKey())
		if err != nil {
			return err
		}
		if err := writeUnder(b.staging, bundle.UpdateKey, pub); err != nil {
			return err
		}
	}
	settings, err := json.MarshalIndent(bundle.UpdateSettings{
		Version:      b.Spec.Update.VersionOrNone(),
		GraceSeconds: int(b.Spec.Update.GraceDuration().Seconds()),
	}, "", "  ")
	if err != nil {
		return err
	}
	return writeUnder(b.staging, bundle.UpdateConfig, append(settings, '\n'))
}

// publicKey is the public half of the signing key.
func (b *build) publicKey() ed25519.PublicKey {
	return b.SignKey.Public().(ed25519.PublicKey)
}

// specDigest names the spec a system was built from: the SHA-256 of the
// resolved spec as JSON.
func (b *build) specDigest() (string, error) {
	data, err := b.Spec.JSON()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// checkUpdate refuses, before any work, a build of an update bundle that
// could not be applied: one without a key to sign it.
func checkUpdate(opts Options) error {
	for _, f := range opts.Formats {
		if f == Update && opts.SignKey == nil {
			return errors.New("format update: an update bundle must be signed: give -sign NAME.key (minikit key generate NAME makes one)")
		}
	}
	return nil
}

// writeUpdate writes the update bundle: the kernel, the command line,
// the initrd that finds the root image on a disk, and the root image with
// its hash tree, as a slot holds them.
func (b *build) writeUpdate(dest, initrd string) error {
	if b.rootImage == nil || b.rootImage.Verity == nil || initrd == "" {
		return errors.New("format update: an update carries a root image checked by dm-verity: not with -root tmpfs, -verity=false, or a kernel that cannot mount the image")
	}
	spec, err := b.specDigest()
	if err != nil {
		return err
	}
	cmdline := filepath.Join(b.work, "update-cmdline")
	if err := atomicfile.Write(cmdline, []byte(strings.TrimSpace(b.cmdline)+"\n"), 0o644); err != nil {
		return err
	}
	parts := map[string]string{
		update.PartKernel:  b.kernelFile,
		update.PartCmdline: cmdline,
		update.PartInitrd:  initrd,
		update.PartRoot:    b.rootImage.Path,
	}
	err = atomicfile.WriteFunc(dest, 0o644, func(w io.Writer) error {
		return update.Write(w, b.Spec.Update.VersionOrNone(), spec, parts, b.SignKey, b.epoch)
	})
	if err != nil {
		return fmt.Errorf("format update: %w", err)
	}
	b.Log.Info("update bundle signed", "version", b.Spec.Update.VersionOrNone(), "key", update.KeyID(b.publicKey()))
	return nil
}
