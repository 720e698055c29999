package qemu

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The KVM API as <linux/kvm.h> defines it on x86-64: just what the probe in
// kvm.go needs.

// ioctl requests.
const (
	kvmGetAPIVersion          = 0xAE00     // _IO(KVMIO, 0x00)
	kvmCreateVM               = 0xAE01     // _IO(KVMIO, 0x01)
	kvmGetVCPUMmapSize        = 0xAE04     // _IO(KVMIO, 0x04)
	kvmGetSupportedCPUID      = 0xC008AE05 // _IOWR(KVMIO, 0x05, struct kvm_cpuid2)
	kvmGetMSRFeatureIndexList = 0xC004AE0A // _IOWR(KVMIO, 0x0a, struct kvm_msr_list)
	kvmCreateVCPU             = 0xAE41     // _IO(KVMIO, 0x41)
	kvmSetUserMemoryRegion    = 0x4020AE46 // _IOW(KVMIO, 0x46, struct kvm_userspace_memory_region)
	kvmRun                    = 0xAE80     // _IO(KVMIO, 0x80)
	kvmSetRegs                = 0x4090AE82 // _IOW(KVMIO, 0x82, struct kvm_regs)
	kvmGetSregs               = 0x8138AE83 // _IOR(KVMIO, 0x83, struct kvm_sregs)
	kvmSetSregs               = 0x4138AE84 // _IOW(KVMIO, 0x84, struct kvm_sregs)
	kvmGetMSRs                = 0xC008AE88 // _IOWR(KVMIO, 0x88, struct kvm_msrs)
	kvmSetMSRs                = 0x4008AE89 // _IOW(KVMIO, 0x89, struct kvm_msrs)
	kvmSetCPUID2              = 0x4008AE90 // _IOW(KVMIO, 0x90, struct kvm_cpuid2)
)

// Values the probe checks.
const (
	kvmAPIVersion = 12 // the only version Linux has ever had
	kvmExitHLT    = 5  // KVM_EXIT_HLT
)

// Bounds of the variable-length lists the probe asks for; real hosts
// report a few dozen entries.
const (
	maxCPUIDEntries = 256
	maxFeatureMSRs  = 256
)

type kvmUserspaceMemoryRegion struct {
	slot, flags                         uint32
	guestPhysAddr, memorySize, userAddr uint64
}

type kvmSegment struct {
	base                                uint64
	limit                               uint32
	selector                            uint16
	typ, present, dpl, db, s, l, g, avl uint8
	unusable, _                         uint8
}

type kvmDtable struct {
	base  uint64
	limit uint16
	_     [3]uint16
}

type kvmSregs struct {
	cs, ds, es, fs, gs, ss, tr, ldt kvmSegment
	gdt, idt                        kvmDtable
	cr0, cr2, cr3, cr4, cr8, efer   uint64
	apicBase                        uint64
	interruptBitmap                 [4]uint64
}

type kvmRegs struct {
	rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp uint64
	r8, r9, r10, r11, r12, r13, r14, r15   uint64
	rip, rflags                            uint64
}

type kvmCPUIDEntry2 struct {
	function, index, flags, eax, ebx, ecx, edx uint32
	_                                          [3]uint32
}

// kvmCPUID2 is struct kvm_cpuid2 with room for its flexible array.
type kvmCPUID2 struct {
	nent, _ uint32
	entries [maxCPUIDEntries]kvmCPUIDEntry2
}

// kvmMSRList is struct kvm_msr_list with room for its flexible array.
type kvmMSRList struct {
	nmsrs   uint32
	indices [maxFeatureMSRs]uint32
}

type kvmMSREntry struct {
	index, _ uint32
	data     uint64
}

// kvmOneMSR is struct kvm_msrs holding a single entry.
type kvmOneMSR struct {
	nmsrs, _ uint32
	entry    kvmMSREntry
}

// ioctlPtr issues an ioctl whose argument is a pointer and returns its
// non-negative result.
func ioctlPtr(fd int, req uintptr, arg unsafe.Pointer) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}
