package main

import (
	"reflect"
	"testing"
	"time"
)

func TestHandoffPhases(t *testing.T) {
	s := time.Second
	tests := []struct {
		env  string
		want []Phase
	}{
		// After the root switch the kernel's phase ends where the first
		// run of init began, not at the re-executed one.
		{"root switch,2500000000,3100000000", []Phase{{Name: "kernel", End: 5 * s / 2}, {Name: "root switch", Start: 5 * s / 2, End: 31 * s / 10}}},
		{"root mount,900000000,1200000000", []Phase{{Name: "kernel", End: 9 * s / 10}, {Name: "root mount", Start: 9 * s / 10, End: 12 * s / 10}}},
		{"", []Phase{{Name: "kernel", End: 4 * s}}},
		{"garbage", []Phase{{Name: "kernel", End: 4 * s}}},
		{"2500000000,3100000000", []Phase{{Name: "kernel", End: 4 * s}}},
		{",1,2", []Phase{{Name: "kernel", End: 4 * s}}},
	}
	for _, tt := range tests {
		if got := handoffPhases(tt.env, 4*s); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("handoffPhases(%q) = %+v, want %+v", tt.env, got, tt.want)
		}
	}
}
