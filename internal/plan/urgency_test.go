package plan_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
)

// TestSectionsByUrgency: what keywarden changed comes first, then what it
// failed to change, then each severity, critical first; within one, the
// nearest deadline first (a limit passed is due today), items without
// one last.
func TestSectionsByUrgency(t *testing.T) {
	const day = "2026-11-23"
	date := func(s string) *config.Date { d, _ := config.ParseDate(s); return &d }
	item := func(user, sev, action, status string, next *config.Date) plan.Item {
		return plan.Item{Finding: policy.Finding{Account: acct, User: user, Severity: sev, Action: action, NextStageOn: next},
			ActionStatus: status}
	}
	items := []plan.Item{
		item("low-later", config.SeverityLow, config.ActionNotify, "", date("2026-12-01")),
		item("high-nodate", config.SeverityHigh, config.ActionNotify, "", nil),
		item("high-later", config.SeverityHigh, config.ActionNotify, "", date("2026-12-20")),
		item("high-past-limit", config.SeverityHigh, config.ActionDisable, plan.ActionListed, date("2026-12-30")),
		item("medium-done", config.SeverityMedium, config.ActionDisable, plan.ActionDone, nil),
		item("high-soon", config.SeverityHigh, config.ActionNotify, "", date("2026-11-25")),
		item("critical", config.SeverityCritical, config.ActionNotify, "", nil),
		item("low-failed", config.SeverityLow, config.ActionDisable, plan.ActionFailed, nil),
	}
	var got []string
	for _, s := range plan.Sections(items, day) {
		for _, it := range s.Items {
			got = append(got, fmt.Sprintf("%s: %s (%s)", s.Title, it.User, it.Deadline(day)))
		}
	}
	want := []string{
		"Changed by keywarden: medium-done ()",
		"keywarden tried to change and failed: low-failed (2026-11-23)",
		"Critical: critical ()",
		"High: high-past-limit (2026-11-23)",
		"High: high-soon (2026-11-25)",
		"High: high-later (2026-12-20)",
		"High: high-nodate ()",
		"Low: low-later (2026-12-01)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Sections (-want +got):\n%s", diff)
	}
	if d := plan.FirstDeadline(items, day); d != day {
		t.Errorf("FirstDeadline = %q; want %s (a limit is passed)", d, day)
	}
	if items[0].User != "low-later" {
		t.Error("Sections reordered its argument")
	}
}
