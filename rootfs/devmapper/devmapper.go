// Package devmapper creates device-mapper devices with the kernel's
// ioctl interface (linux/dm-ioctl.h), as dmsetup does, so that init can
// set up the verity device of its root without a dynamically linked
// helper in the initramfs. golang.org/x/sys/unix carries the ioctl's
// structures and numbers; this package only fills them in.
package devmapper

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ControlPath is the device-mapper control node devtmpfs makes once the
// dm-mod module is loaded.
const ControlPath = "/dev/mapper/control"

// Target is one line of a device's table.
type Target struct {
	Start, Length uint64 // in 512-byte sectors
	Type          string // "verity", "linear", …
	Params        string
}

// Device is an active device-mapper device.
type Device struct {
	Name  string
	Major uint32
	Minor uint32
}

// Path is the device's node under /dev/mapper, as udev would name it.
func (d *Device) Path() string { return "/dev/mapper/" + d.Name }

// Create makes the device name with the given table, read-only when
// readOnly, and activates it. On failure nothing is left behind.
func Create(name string, readOnly bool, table []Target) (*Device, error) {
	if len(name) == 0 || len(name) >= unix.DM_NAME_LEN {
		return nil, fmt.Errorf("device-mapper: %q is no device name", name)
	}
	ctl, err := os.OpenFile(ControlPath, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("device-mapper: %w (is dm-mod loaded?)", err)
	}
	defer ctl.Close()
	fd := int(ctl.Fd())

	if _, err := ioctl(fd, unix.DM_DEV_CREATE, name, 0, nil); err != nil {
		return nil, fmt.Errorf("device-mapper: create %s: %w", name, err)
	}
	remove := func() { _, _ = ioctl(fd, unix.DM_DEV_REMOVE, name, 0, nil) }
	var flags uint32
	if readOnly {
		flags |= unix.DM_READONLY_FLAG
	}
	payload, err := encodeTable(table)
	if err != nil {
		remove()
		return nil, err
	}
	if _, err := ioctl(fd, unix.DM_TABLE_LOAD, name, flags, payload, uint32(len(table))); err != nil {
		remove()
		return nil, fmt.Errorf("device-mapper: load the table of %s: %w", name, err)
	}
	// DM_DEV_SUSPEND without DM_SUSPEND_FLAG resumes: the loaded table
	// becomes the live one.
	hdr, err := ioctl(fd, unix.DM_DEV_SUSPEND, name, 0, nil)
	if err != nil {
		remove()
		return nil, fmt.Errorf("device-mapper: activate %s: %w", name, err)
	}
	d := &Device{Name: name, Major: unix.Major(hdr.Dev), Minor: unix.Minor(hdr.Dev)}
	if err := d.makeNode(); err != nil {
		remove()
		return nil, err
	}
	return d, nil
}

// Remove removes the device name and its node, as dmsetup remove does.
func Remove(name string) error {
	ctl, err := os.OpenFile(ControlPath, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("device-mapper: %w", err)
	}
	defer ctl.Close()
	if _, err := ioctl(int(ctl.Fd()), unix.DM_DEV_REMOVE, name, 0, nil); err != nil {
		return fmt.Errorf("device-mapper: remove %s: %w", name, err)
	}
	_ = os.Remove((&Device{Name: name}).Path())
	return nil
}

// makeNode makes /dev/mapper/NAME: there is no udev to do it.
func (d *Device) makeNode() error {
	if err := os.MkdirAll("/dev/mapper", 0o755); err != nil {
		return err
	}
	_ = os.Remove(d.Path())
	if err := unix.Mknod(d.Path(), unix.S_IFBLK|0o600, int(unix.Mkdev(d.Major, d.Minor))); err != nil {
		return fmt.Errorf("device-mapper: make %s: %w", d.Path(), err)
	}
	return nil
}

// header is struct dm_ioctl with room for a payload after it.
type header = unix.DmIoctl

// ioctl issues one device-mapper command for the device name, with an
// optional payload (target specs) after the header, and returns the
// header the kernel wrote back.
func ioctl(fd int, cmd uint, name string, flags uint32, payload []byte, targets ...uint32) (*header, error) {
	_, h, err := ioctlBuf(fd, cmd, name, flags, payload, targets...)
	return h, err
}

