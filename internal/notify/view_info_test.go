package notify

import (
	"testing"

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
