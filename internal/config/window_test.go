package config

import (
	"testing"
	"time"
)

func TestWindowOpen(t *testing.T) {
	berlin := &Window{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "09:00", End: "17:00", Timezone: "Europe/Berlin"}
	tests := []struct {
		name string
		w    *Window
		at   string
		want bool
	}{
		{"no window", nil, "2026-12-06T03:00:00Z", true},
		{"weekday inside (Berlin is UTC+1 in December)", berlin, "2026-12-01T08:00:00Z", true},
		{"weekday before the start", berlin, "2026-12-01T07:59:00Z", false},
		{"at the end: closed", berlin, "2026-12-01T16:00:00Z", false},
		{"a minute before the end", berlin, "2026-12-01T15:59:00Z", true},
		{"Saturday", berlin, "2026-12-05T10:00:00Z", false},
		{"Friday late UTC is Saturday in Berlin", &Window{Days: []string{"fri"}, Timezone: "Europe/Berlin"}, "2026-12-04T23:30:00Z", false},
		{"days only, whole day", &Window{Days: []string{"sun"}}, "2026-12-06T23:59:00Z", true},
		{"hours only, every day", &Window{Start: "22:00", End: "24:00"}, "2026-12-06T23:59:00Z", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, err := time.Parse(time.RFC3339, tt.at)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.w.Open(at); got != tt.want {
				t.Errorf("%v.Open(%s) = %v; want %v", tt.w, tt.at, got, tt.want)
			}
		})
	}
}

func TestWindowString(t *testing.T) {
	w := &Window{Days: []string{"mon", "fri"}, Start: "09:00", End: "17:00", Timezone: "Europe/Berlin"}
	if got, want := w.String(), "mon,fri 09:00-17:00 Europe/Berlin"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
	if got, want := (&Window{}).String(), "every day 00:00-24:00 UTC"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
}
