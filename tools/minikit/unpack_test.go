package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/minikit/minikit/tools/images"
)

func TestMaxUnpackFlag(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		want    int64
		wantErr bool
	}{
		{args: nil, want: images.DefaultMaxBytes},
		{args: []string{"-max-unpack", "512M"}, want: 512 << 20},
		{args: []string{"-max-unpack", "16G"}, want: 16 << 30},
		{args: []string{"-max-unpack", "1000"}, want: 1000},
		{args: []string{"-max-unpack", "0"}, wantErr: true},
		{args: []string{"-max-unpack", "lots"}, wantErr: true},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("build", flag.ContinueOnError)
			fs.SetOutput(new(bytes.Buffer))
			got := maxUnpackFlag(fs, "one image")
			err := fs.Parse(tt.args)
			if tt.wantErr {
				if err == nil {
					t.Errorf("parsed as %d, want an error", *got)
				}
				return
			}
			if err != nil || int64(*got) != tt.want {
				t.Errorf("-max-unpack = %d (%v), want %d", *got, err, tt.want)
			}
		})
	}
}

func TestMaxUnpackFlagShowsItsDefault(t *testing.T) {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	var help bytes.Buffer
	fs.SetOutput(&help)
	maxUnpackFlag(fs, "one image")
	fs.PrintDefaults()
	if !strings.Contains(help.String(), "(default 4G)") {
		t.Errorf("help does not give the default as 4G:\n%s", help.String())
	}
}

func TestUnpackLimitErrorsSayHowToRaiseIt(t *testing.T) {
	err := explainUnpackLimit(fmt.Errorf("service svc (evil:1): %w", images.ErrTooLarge))
	if !errors.Is(err, images.ErrTooLarge) || !strings.Contains(err.Error(), "-max-unpack") || !strings.Contains(err.Error(), "evil:1") {
		t.Errorf("got %q, want the error kept and -max-unpack named", err)
	}
	other := errors.New("no such image")
	if got := explainUnpackLimit(other); got != other {
		t.Errorf("an unrelated error became %q", got)
	}
}
