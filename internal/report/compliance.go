package report

import (
	"slices"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
)

// Control statuses of the compliance summary. They are ASFF's
// Compliance.Status words, but for NOT_CHECKED, which ASFF spells
// NOT_AVAILABLE and which no finding carries.
const (
	ControlPassed     = "PASSED"
	ControlFailed     = "FAILED"
	ControlNotChecked = "NOT_CHECKED"
)

// ControlStatus is one benchmark control's result over the whole scan:
// FAILED when a finding that is not exempt maps to it, PASSED when none
// does, NOT_CHECKED when the config turns off every rule that maps to it
// or no account was scanned successfully. Exempt findings do not fail a
// control; they are counted in Exempt.
type ControlStatus struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status string `json:"status"`
	// Rules are the rules that check the control, in policy.Rules order.
	Rules []string `json:"rules"`
	// Findings and Accounts count the findings that fail the control and
	// the accounts they are in; Exempt the exempt findings that map to it.
	Findings int `json:"findings"`
	Accounts int `json:"accounts"`
	Exempt   int `json:"exempt"`
	// Why says why a control was not checked ("" otherwise).
	Why string `json:"why"`
}

// Compliance computes the status of every control in policy.Controls from
// r's findings and accounts. cfg says which rules ran; nil counts every
// rule as on (a report built without a config). It reads each finding's
// own Controls.
func Compliance(r *Report, cfg *config.Config) []ControlStatus {
	checked := len(r.Accounts) == 0
	for _, a := range r.Accounts {
		if a.Status != StatusError {
			checked = true
		}
	}
	out := make([]ControlStatus, 0, len(policy.Controls))
	for _, c := range policy.Controls {
		cs := ControlStatus{ID: c.ID, Title: c.Title, Rules: controlRules(c.ID)}
		on := slices.ContainsFunc(cs.Rules, func(rule string) bool { return cfg == nil || policy.RuleEnabled(cfg, rule) })
		accounts := map[string]bool{}
		for i := range r.Findings {
			f := &r.Findings[i]
			if !slices.Contains(f.Controls, c.ID) {
				continue
			}
			if f.Exempt {
				cs.Exempt++
				continue
			}
			cs.Findings++
			accounts[f.Account] = true
		}
		cs.Accounts = len(accounts)
		switch {
		case cs.Findings > 0:
			cs.Status = ControlFailed
		case !on:
			cs.Status, cs.Why = ControlNotChecked, "its rules are turned off"
		case !checked:
			cs.Status, cs.Why = ControlNotChecked, "no account was scanned"
		default:
			cs.Status = ControlPassed
		}
		out = append(out, cs)
	}
	return out
}

// controlRules are the rules whose findings can map to control, for any
// user or for root.
func controlRules(control string) []string {
	rules := []string{}
	for _, r := range policy.Rules {
		if slices.Contains(r.Controls, control) || slices.Contains(r.RootControls, control) {
			rules = append(rules, r.Name)
		}
	}
	return rules
}

// ControlCounts counts the controls by status.
func ControlCounts(cs []ControlStatus) (passed, failed, notChecked int) {
	for _, c := range cs {
		switch c.Status {
		case ControlPassed:
			passed++
		case ControlFailed:
			failed++
		default:
			notChecked++
		}
	}
	return passed, failed, notChecked
}

// complianceOf is r's compliance summary, computed (every rule counted as
// on) for a report built without New.
func complianceOf(r *Report) []ControlStatus {
	if r.Compliance == nil {
		return Compliance(r, nil)
	}
	return r.Compliance
}
