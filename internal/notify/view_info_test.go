package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
)

// TestDigestCountsInfoFindings: the digest's "at a glance" counts every
// severity, informational findings (never mailed to owners) included.
func TestDigestCountsInfoFindings(t *testing.T) {
	item := func(sev string) plan.Item {
		return plan.Item{Finding: policy.Finding{Account: "123456789012", User: "alice", Credential: policy.CredentialUser,
			Rule: config.RuleConsoleAndKeys, Severity: sev, Action: config.ActionNotify}}
	}
	d := &DigestData{Digest: plan.Digest{Day: "2026-11-23", Findings: []plan.Item{item(config.SeverityInfo), item(config.SeverityInfo), item(config.SeverityHigh)}}}
	digestView(d)
	want := []SeverityCount{{config.SeverityHigh, 1}, {config.SeverityInfo, 2}}
	if len(d.Severities) != len(want) || d.Severities[0] != want[0] || d.Severities[1] != want[1] {
		t.Errorf("severities = %+v; want %+v", d.Severities, want)
	}
	if severityColor(config.SeverityInfo) == severityColor("") {
		t.Error("info has the colour of a change keywarden made")
	}
}

// TestDigestTextFindingWithoutNextStage: a finding with no next stage
// (the account's password policy) starts its second line with "Owner:",
// indented like every other.
func TestDigestTextFindingWithoutNextStage(t *testing.T) {
	dg := &plan.Digest{Day: "2026-11-23", Findings: []plan.Item{{Finding: policy.Finding{Account: "123456789012", User: policy.AccountUser,
		Credential: policy.CredentialAccount, Rule: config.RulePasswordPolicy, Severity: config.SeverityMedium, Action: config.ActionNotify,
		Reason: "the account has no password policy"}}}}
	m, err := DefaultTemplates().Digest(dg, "keywarden@example.com", "d1", time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, "\n    Owner: admins") || strings.Contains(m.Text, "     Owner:") {
		t.Errorf("digest text:\n%s\nwant the finding's second line to be \"    Owner: admins\"", m.Text)
	}
}
