// Command crypto opens an encrypted block device with dm-crypt at onboot,
// as LinuxKit's dm-crypt package does, so that /dev/mapper/NAME can be
// mounted: plain dm-crypt by default, LUKS with -l (formatting a device
// that has no LUKS header yet). The key is /etc/dm-crypt/KEY ("key" unless
// -k names another; a path starting with / is taken as it is). A mapping
// without a filesystem is filled with zeros through the cipher and given
// ext4.
//
// usage: crypto [-l|--luks] [-k|--key-file KEY] NAME DEVICE
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/minikit/minikit/onboot/internal/getopt"
)

const usage = `usage: crypto [options] NAME DEVICE
  -l, --luks           use LUKS (format DEVICE if it has no LUKS header)
  -k, --key-file KEY   key file in /etc/dm-crypt, or an absolute path (default key)
  -h, --help           this text
NAME is the mapping, /dev/mapper/NAME; DEVICE the encrypted device.`

func main() {
	r, err := getopt.Parse(os.Args[1:], []getopt.Option{
		{Short: 'l', Long: "luks"},
		{Short: 'k', Long: "key-file", Value: true},
		{Short: 'h', Long: "help"},
	})
	if err == nil && r.Has("help") {
		fmt.Println(usage)
		return
	}
	if err == nil && len(r.Operands) != 2 {
		err = errors.New("NAME and DEVICE are required")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "crypto: %v\n%s\n", err, usage)
		os.Exit(1)
	}
	c := &crypt{
		name:    r.Operands[0],
		device:  r.Operands[1],
		luks:    r.Has("luks"),
		keyFile: keyPath("/etc/dm-crypt", r.Last("key-file", "key")),
		mapper:  "/dev/mapper",
		lockDir: "/run/cryptsetup",
		run:     runCommand,
		log:     slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
	if err := c.open(); err != nil {
		c.log.Error("crypto: "+err.Error(), "name", c.name, "device", c.device)
		os.Exit(1)
	}
}
