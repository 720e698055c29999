package textdist

import (
	"slices"
	"testing"
)

func TestLevenshtein(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"sshd", "sshd", 0},
		{"sshd", "shd", 1},
		{"virtio_net", "virtio-net", 1},
		{"kitten", "sitting", 3},
		{"", "abc", 3},
	}
	for _, tt := range tests {
		if got := Levenshtein(tt.a, tt.b); got != tt.want {
			t.Errorf("Levenshtein(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestClosest(t *testing.T) {
	names := []string{"sshd", "getty", "dhcpcd", "containerd", "destination", "virtio_net", "virtio_blk"}
	tests := []struct {
		name string
		n    int
		want []string
	}{
		{"shd", 3, []string{"sshd"}},
		{"Getty", 3, []string{"getty"}},                     // case is not a typo
		{"dest", 3, []string{"destination"}},                // an abbreviation
		{"virtio-net", 1, []string{"virtio_net"}},           // the closest only
		{"virtio", 3, []string{"virtio_blk", "virtio_net"}}, // ties in name order
		{"nginx", 3, []string{}},
		{"", 3, []string{}},
	}
	for _, tt := range tests {
		got := Closest(tt.name, names, tt.n)
		if !slices.Equal(got, tt.want) {
			t.Errorf("Closest(%q, %d) = %q, want %q", tt.name, tt.n, got, tt.want)
		}
	}
}
