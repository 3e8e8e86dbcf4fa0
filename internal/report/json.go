package report

import (
	"encoding/json"
	"io"
	"slices"
	"time"

	"github.com/keywarden/keywarden/internal/forecast"
	"github.com/keywarden/keywarden/internal/policy"
)

// renderJSON writes the keywarden.report/v1 document: two-space indent, a
// trailing newline, times in RFC 3339 UTC to the second, and every array and
// map present (empty rather than null) so consumers need no null checks.
func renderJSON(w io.Writer, r *Report, _ Options) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// The report is data, not HTML: "<root_account>" stays readable. The
	// HTML renderer escapes for itself.
	enc.SetEscapeHTML(false)
	return enc.Encode(jsonReport(r))
}

// jsonReport is a copy of r normalised for the JSON contract; r is not
// modified.
func jsonReport(r *Report) *Report {
	out := *r
	if out.Schema == "" {
		out.Schema = Schema
	}
	out.GeneratedAt = jsonTime(r.GeneratedAt)
	out.AsOf = jsonTime(r.AsOf)
	out.Accounts = r.Accounts
	if out.Accounts == nil {
		out.Accounts = []Account{}
	}
	out.Findings = make([]policy.Finding, len(r.Findings))
	for i, f := range r.Findings {
		if f.Recipients == nil {
			f.Recipients = []string{}
		}
		if f.Controls == nil {
			f.Controls = []string{}
		}
		out.Findings[i] = f
	}
	if r.Inventory != nil {
		inv := *r.Inventory
		inv.Upcoming = make([]forecast.Event, len(r.Inventory.Upcoming))
		for i, e := range r.Inventory.Upcoming {
			e.At = jsonTime(e.At)
			inv.Upcoming[i] = e
		}
		out.Inventory = &inv
	}
	out.Compliance = complianceOf(r)
	for i := range out.Compliance {
		if out.Compliance[i].Rules == nil {
			out.Compliance = slices.Clone(out.Compliance)
			out.Compliance[i].Rules = []string{}
		}
	}
	out.Summary.ByRule = nonNilMap(r.Summary.ByRule)
	out.Summary.ByAction = nonNilMap(r.Summary.ByAction)
	out.Summary.BySeverity = nonNilMap(r.Summary.BySeverity)
	return &out
}

// jsonTime drops the location and sub-second part, so the time is written
// as RFC 3339 UTC ("2026-11-23T08:00:00Z").
func jsonTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Second)
}

func nonNilMap(m map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return m
}
