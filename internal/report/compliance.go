package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/inventory"
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
// FAILED when a finding that is not exempt maps to it; PASSED only when
// none does and keywarden checked it at the benchmark's threshold in
// every account the report lists; NOT_CHECKED otherwise, with Why. Exempt
// findings do not fail a control; they are counted in Exempt.
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

// Unread is what one account's scan did not read of the inputs the
// compliance summary needs (UnreadInputs).
type Unread struct {
	Account string
	// PasswordPolicy: the account password policy was not read (an
	// offline credential report does not hold it): CIS 1.8 and 1.9.
	PasswordPolicy bool
	// RootRow: the credential report has no root row: CIS 1.4, 1.5 and
	// 1.7 (the root rules run on it; the account summary alone raises no
	// finding).
	RootRow bool
	// Summary: no account summary (GetAccountSummary) was read.
	Summary bool
}

// UnreadInputs lists the snapshots whose scan left an input of the
// compliance summary unread; nil when none did.
func UnreadInputs(snaps ...*inventory.Snapshot) []Unread {
	var out []Unread
	for _, s := range snaps {
		u := Unread{Account: s.AccountID, PasswordPolicy: !s.PasswordPolicyKnown, RootRow: s.Root == nil, Summary: s.Summary == nil}
		if u.PasswordPolicy || u.RootRow {
			out = append(out, u)
		}
	}
	return out
}

// Compliance computes the status of every control in policy.Controls from
// r's findings and accounts. cfg says which rules ran and at which
// thresholds (policy.ControlCoverage); nil counts every rule as on at the
// benchmark's thresholds (a report built without a config). unread are
// the inputs the scan did not read (UnreadInputs). It reads each
// finding's own Controls. A control no finding fails is NOT_CHECKED, and
// Why joins every reason, when:
//   - no account was scanned successfully, or the report has none ("no
//     account was scanned");
//   - cfg does not check it at the benchmark's threshold (the coverage's
//     why; CIS 1.6 never is);
//   - an account failed to scan ("N accounts were not scanned");
//   - an account's scan did not read what the control needs: the password
//     policy (1.8, 1.9), the credential report's root row (1.7), and the
//     account summary too (1.4, 1.5).
func Compliance(r *Report, cfg *config.Config, unread []Unread) []ControlStatus {
	failed := 0
	for _, a := range r.Accounts {
		if a.Status == StatusError {
			failed++
		}
	}
	coverage := policy.ControlCoverage(cfg)
	out := make([]ControlStatus, 0, len(policy.Controls))
	for _, c := range policy.Controls {
		cs := ControlStatus{ID: c.ID, Title: c.Title, Rules: controlRules(c.ID)}
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
		var why []string
		if cov := coverage[c.ID]; !cov.Checked {
			why = append(why, cov.Why)
		}
		switch {
		case failed == len(r.Accounts):
			why = append(why, "no account was scanned")
		case failed > 0:
			why = append(why, fmt.Sprintf("%s not scanned", accountsWere(failed)))
		}
		why = append(why, unreadWhy(c.ID, unread)...)
		switch {
		case cs.Findings > 0 || cs.Exempt > 0:
			// An exemption accepts a risk; it does not meet the control
			// (ASFF says FAILED for the exempt finding too).
			cs.Status = ControlFailed
		case len(why) > 0:
			cs.Status, cs.Why = ControlNotChecked, strings.Join(why, "; ")
		default:
			cs.Status = ControlPassed
		}
		out = append(out, cs)
	}
	return out
}

// unreadWhy says which of control's inputs were not read, and in how many
// accounts; nil when every input it needs was read.
func unreadWhy(control string, unread []Unread) []string {
	var policyN, rowN int
	for _, u := range unread {
		if u.PasswordPolicy {
			policyN++
		}
		if u.RootRow {
			rowN++
		}
	}
	switch {
	case (control == "CIS 1.8" || control == "CIS 1.9") && policyN > 0:
		return []string{fmt.Sprintf("the password policy was not read in %s, as an offline credential report does not hold it", nAccounts(policyN))}
	case (control == "CIS 1.4" || control == "CIS 1.5") && rowN > 0:
		// The root rules run on the root row: the account summary alone
		// raises no finding.
		return []string{fmt.Sprintf("root's credentials were not read in %s, with no root row in its credential report", nAccounts(rowN))}
	case control == "CIS 1.7" && rowN > 0:
		return []string{fmt.Sprintf("root's last use was not read in %s, with no root row in its credential report", nAccounts(rowN))}
	}
	return nil
}

// nAccounts is "1 account", "3 accounts".
func nAccounts(n int) string {
	if n == 1 {
		return "1 account"
	}
	return fmt.Sprintf("%d accounts", n)
}

// accountsWere is "1 account was", "3 accounts were".
func accountsWere(n int) string {
	if n == 1 {
		return "1 account was"
	}
	return nAccounts(n) + " were"
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
		return Compliance(r, nil, nil)
	}
	return r.Compliance
}
