package report

import (
	"sort"
	"time"

	"github.com/keywarden/keywarden/internal/policy"
)

// Schema is the JSON report's schema identifier.
const Schema = "keywarden.report/v1"

// Account statuses.
const (
	StatusOK    = "ok"
	StatusError = "error"
)

// Report is the result of one scan over one or more accounts.
type Report struct {
	Schema      string           `json:"schema"`
	GeneratedAt time.Time        `json:"generated_at"`
	AsOf        time.Time        `json:"as_of"`
	Accounts    []Account        `json:"accounts"`
	Findings    []policy.Finding `json:"findings"`
	Summary     Summary          `json:"summary"`
	// Compliance is the pass/fail status of every benchmark control
	// (policy.Controls, in their order), from every finding of the scan.
	Compliance []ControlStatus `json:"compliance"`
	// Inventory describes every credential scanned, flagged or not (what
	// the HTML report's charts need). Optional: nil for a report built
	// without snapshots, and then absent from the JSON.
	Inventory *Inventory `json:"inventory,omitempty"`
}

// Account is one scanned account.
type Account struct {
	ID         string `json:"id"`
	Alias      string `json:"alias"`
	Status     string `json:"status"`
	Error      string `json:"error"`
	Users      int    `json:"users"`
	AccessKeys int    `json:"access_keys"`
	APICalls   int    `json:"api_calls"`
	// SSHKeyCalls are the ListSSHPublicKeys calls among APICalls: one per
	// user the opt-in ssh_key_age rule selects (0 when it is off).
	SSHKeyCalls int `json:"ssh_key_calls"`
}

// Summary counts the findings. Findings and the by_* maps count only
// findings that are not exempt; Exempt counts the others.
type Summary struct {
	Findings   int            `json:"findings"`
	Exempt     int            `json:"exempt"`
	ByRule     map[string]int `json:"by_rule"`
	ByAction   map[string]int `json:"by_action"`
	BySeverity map[string]int `json:"by_severity"`
}

// New builds a report: it sorts accounts by ID and findings by account,
// user, credential, slot and rule, and computes the summary.
func New(generatedAt, asOf time.Time, accounts []Account, findings []policy.Finding) *Report {
	if accounts == nil {
		accounts = []Account{}
	}
	if findings == nil {
		findings = []policy.Finding{}
	}
	sort.SliceStable(accounts, func(i, j int) bool { return accounts[i].ID < accounts[j].ID })
	SortFindings(findings)
	r := &Report{
		Schema:      Schema,
		GeneratedAt: generatedAt.UTC(),
		AsOf:        asOf.UTC(),
		Accounts:    accounts,
		Findings:    findings,
	}
	r.Summary = Summarize(findings)
	r.Compliance = Compliance(r, nil, nil)
	return r
}

// Summarize counts findings by rule, action and severity.
func Summarize(findings []policy.Finding) Summary {
	s := Summary{ByRule: map[string]int{}, ByAction: map[string]int{}, BySeverity: map[string]int{}}
	for _, f := range findings {
		if f.Exempt {
			s.Exempt++
			continue
		}
		s.Findings++
		s.ByRule[f.Rule]++
		s.ByAction[f.Action]++
		s.BySeverity[f.Severity]++
	}
	return s
}

// SortFindings puts findings in the report's stable order.
func SortFindings(fs []policy.Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Account != b.Account {
			return a.Account < b.Account
		}
		if a.User != b.User {
			return a.User < b.User
		}
		if a.Credential != b.Credential {
			return a.Credential < b.Credential
		}
		if a.Slot != b.Slot {
			return a.Slot < b.Slot
		}
		return a.Rule < b.Rule
	})
}

// MaxSeverity is the highest severity rank among non-exempt findings.
func (r *Report) MaxSeverity() int {
	max := 0
	for _, f := range r.Findings {
		if !f.Exempt && policy.SeverityRank(f.Severity) > max {
			max = policy.SeverityRank(f.Severity)
		}
	}
	return max
}

// FailedAccounts counts accounts whose scan failed.
func (r *Report) FailedAccounts() int {
	n := 0
	for _, a := range r.Accounts {
		if a.Status == StatusError {
			n++
		}
	}
	return n
}
