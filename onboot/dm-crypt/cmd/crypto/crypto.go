package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/minikit/minikit/onboot/internal/disk"
)

// cipher is LinuxKit's, for plain mappings and new LUKS headers alike, so
// that a disk encrypted by LinuxKit's package opens here.
const cipher = "aes-cbc-essiv:sha256"

// crypt is one run of the command.
type crypt struct {
	name, device string
	luks         bool
	keyFile      string
	mapper       string // /dev/mapper
	lockDir      string // cryptsetup's, /run/cryptsetup
	// run runs a program; its error is an *exec.ExitError for a
	// non-zero exit status. Tests replace it.
	run func(name string, args ...string) error
	log *slog.Logger
}

// keyPath is where a key named on the command line is: in dir, unless
// the name is an absolute path.
func keyPath(dir, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(dir, name)
}

// open maps the device, then makes sure the mapping holds a filesystem.
func (c *crypt) open() error {
	if _, err := os.Stat(c.keyFile); err != nil {
		return fmt.Errorf("no key file %s (a spec's files entry, bound in): %w", c.keyFile, err)
	}
	if err := c.mapDevice(); err != nil {
		return err
	}
	mapped := filepath.Join(c.mapper, c.name)
	fs, ok, err := disk.ProbePath(mapped)
	if err != nil {
		return err
	}
	if ok {
		c.log.Info("the mapping holds a filesystem", "device", mapped, "type", fs.Type, "uuid", fs.UUID)
		return nil
	}
	c.log.Info("the mapping holds no filesystem: filling it with zeros, then making ext4", "device", mapped)
	start := time.Now()
	n, err := fillZeros(mapped)
	if err != nil {
		return err
	}
	c.log.Info("filled", "device", mapped, "bytes", n, "duration", time.Since(start).Round(time.Millisecond))
	if err := c.run("mkfs.ext4", "-q", mapped); err != nil {
		return fmt.Errorf("mkfs.ext4 %s: %w", mapped, err)
	}
	c.log.Info("ext4 made", "device", mapped)
	return nil
}

// mapDevice creates /dev/mapper/NAME with cryptsetup.
func (c *crypt) mapDevice() error {
	// The image's /run is a tmpfs, empty.
	if err := os.MkdirAll(c.lockDir, 0o700); err != nil {
		return err
	}
	if !c.luks {
		c.log.Info("creating a plain dm-crypt mapping", "device", c.device, "mapping", filepath.Join(c.mapper, c.name))
		return c.run("cryptsetup", "--key-file", c.keyFile, "--cipher", cipher, "open", "--type", "plain", c.device, c.name)
	}
	err := c.run("cryptsetup", "isLuks", c.device)
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		c.log.Info("no LUKS header: formatting", "device", c.device)
		if err := c.run("cryptsetup", "--batch-mode", "--key-file", c.keyFile, "--cipher", cipher, "luksFormat", c.device); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	c.log.Info("opening the LUKS device", "device", c.device, "mapping", filepath.Join(c.mapper, c.name))
	return c.run("cryptsetup", "--key-file", c.keyFile, "open", "--type", "luks", c.device, c.name)
}

// fillZeros writes zeros over all of a device, so that through the
// cipher it reads as noise and shows nothing of what is used.
func fillZeros(p string) (int64, error) {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd) // a block device's size too
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", p, err)
	}
	buf := make([]byte, 4<<20)
	var n int64
	for n < size {
		w, err := f.Write(buf[:min(int64(len(buf)), size-n)])
		n += int64(w)
		if err != nil {
			return n, fmt.Errorf("fill %s with zeros: %w", p, err)
		}
	}
	return n, f.Sync()
}

// runCommand runs a program with its output on stderr, prefixed by
// nothing: the log shows it as the program wrote it.
func runCommand(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(os.Stderr, &out), io.MultiWriter(os.Stderr, &out)
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return &commandError{cmd: name + " " + strings.Join(args, " "), ExitError: exit}
	}
	return err
}

// commandError is a program that exited non-zero; it unwraps to the
// *exec.ExitError.
type commandError struct {
	cmd string
	*exec.ExitError
}

func (e *commandError) Error() string { return e.cmd + ": " + e.ExitError.Error() }
func (e *commandError) Unwrap() error { return e.ExitError }
