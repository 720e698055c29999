package images

import "testing"

func TestNormalizeName(t *testing.T) {
	const pin = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		name, in, want string
	}{
		{"a bare Docker Hub name gets library and latest dropped", "busybox", "busybox:latest"},
		{"the fully qualified Docker Hub name is shortened", "docker.io/library/busybox:latest", "busybox:latest"},
		{"index.docker.io is Docker Hub too", "index.docker.io/library/busybox:1.36", "busybox:1.36"},
		{"a Docker Hub user's image keeps its namespace", "minikit/busybox:dev", "minikit/busybox:dev"},
		{"library is kept when nested deeper", "library/a/b", "library/a/b:latest"},
		{"another registry is kept", "ghcr.io/x/y", "ghcr.io/x/y:latest"},
		{"a registry port is not a tag", "localhost:5000/app", "localhost:5000/app:latest"},
		{"a digest alone gets no tag", "busybox@" + pin, "busybox@" + pin},
		{"a tag and a digest are both kept", "docker.io/library/busybox:1.36@" + pin, "busybox:1.36@" + pin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeName(tt.in)
			if err != nil {
				t.Fatalf("NormalizeName(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("NormalizeName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeNameRejectsBadNames(t *testing.T) {
	for _, in := range []string{"", "Busybox", "busybox@sha256:short", "a b"} {
		if got, err := NormalizeName(in); err == nil {
			t.Errorf("NormalizeName(%q) = %q, want an error", in, got)
		}
	}
}
