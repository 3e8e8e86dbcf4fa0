package plan

import (
	"cmp"
	"slices"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
)

// Deadline is the day by which the item's owner should act: day itself
// (now) when its finding calls for a change keywarden has not made, the
// day of its next stage when it has one, "" when neither (a change made,
// or a finding without a date: no MFA device, say).
func (it Item) Deadline(day string) string {
	switch {
	case it.ActionStatus == ActionDone:
		return ""
	case it.rotating:
		return it.retireOn // the rotation carries the change: the owner's deadline is the old key's end
	case changes(it.Action):
		return day
	case it.NextStageOn != nil:
		return it.NextStageOn.String()
	}
	return ""
}

// news is whether the item tells a change keywarden made or failed to
// make: the first thing a reader must see.
func (it Item) news() bool { return it.newsRank() < 2 }

// newsRank is 0 for a change made, 1 for one that failed, else 2.
func (it Item) newsRank() int {
	switch it.ActionStatus {
	case ActionDone:
		return 0
	case ActionFailed:
		return 1
	}
	return 2
}

// ByUrgency returns items most urgent first: what keywarden did or failed
// to do in this run, then by severity (critical first), then by deadline
// (the nearest first, items without one last), then by account, user and
// credential. items is not changed.
func ByUrgency(items []Item, day string) []Item {
	out := slices.Clone(items)
	slices.SortStableFunc(out, func(a, b Item) int {
		if c := cmp.Compare(a.newsRank(), b.newsRank()); c != 0 {
			return c
		}
		if c := cmp.Compare(policy.SeverityRank(b.Severity), policy.SeverityRank(a.Severity)); c != 0 {
			return c
		}
		da, db := a.Deadline(day), b.Deadline(day)
		if (da == "") != (db == "") {
			if da == "" {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(da, db), cmp.Compare(a.Account, b.Account), cmp.Compare(a.User, b.User),
			cmp.Compare(a.Credential, b.Credential), cmp.Compare(a.Slot, b.Slot), cmp.Compare(a.Rule, b.Rule))
	})
	return out
}

// Section is a run of items under one heading, as mails group them.
type Section struct {
	// Title is "Changed by keywarden" or a severity ("Critical").
	Title string
	// Severity is the items' severity ("" for the changed ones).
	Severity string
	Items    []Item
}

// Sections groups items by urgency (ByUrgency): what keywarden changed or
// failed to change first, then one section per severity, critical first.
// Empty sections are left out.
func Sections(items []Item, day string) []Section {
	var out []Section
	for _, it := range ByUrgency(items, day) {
		title, sev := "Changed by keywarden", ""
		if it.ActionStatus == ActionFailed {
			title = "keywarden tried to change and failed"
		}
		if !it.news() {
			sev = it.Severity
			title = severityTitle(sev)
		}
		if n := len(out); n == 0 || out[n-1].Title != title {
			out = append(out, Section{Title: title, Severity: sev})
		}
		out[len(out)-1].Items = append(out[len(out)-1].Items, it)
	}
	return out
}

func severityTitle(sev string) string {
	switch sev {
	case config.SeverityCritical:
		return "Critical"
	case config.SeverityHigh:
		return "High"
	case config.SeverityMedium:
		return "Medium"
	case config.SeverityLow:
		return "Low"
	case config.SeverityInfo:
		return "Informational"
	}
	return cmp.Or(sev, "Other")
}

// FirstDeadline is the nearest deadline of items (Item.Deadline), "" when
// none has one.
func FirstDeadline(items []Item, day string) string {
	first := ""
	for _, it := range items {
		if d := it.Deadline(day); d != "" && (first == "" || d < first) {
			first = d
		}
	}
	return first
}

// ChangedOn is the latest day keywarden changed one of the items'
// credentials ("" when it changed none).
func ChangedOn(items []Item) string {
	last := ""
	for _, it := range items {
		if it.ActionStatus == ActionDone && it.doneOn > last {
			last = it.doneOn
		}
	}
	return last
}
