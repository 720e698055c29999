package main

import (
	"reflect"
	"testing"
	"time"

	"github.com/minikit/minikit/internal/control"
)

func TestHandoffPhases(t *testing.T) {
	s := time.Second
	tests := []struct {
		env  string
		want []control.Phase
	}{
		// After the root switch the kernel's phase ends where the first
		// run of init began, not at the re-executed one.
		{"root switch,2500000000,3100000000", []control.Phase{{Name: "kernel", End: 5 * s / 2}, {Name: "root switch", Start: 5 * s / 2, End: 31 * s / 10}}},
		{"", []control.Phase{{Name: "kernel", End: 4 * s}}},
		{"garbage", []control.Phase{{Name: "kernel", End: 4 * s}}},
		{"2500000000,3100000000", []control.Phase{{Name: "kernel", End: 4 * s}}},
		{",1,2", []control.Phase{{Name: "kernel", End: 4 * s}}},
	}
	for _, tt := range tests {
		if got := handoffPhases(tt.env, 4*s); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("handoffPhases(%q) = %+v, want %+v", tt.env, got, tt.want)
		}
	}
}
