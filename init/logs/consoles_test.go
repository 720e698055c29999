package logs

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestActiveExtrasLeavesOutDevConsole(t *testing.T) {
	tests := map[string][]string{
		"ttyS0\n":           nil,
		"tty0 ttyS0\n":      {"tty0"},
		"ttyS0 tty0 hvc0\n": {"ttyS0", "tty0"},
		"":                  nil,
	}
	for active, want := range tests {
		if got := activeExtras(active); !reflect.DeepEqual(got, want) {
			t.Errorf("activeExtras(%q) = %v, want %v", active, got, want)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("gone") }

func TestConsolesWriteToEveryConsole(t *testing.T) {
	var primary, extra bytes.Buffer
	c := NewConsoles(&primary)
	c.out = append(c.out, failingWriter{}, &extra)
	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatalf("a failing extra console failed the write: %v", err)
	}
	if primary.String() != "hello\n" || extra.String() != "hello\n" {
		t.Errorf("primary %q, extra %q; want the line on both", primary.String(), extra.String())
	}
}
