package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/minikit/minikit/internal/update"
	"github.com/minikit/minikit/internal/update/signkey"
)

const keyUsage = `Usage: minikit key generate NAME

Makes an ed25519 key pair to sign update bundles with: NAME.key, the
private key (PKCS#8 PEM, readable by its owner only: keep it secret), and
NAME.pub, the public key (PKIX PEM). minikit build -sign NAME.key signs
the update bundle (-format update) and puts NAME.pub into the image, which
then takes only the updates that key signed. Existing files are never
overwritten.
`

func keyCommand(args []string) error {
	fs := flag.NewFlagSet("key", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), keyUsage) }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 || fs.Arg(0) != "generate" {
		fs.Usage()
		return errors.New("want: minikit key generate NAME")
	}
	name := fs.Arg(1)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	privPEM, err := signkey.Encode(priv)
	if err != nil {
		return err
	}
	pubPEM, err := update.EncodePublicKey(pub)
	if err != nil {
		return err
	}
	if err := writeNew(name+".key", privPEM, 0o600); err != nil {
		return err
	}
	if err := writeNew(name+".pub", pubPEM, 0o644); err != nil {
		os.Remove(name + ".key")
		return err
	}
	fmt.Printf("%s.key\n%s.pub\nkey %s\n", name, name, update.KeyID(pub))
	return nil
}

// writeNew writes a file that must not exist yet, with mode perm whatever
// the umask.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// readSignKey reads the private key -sign names.
func readSignKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-sign: %w", err)
	}
	key, err := signkey.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("-sign %s: %w (make one with minikit key generate NAME)", path, err)
	}
	return key, nil
}
