package qemu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kvmProbeTimeout bounds the probe's one KVM_RUN: a virtualisation layer
// that never returns from it does not work either.
const kvmProbeTimeout = 5 * time.Second

// KVMAvailable reports whether qemu can run a guest under KVM on this host.
// It trusts neither the existence of /dev/kvm nor a successful
// KVM_CREATE_VM: hosts exist where both look fine and qemu -accel kvm then
// aborts or hangs (nested virtualisation switched off or only partly
// emulated, containers without access). So, on top of the API version and
// a VM, the probe prepares a vCPU the way qemu -cpu host does (host CPUID,
// the feature MSRs KVM advertises) and runs it in 64-bit mode up to a HLT.
// The answer is probed once per process.
var KVMAvailable = sync.OnceValue(func() bool {
	err := probeKVM("/dev/kvm", kvmProbeTimeout)
	if err != nil {
		slog.Debug("kvm unusable, qemu will use TCG", "err", err)
	}
	return err == nil
})

// probeKVM returns why KVM at path cannot run a guest, or nil when it can.
func probeKVM(path string, timeout time.Duration) error {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	kvm := int(f.Fd())
	version, err := unix.IoctlRetInt(kvm, kvmGetAPIVersion)
	if err != nil {
		return &os.PathError{Op: "KVM_GET_API_VERSION", Path: path, Err: err}
	}
	if version != kvmAPIVersion {
		return fmt.Errorf("%s: KVM API version %d, want %d", path, version, kvmAPIVersion)
	}
	vm, err := unix.IoctlRetInt(kvm, kvmCreateVM)
	if err != nil {
		return &os.PathError{Op: "KVM_CREATE_VM", Path: path, Err: err}
	}
	result := make(chan error, 1)
	go func() {
		// On timeout this goroutine is abandoned, stuck in KVM_RUN with
		// the VM's descriptors; nothing better can be done with a
		// hypervisor that does not return.
		defer unix.Close(vm)
		result <- runTestGuest(kvm, vm)
	}()
	select {
	case err := <-result:
		if err != nil {
			return fmt.Errorf("%s: test guest: %w", path, err)
		}
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s: test guest did not halt within %v", path, timeout)
	}
}

// runTestGuest creates a vCPU as qemu would and runs it on a HLT.
func runTestGuest(kvm, vm int) error {
	mem, err := longModeMemory()
	if err != nil {
		return err
	}
	defer unix.Munmap(mem)
	region := kvmUserspaceMemoryRegion{memorySize: uint64(len(mem)), userAddr: uint64(uintptr(unsafe.Pointer(&mem[0])))}
	if _, err := ioctlPtr(vm, kvmSetUserMemoryRegion, unsafe.Pointer(&region)); err != nil {
		return fmt.Errorf("KVM_SET_USER_MEMORY_REGION: %w", err)
	}
	cpu, err := unix.IoctlRetInt(vm, kvmCreateVCPU)
	if err != nil {
		return fmt.Errorf("KVM_CREATE_VCPU: %w", err)
	}
	defer unix.Close(cpu)
	if err := setHostCPUID(kvm, cpu); err != nil {
		return err
	}
	if err := setFeatureMSRs(kvm, cpu); err != nil {
		return err
	}
	if err := enterLongMode(cpu); err != nil {
		return err
	}
	return runToHalt(kvm, cpu)
}

// Layout of the test guest's memory, from guest address 0.
const (
	testGuestMemSize = 0x10000
	testGuestPML4    = 0x2000
	testGuestPDPT    = 0x3000
	testGuestPD      = 0x4000
)

// longModeMemory is the test guest's memory: a HLT at address 0 and page
// tables identity-mapping the first 2 MiB.
func longModeMemory() ([]byte, error) {
	const present, writable, hugePage = 1 << 0, 1 << 1, 1 << 7
	mem, err := unix.Mmap(-1, 0, testGuestMemSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("test guest memory: %w", err)
	}
	mem[0] = 0xf4 // hlt
	binary.LittleEndian.PutUint64(mem[testGuestPML4:], present|writable|testGuestPDPT)
	binary.LittleEndian.PutUint64(mem[testGuestPDPT:], present|writable|testGuestPD)
	binary.LittleEndian.PutUint64(mem[testGuestPD:], present|writable|hugePage)
	return mem, nil
}

// setHostCPUID gives the vCPU every CPUID feature KVM supports, as
// qemu -cpu host does; the feature MSRs below are only accepted for a vCPU
// whose CPUID has the matching features.
func setHostCPUID(kvm, cpu int) error {
	cpuid := new(kvmCPUID2)
	cpuid.nent = maxCPUIDEntries
	if _, err := ioctlPtr(kvm, kvmGetSupportedCPUID, unsafe.Pointer(cpuid)); err != nil {
		return fmt.Errorf("KVM_GET_SUPPORTED_CPUID: %w", err)
	}
	if _, err := ioctlPtr(cpu, kvmSetCPUID2, unsafe.Pointer(cpuid)); err != nil {
		return fmt.Errorf("KVM_SET_CPUID2: %w", err)
	}
	return nil
}