// ioctlBuf is ioctl that also returns the whole buffer, for the commands
// that answer with data after the header.
func ioctlBuf(fd int, cmd uint, name string, flags uint32, payload []byte, targets ...uint32) ([]byte, *header, error) {
	const hdrSize = unix.SizeofDmIoctl
	// The kernel may write status back into the buffer: leave it room.
	buf := make([]byte, hdrSize+len(payload)+16<<10)
	h := (*header)(unsafe.Pointer(&buf[0]))
	// The kernel refuses a minor version above its own; what this
	// package asks for has been there since 4.0.
	h.Version = [3]uint32{unix.DM_VERSION_MAJOR, 0, 0}
	h.Data_size = uint32(len(buf))
	h.Data_start = hdrSize
	h.Flags = flags
	if len(targets) > 0 {
		h.Target_count = targets[0]
	}
	copy(h.Name[:], name)
	copy(buf[hdrSize:], payload)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(cmd), uintptr(unsafe.Pointer(&buf[0]))); errno != 0 {
		return nil, nil, errno
	}
	out := *h
	return buf, &out, nil
}

// encodeTable lays out struct dm_target_spec entries, each followed by
// its NUL-terminated parameters and aligned to 8 bytes; next is the
// offset of the following entry from the start of this one.
func encodeTable(table []Target) ([]byte, error) {
	if len(table) == 0 {
		return nil, errors.New("device-mapper: an empty table")
	}
	var out bytes.Buffer
	for _, t := range table {
		if len(t.Type) >= unix.DM_MAX_TYPE_NAME {
			return nil, fmt.Errorf("device-mapper: target type %q is too long", t.Type)
		}
		size := unix.SizeofDmTargetSpec + len(t.Params) + 1
		size = (size + 7) &^ 7
		entry := make([]byte, size)
		spec := (*unix.DmTargetSpec)(unsafe.Pointer(&entry[0]))
		spec.Sector_start = t.Start
		spec.Length = t.Length
		spec.Next = uint32(size)
		copy(spec.Target_type[:], t.Type)
		copy(entry[unix.SizeofDmTargetSpec:], t.Params)
		out.Write(entry)
	}
	return out.Bytes(), nil
}

// TargetStatus is the status line of one target of an active device, as
// dmsetup status prints it.
type TargetStatus struct {
	Start, Length uint64
	Type          string
	Params        string
}

// Status returns the status of each target of the device name.
func Status(name string) ([]TargetStatus, error) {
	ctl, err := os.OpenFile(ControlPath, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("device-mapper: %w", err)
	}
	defer ctl.Close()
	buf, hdr, err := ioctlBuf(int(ctl.Fd()), unix.DM_TABLE_STATUS, name, 0, nil)
	if err != nil {
		return nil, fmt.Errorf("device-mapper: status of %s: %w", name, err)
	}
	return decodeStatus(buf, hdr)
}

// decodeStatus reads the target specs the kernel wrote after the header.
func decodeStatus(buf []byte, hdr *header) ([]TargetStatus, error) {
	if hdr.Flags&unix.DM_BUFFER_FULL_FLAG != 0 {
		return nil, errors.New("device-mapper: the status did not fit")
	}
	var out []TargetStatus
	at := int(hdr.Data_start)
	for i := uint32(0); i < hdr.Target_count; i++ {
		if at < 0 || at+unix.SizeofDmTargetSpec > len(buf) {
			return nil, errors.New("device-mapper: a status runs past its buffer")
		}
		spec := (*unix.DmTargetSpec)(unsafe.Pointer(&buf[at]))
		params := buf[at+unix.SizeofDmTargetSpec:]
		if i := bytes.IndexByte(params, 0); i >= 0 {
			params = params[:i]
		}
		out = append(out, TargetStatus{
			Start: spec.Sector_start, Length: spec.Length,
			Type:   string(bytes.TrimRight(spec.Target_type[:], "\x00")),
			Params: string(params),
		})
		// For what the kernel writes back, next is the offset of the
		// following spec from the start of the data.
		next := int(hdr.Data_start) + int(spec.Next)
		if next <= at {
			return nil, errors.New("device-mapper: a status entry points back")
		}
		at = next
	}
	return out, nil
}
