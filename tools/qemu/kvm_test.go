package qemu

import (
	"testing"
	"time"
	"unsafe"
)

func TestProbeKVMRefusesWhatIsNotKVM(t *testing.T) {
	tests := []struct{ name, path string }{
		{"a missing device", "/nonexistent/kvm"},
		{"a device that is not kvm", "/dev/null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := probeKVM(tt.path, time.Second); err == nil {
				t.Errorf("probeKVM(%s) succeeded, want an error", tt.path)
			}
		})
	}
}

// The real device gives whatever answer this host gives; the test only
// shows the reason, which is what one needs when auto picks TCG.
func TestProbeKVMExplainsItsAnswer(t *testing.T) {
	err := probeKVM("/dev/kvm", kvmProbeTimeout)
	t.Logf("probeKVM(/dev/kvm) = %v; KVMAvailable() = %v", err, KVMAvailable())
	if (err == nil) != KVMAvailable() {
		t.Errorf("KVMAvailable() = %v disagrees with the probe's error %v", KVMAvailable(), err)
	}
}

func TestKVMStructuresMatchTheKernelABI(t *testing.T) {
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"kvm_userspace_memory_region", unsafe.Sizeof(kvmUserspaceMemoryRegion{}), 32},
		{"kvm_segment", unsafe.Sizeof(kvmSegment{}), 24},
		{"kvm_sregs", unsafe.Sizeof(kvmSregs{}), 312},
		{"kvm_regs", unsafe.Sizeof(kvmRegs{}), 144},
		{"kvm_cpuid_entry2", unsafe.Sizeof(kvmCPUIDEntry2{}), 40},
		{"kvm_msr_entry", unsafe.Sizeof(kvmMSREntry{}), 16},
		{"kvm_msrs with one entry", unsafe.Sizeof(kvmOneMSR{}), 8 + 16},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("sizeof(%s) = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}
