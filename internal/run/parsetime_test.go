package run

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Time
		err  string
	}{
		{in: "2026-11-23", want: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)},
		{in: "2026-11-23T09:30:00Z", want: time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)},
		{in: "2026-11-23T09:30:00+02:00", want: time.Date(2026, 11, 23, 7, 30, 0, 0, time.UTC)},
		{in: "yesterday", err: `"yesterday": want RFC 3339 (2026-11-23T09:00:00Z) or a date (2026-11-23)`},
		{in: "2026-11-31", err: `"2026-11-31": want RFC 3339 (2026-11-23T09:00:00Z) or a date (2026-11-23)`},
		{in: "", err: `"": want RFC 3339 (2026-11-23T09:00:00Z) or a date (2026-11-23)`},
	} {
		got, err := ParseTime(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseTime(%q) error = %v; want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v in UTC", tt.in, got, err, tt.want)
		}
	}
}