// setFeatureMSRs writes to the vCPU each feature MSR that KVM advertises,
// with the value KVM reports for it: qemu does this while resetting its
// vCPUs and aborts if KVM refuses one. A hypervisor that advertises what it
// then refuses cannot run qemu.
func setFeatureMSRs(kvm, cpu int) error {
	list := new(kvmMSRList)
	list.nmsrs = maxFeatureMSRs
	if _, err := ioctlPtr(kvm, kvmGetMSRFeatureIndexList, unsafe.Pointer(list)); err != nil {
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTTY) {
			return nil // a KVM too old for feature MSRs; qemu skips them too
		}
		return fmt.Errorf("KVM_GET_MSR_FEATURE_INDEX_LIST: %w", err)
	}
	for _, index := range list.indices[:min(list.nmsrs, maxFeatureMSRs)] {
		msr := kvmOneMSR{nmsrs: 1, entry: kvmMSREntry{index: index}}
		if n, err := ioctlPtr(kvm, kvmGetMSRs, unsafe.Pointer(&msr)); err != nil || n != 1 {
			continue // not readable: qemu would not write it either
		}
		if n, err := ioctlPtr(cpu, kvmSetMSRs, unsafe.Pointer(&msr)); err != nil || n != 1 {
			return fmt.Errorf("KVM_SET_MSRS: feature MSR %#x = %#x refused (%v)", index, msr.entry.data, errOr(err, "not set"))
		}
	}
	return nil
}

// enterLongMode puts the vCPU straight into 64-bit mode at address 0.
// Long mode rather than the reset state's real mode, because there are
// hypervisors that execute real mode and hang the moment a kernel leaves
// it, which a real guest does within its first second.
func enterLongMode(cpu int) error {
	const (
		cr0PE, cr0MP, cr0ET, cr0NE, cr0WP, cr0AM, cr0PG = 1 << 0, 1 << 1, 1 << 4, 1 << 5, 1 << 16, 1 << 18, 1 << 31
		cr4PAE                                          = 1 << 5
		eferLME, eferLMA                                = 1 << 8, 1 << 10
	)
	var sregs kvmSregs
	if _, err := ioctlPtr(cpu, kvmGetSregs, unsafe.Pointer(&sregs)); err != nil {
		return fmt.Errorf("KVM_GET_SREGS: %w", err)
	}
	sregs.cr3 = testGuestPML4
	sregs.cr4 = cr4PAE
	sregs.cr0 = cr0PE | cr0MP | cr0ET | cr0NE | cr0WP | cr0AM | cr0PG
	sregs.efer = eferLME | eferLMA
	code := kvmSegment{limit: 0xffffffff, selector: 1 << 3, typ: 11, present: 1, s: 1, l: 1, g: 1}
	data := code
	data.selector, data.typ, data.l = 2<<3, 3, 0
	sregs.cs = code
	sregs.ds, sregs.es, sregs.fs, sregs.gs, sregs.ss = data, data, data, data, data
	if _, err := ioctlPtr(cpu, kvmSetSregs, unsafe.Pointer(&sregs)); err != nil {
		return fmt.Errorf("KVM_SET_SREGS: %w", err)
	}
	regs := kvmRegs{rip: 0, rsp: testGuestMemSize, rflags: 2}
	if _, err := ioctlPtr(cpu, kvmSetRegs, unsafe.Pointer(&regs)); err != nil {
		return fmt.Errorf("KVM_SET_REGS: %w", err)
	}
	return nil
}

// runToHalt runs the vCPU once; it must stop on the HLT.
func runToHalt(kvm, cpu int) error {
	runSize, err := unix.IoctlRetInt(kvm, kvmGetVCPUMmapSize)
	if err != nil {
		return fmt.Errorf("KVM_GET_VCPU_MMAP_SIZE: %w", err)
	}
	run, err := unix.Mmap(cpu, 0, runSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("map kvm_run: %w", err)
	}
	defer unix.Munmap(run)
	if _, err := unix.IoctlRetInt(cpu, kvmRun); err != nil {
		return fmt.Errorf("KVM_RUN: %w", err)
	}
	// struct kvm_run: two u8 flags, six bytes of padding, u32 exit_reason.
	if reason := binary.NativeEndian.Uint32(run[8:12]); reason != kvmExitHLT {
		return fmt.Errorf("stopped with exit reason %d, want KVM_EXIT_HLT (%d)", reason, kvmExitHLT)
	}
	return nil
}
