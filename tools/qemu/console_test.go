package qemu

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"
)

func TestConsoleSplitsSerialOutputIntoLines(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   []string
	}{
		{"serial line endings lose their carriage return", []string{"a\r\nb\r\n"}, []string{"a", "b"}},
		{"a line split across writes is one line", []string{"hel", "lo\nwor", "ld\n"}, []string{"hello", "world"}},
		{"an unfinished last line counts once output ends", []string{"done\nlogin: "}, []string{"done", "login: "}},
		{"empty lines are kept", []string{"a\n\nb\n"}, []string{"a", "", "b"}},
		{"a carriage return inside a line stays", []string{"50%\r100%\n"}, []string{"50%\r100%"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConsole(0)
			for _, w := range tt.writes {
				c.Write([]byte(w))
			}
			c.close()
			if got := c.Lines(); !slices.Equal(got, tt.want) {
				t.Errorf("Lines() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConsoleLineWaitsForTheLineToArrive(t *testing.T) {
	c := newConsole(0)
	c.Write([]byte("first\n"))
	got := make(chan string)
	go func() {
		line, err := c.Line(context.Background(), 1)
		if err != nil {
			line = "error: " + err.Error()
		}
		got <- line
	}()
	c.Write([]byte("second\n"))
	if line := <-got; line != "second" {
		t.Errorf("Line(1) = %q, want second", line)
	}
}

func TestConsoleLineEnds(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(c *Console) context.Context
		line    int
		want    error
	}{
		{
			name: "with io.EOF once the output ended",
			prepare: func(c *Console) context.Context {
				c.Write([]byte("only\n"))
				c.close()
				return context.Background()
			},
			line: 1,
			want: io.EOF,
		},
		{
			name: "with the context's error when it ends first",
			prepare: func(c *Console) context.Context {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
				t.Cleanup(cancel)
				return ctx
			},
			line: 0,
			want: context.DeadlineExceeded,
		},
		{
			name: "with ErrLineDropped for a line beyond the history",
			prepare: func(c *Console) context.Context {
				c.history = 2
				c.Write([]byte("1\n2\n3\n"))
				return context.Background()
			},
			line: 0,
			want: ErrLineDropped,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConsole(0)
			ctx := tt.prepare(c)
			if _, err := c.Line(ctx, tt.line); !errors.Is(err, tt.want) {
				t.Errorf("Line(%d) error = %v, want %v", tt.line, err, tt.want)
			}
		})
	}
}

func TestConsoleHistoryKeepsLineNumbers(t *testing.T) {
	c := newConsole(2)
	c.Write([]byte("a\nb\nc\nd\n"))
	if got, want := c.Lines(), []string{"c", "d"}; !slices.Equal(got, want) {
		t.Errorf("Lines() = %q, want %q", got, want)
	}
	if c.First() != 2 || c.Len() != 4 {
		t.Errorf("First() = %d, Len() = %d; want 2 and 4", c.First(), c.Len())
	}
	if line, err := c.Line(context.Background(), 3); err != nil || line != "d" {
		t.Errorf("Line(3) = %q, %v; want d", line, err)
	}
}

func TestConsoleClosedSignalsTheEnd(t *testing.T) {
	c := newConsole(0)
	select {
	case <-c.Closed():
		t.Fatal("Closed before close")
	default:
	}
	c.close()
	<-c.Closed()
}

func TestConsoleRemembersThePanicLineBeyondItsHistory(t *testing.T) {
	c := newConsole(2)
	c.Write([]byte("booting\n[ 1.0] Kernel panic - not syncing: Attempted to kill init!\ntrace 1\ntrace 2\ntrace 3\n"))
	if got := c.PanicLine(); got != "[ 1.0] Kernel panic - not syncing: Attempted to kill init!" {
		t.Errorf("PanicLine = %q", got)
	}
	if calm := newConsole(0); calm.PanicLine() != "" {
		t.Error("a console without a panic reports one")
	}
}
