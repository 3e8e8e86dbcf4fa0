package cli

import (
	"slices"
	"testing"

	"github.com/keywarden/keywarden/internal/forecast"
	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/run"
)

// TestRunAtOrAbove: --severity cuts run's owner messages to the items at
// or above it, drops a message left empty, keeps digests, and leaves the
// result it was given as it was.
func TestRunAtOrAbove(t *testing.T) {
	item := func(user, sev string) plan.Item { return plan.Item{Finding: policy.Finding{User: user, Severity: sev}} }
	mixed := &plan.Message{To: "a@example.com", Items: []plan.Item{item("a", "medium"), item("a", "critical")}}
	low := &plan.Message{To: "b@example.com", Items: []plan.Item{item("b", "low")}}
	res := &run.Result{Deliveries: []run.Delivery{
		{Kind: notify.KindUser, Message: mixed},
		{Kind: notify.KindUser, Message: low},
		{Kind: notify.KindDigest, Target: "email"},
	}}
	shown := runAtOrAbove(res, policy.SeverityRank("high"))
	var got []string
	for _, d := range shown.Deliveries {
		if d.Message == nil {
			got = append(got, string(d.Kind))
			continue
		}
		for _, it := range d.Message.Items {
			got = append(got, d.Message.To+" "+it.Severity)
		}
	}
	if want := []string{"a@example.com critical", "digest"}; !slices.Equal(got, want) {
		t.Errorf("run --severity high shows %q; want %q", got, want)
	}
	if len(res.Deliveries) != 3 || len(mixed.Items) != 2 {
		t.Errorf("runAtOrAbove changed the result it was given: %d deliveries, %d items", len(res.Deliveries), len(mixed.Items))
	}
	if runAtOrAbove(res, 0) != res {
		t.Error("runAtOrAbove without --severity: want the result itself")
	}
}

// TestReportAtOrAboveFiltersTheCalendar: --severity cuts the coming stage
// changes (the HTML report's calendar) as it cuts the findings, so that a
// day the calendar counts has findings the table shows.
func TestReportAtOrAboveFiltersTheCalendar(t *testing.T) {
	rep := &report.Report{Findings: []policy.Finding{{ID: "a", Severity: "critical"}, {ID: "b", Severity: "medium"}},
		Inventory: &report.Inventory{Upcoming: []forecast.Event{{FindingID: "a", Severity: "critical"}, {FindingID: "b", Severity: "medium"}}}}
	rank, err := parseSeverity("high")
	if err != nil {
		t.Fatal(err)
	}
	got := reportAtOrAbove(rep, rank)
	if len(got.Findings) != 1 || len(got.Inventory.Upcoming) != 1 || got.Inventory.Upcoming[0].FindingID != "a" {
		t.Errorf("--severity high: findings %+v, upcoming %+v; want a's alone in both", got.Findings, got.Inventory.Upcoming)
	}
	if len(rep.Inventory.Upcoming) != 2 {
		t.Error("reportAtOrAbove changed the report it was given")
	}
}
