package qemu

// ThrottleBootDisk limits the guest's writes to the boot disk to
// bytesPerSec (0 lifts the limit), as a slow disk would: a test can then
// catch the guest in the middle of a long write.
func (vm *VM) ThrottleBootDisk(bytesPerSec int64) error {
	return vm.command("block_set_io_throttle", map[string]any{
		"device": bootDiskID,
		"bps":    0, "bps_rd": 0, "bps_wr": bytesPerSec,
		"iops": 0, "iops_rd": 0, "iops_wr": 0,
	})
}
