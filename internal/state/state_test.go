package state_test

import (
	"testing"

	"github.com/keywarden/keywarden/internal/state"
)

func TestDue(t *testing.T) {
	told := func(stage int, last string) *state.Notice {
		return &state.Notice{Stage: stage, FirstDay: last, LastDay: last, Count: 1}
	}
	tests := []struct {
		name  string
		n     *state.Notice
		stage int
		day   string
		want  state.Status
	}{
		{"no record", nil, 70, "2026-11-23", state.StatusNew},
		{"claimed, never delivered", &state.Notice{ClaimRun: "r", ClaimStage: 70}, 70, "2026-11-23", state.StatusNew},
		{"closed, then found again", &state.Notice{Stage: 70, LastDay: "2026-11-23", ClosedDay: "2026-11-23"}, 70, "2026-11-23", state.StatusNew},
		{"same day", told(70, "2026-11-23"), 70, "2026-11-23", state.StatusNotDue},
		{"2 days later", told(70, "2026-11-21"), 70, "2026-11-23", state.StatusNotDue},
		{"3 days later", told(70, "2026-11-20"), 70, "2026-11-23", state.StatusReminder},
		{"a missed day: 4 days later", told(70, "2026-11-19"), 70, "2026-11-23", state.StatusReminder},
		{"later stage, same day", told(70, "2026-11-23"), 80, "2026-11-23", state.StatusStage},
		{"other stage, even earlier", told(80, "2026-11-23"), 70, "2026-11-23", state.StatusStage},
		{"across a month end", told(70, "2026-10-30"), 70, "2026-11-02", state.StatusReminder},
		{"as-of before the last delivery", told(70, "2026-11-23"), 70, "2026-11-01", state.StatusNotDue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := state.Due(tt.n, tt.stage, tt.day, 3); got != tt.want {
				t.Errorf("Due(%+v, stage %d, %s, 3) = %s; want %s", tt.n, tt.stage, tt.day, got, tt.want)
			}
		})
	}
}

func TestRemindCutoff(t *testing.T) {
	tests := []struct {
		day   string
		every int
		want  string
	}{
		{"2026-11-23", 3, "2026-11-20"},
		{"2026-03-01", 1, "2026-02-28"},
		{"2028-03-01", 1, "2028-02-29"},
		{"2026-11-23", 0, "2026-11-22"}, // at least one day
		{"not a day", 3, ""},
	}
	for _, tt := range tests {
		if got := state.RemindCutoff(tt.day, tt.every); got != tt.want {
			t.Errorf("RemindCutoff(%q, %d) = %q; want %q", tt.day, tt.every, got, tt.want)
		}
	}
}

func TestAddDays(t *testing.T) {
	for _, tt := range []struct {
		day  string
		n    int
		want string
	}{
		{"2026-11-23", 14, "2026-12-07"},
		{"2026-12-31", 1, "2027-01-01"},
		{"2026-03-01", -1, "2026-02-28"},
		{"2026-11-23", 0, "2026-11-23"},
		{"someday", 3, "someday"},
	} {
		if got := state.AddDays(tt.day, tt.n); got != tt.want {
			t.Errorf("AddDays(%q, %d) = %q; want %q", tt.day, tt.n, got, tt.want)
		}
	}
}
