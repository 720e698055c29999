package sourcedate

import (
	"strings"
	"testing"
	"time"
)

func TestEpoch(t *testing.T) {
	for _, tt := range []struct {
		env     string
		want    time.Time
		wantErr string
	}{
		{"", time.Unix(0, 0).UTC(), ""},
		{"1700000000", time.Unix(1700000000, 0).UTC(), ""},
		{"yesterday", time.Time{}, `SOURCE_DATE_EPOCH="yesterday" is not`},
		{"-5", time.Time{}, `SOURCE_DATE_EPOCH="-5" is not`},
		{"1.5", time.Time{}, `SOURCE_DATE_EPOCH="1.5" is not`},
	} {
		t.Setenv(Env, tt.env)
		got, err := Epoch()
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want one containing %q", tt.env, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("%q: %v, %v; want %v", tt.env, got, err, tt.want)
		}
	}
}
