package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// table is what `sfdisk -J` says of a disk.
type table struct {
	PartitionTable struct {
		Label      string      `json:"label"` // dos or gpt
		SectorSize int64       `json:"sectorsize"`
		Partitions []partition `json:"partitions"`
	} `json:"partitiontable"`
}

type partition struct {
	Node  string `json:"node"`
	Start int64  `json:"start"`
	Size  int64  `json:"size"`
	Type  string `json:"type"`
}

// Linux's partition type: MBR's 83, GPT's GUID.
var linuxTypes = map[string]bool{"83": true, "0FC63DAF-8483-4772-8E79-3D69D8477DE4": true}

// slack is space at the end of a disk not worth growing into (sfdisk
// aligns partitions to 1 MiB).
const slack = 1 << 20

type extender struct {
	// run runs a program, its output on stderr; output returns its
	// stdout. Tests replace them, and reread (BLKRRPART).
	run    func(name string, args ...string) error
	output func(name string, args ...string) ([]byte, error)
	reread func(disk string) error
	log    *slog.Logger
	// partitionWait bounds the wait for a partition's node (10 s).
	partitionWait time.Duration
}

// extend grows the only partition of disk and its ext4 filesystem. auto:
// the disk was not named, so one without a partition table is skipped
// quietly.
func (e *extender) extend(disk string, auto bool) error {
	out, err := e.output("sfdisk", "-J", disk)
	if err != nil {
		if auto {
			e.log.Info("no partition table; skipped", "disk", disk)
			return nil
		}
		return fmt.Errorf("read the partition table of %s: %w", disk, err)
	}
	var t table
	if err := json.Unmarshal(out, &t); err != nil {
		return fmt.Errorf("sfdisk -J %s: %w", disk, err)
	}
	parts := t.PartitionTable.Partitions
	if len(parts) != 1 {
		e.log.Info("not one partition; skipped", "disk", disk, "partitions", len(parts))
		return nil
	}
	p := parts[0]
	if !linuxTypes[strings.ToUpper(p.Type)] {
		return fmt.Errorf("partition %s is not a Linux partition (type %s)", p.Node, p.Type)
	}
	size, err := deviceSize(disk)
	if err != nil {
		return err
	}
	sector := t.PartitionTable.SectorSize
	if sector == 0 {
		sector = 512
	}
	end := size
	if t.PartitionTable.Label == "gpt" {
		end -= 33 * sector // the backup header and partition entries
	}
	if gain := end - (p.Start+p.Size)*sector; gain < slack {
		e.log.Info("no space to gain", "disk", disk, "partition", p.Node)
		return nil
	}

	if err := e.fsck(p.Node, false); err != nil {
		return fmt.Errorf("check %s before growing it: %w", p.Node, err)
	}
	if err := e.fsck(p.Node, true); err != nil { // resize2fs insists on a forced check
		return fmt.Errorf("check %s before growing it: %w", p.Node, err)
	}
	e.log.Info("growing the partition", "disk", disk, "partition", p.Node, "from_bytes", p.Size*sector)
	if err := e.growPartition(disk); err != nil {
		return err
	}
	if err := e.reread(disk); err != nil {
		return fmt.Errorf("re-read the partition table of %s: %w", disk, err)
	}
	if err := e.waitFor(p.Node); err != nil {
		return err
	}
	if err := e.run("resize2fs", p.Node); err != nil {
		return fmt.Errorf("resize2fs %s: %w", p.Node, err)
	}
	if err := e.fsck(p.Node, false); err != nil {
		return fmt.Errorf("check %s after growing it: %w", p.Node, err)
	}
	e.log.Info("extended", "disk", disk, "partition", p.Node)
	return nil
}

// growPartition makes partition 1 of disk end where the disk does,
// keeping its start, type and identity (a GPT's backup header moves to
// the new end).
func (e *extender) growPartition(disk string) error {
	cmd := exec.Command("sfdisk", "--no-reread", "--no-tell-kernel", "-q", "-N", "1", disk)
	cmd.Stdin = strings.NewReader(",+\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("sfdisk -N 1 %s: %w: %s", disk, err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// fsck runs e2fsck -p (with force, -f too). Exit status 1 (errors
// fixed) is fine; 2 and 3 ask for a reboot; worse is tried again with -y.
func (e *extender) fsck(node string, force bool) error {
	args := []string{"-p"}
	if force {
		args = append(args, "-f")
	}
	err := e.run("e2fsck", append(args, node)...)
	for attempt := 0; ; attempt++ {
		var exit *exec.ExitError
		switch {
		case err == nil:
			return nil
		case !errors.As(err, &exit):
			return err
		case exit.ExitCode() == 1:
			return nil
		case exit.ExitCode() == 2 || exit.ExitCode() == 3:
			return fmt.Errorf("e2fsck fixed errors on %s, and asks for a reboot", node)
		case attempt > 0:
			return fmt.Errorf("e2fsck %s: %w", node, err)
		}
		args[0] = "-y"
		err = e.run("e2fsck", append(args, node)...)
	}
}

// waitFor waits for a partition's node. devtmpfs makes it again before
// BLKRRPART returns; this bounds a /dev that is slower.
func (e *extender) waitFor(node string) error {
	wait := e.partitionWait
	if wait == 0 {
		wait = 10 * time.Second
	}
	for deadline := time.Now().Add(wait); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(node); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("partition %s did not come back within %s", node, wait)
		}
	}
}

// deviceSize is a disk's size in bytes (a block device's too).
func deviceSize(p string) (int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return f.Seek(0, io.SeekEnd)
}

func rereadPartitions(disk string) error {
	f, err := os.Open(disk)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.IoctlSetInt(int(f.Fd()), unix.BLKRRPART, 0)
}

func runCommand(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

func commandOutput(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}
