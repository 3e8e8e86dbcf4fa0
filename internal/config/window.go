package config

import (
	"fmt"
	"strings"
	"time"
)

// weekdays maps the day names a Window accepts (weekdayNames, Monday
// first) to time.Weekday.
var weekdays = func() map[string]time.Weekday {
	m := make(map[string]time.Weekday, len(weekdayNames))
	for i, d := range weekdayNames {
		m[d] = time.Weekday((i + 1) % 7)
	}
	return m
}()

// parseClock reads HH:MM as minutes after midnight; "" is ok (0), and
// 24:00 is the end of the day.
func parseClock(s string) (int, bool) {
	if s == "" {
		return 0, true
	}
	if s == "24:00" {
		return 24 * 60, true
	}
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

func loadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	return time.LoadLocation(name)
}

// Open reports whether t is inside the window. A nil window is always
// open. The window must be valid (Validate).
func (w *Window) Open(t time.Time) bool {
	if w == nil {
		return true
	}
	loc, err := loadZone(w.Timezone)
	if err != nil {
		return false
	}
	lt := t.In(loc)
	if len(w.Days) > 0 {
		ok := false
		for _, d := range w.Days {
			if weekdays[strings.ToLower(d)] == lt.Weekday() {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	start, _ := parseClock(w.Start)
	end, _ := parseClock(w.End)
	if w.End == "" {
		end = 24 * 60
	}
	m := lt.Hour()*60 + lt.Minute()
	return m >= start && m < end
}

// String describes the window for messages: "mon-fri 09:00-17:00
// Europe/Berlin".
func (w *Window) String() string {
	if w == nil {
		return "any time"
	}
	days := "every day"
	if len(w.Days) > 0 {
		days = strings.ToLower(strings.Join(w.Days, ","))
	}
	start, end := w.Start, w.End
	if start == "" {
		start = "00:00"
	}
	if end == "" {
		end = "24:00"
	}
	tz := w.Timezone
	if tz == "" {
		tz = "UTC"
	}
	return fmt.Sprintf("%s %s-%s %s", days, start, end, tz)
}
