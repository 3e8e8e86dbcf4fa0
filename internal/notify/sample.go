package notify

import (
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/state"
)

// Sample returns an owner message, its plan and two digests (one with
// findings, actions and an undeliverable owner; one all compliant) built by
// plan.Build from made-up findings: the data templates are checked against.
// The user names and tags carry HTML, as IAM data may.
func Sample() (*plan.Message, *plan.Plan, []plan.Digest) {
	asOf := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	cfg := config.Default()
	cfg.Notify.Admins.Emails = []string{"security@example.com"}
	day := func(s string) *config.Date { d, _ := config.ParseDate(s); return &d }
	left := 5
	findings := []policy.Finding{
		{ID: "sample-1", Account: "123456789012", AccountAlias: "acme-prod", User: "alice<b>", Class: "human",
			Credential: policy.CredentialAccessKey, KeyID: "AKIAIOSFODNN7EXAMPLE", Slot: 1, KeyActive: true, Rule: config.RuleAccessKeyAge,
			AgeDays: 75, StageAt: 70, Action: config.ActionNotify, Severity: config.SeverityMedium, NextStageOn: day("2026-11-28"),
			Recipients: []string{"alice@example.com"}, Reason: "access key 1 is 75 days old (created 2026-09-09) and reached the 70-day stage (notify, medium)",
			RecipientProblems: []policy.RecipientProblem{{Source: `tag "OwnerEmail"`, Address: "<script>alert(1)</script>", Reason: "is not an email address"}}},
		{ID: "sample-2", Account: "123456789012", AccountAlias: "acme-prod", User: "alice<b>", Class: "human",
			Credential: policy.CredentialAccessKey, KeyID: "AKIAI44QH8DHBEXAMPLE", Slot: 2, KeyActive: true, Rule: config.RuleAccessKeyAge,
			AgeDays: 85, StageAt: 80, Action: config.ActionDisable, Severity: config.SeverityHigh, NextStageOn: day("2026-11-28"),
			Recipients: []string{"alice@example.com"}, Reason: "access key 2 is 85 days old (created 2026-08-30) and reached the 80-day stage (disable, high)"},
		{ID: "sample-3", Account: "123456789012", AccountAlias: "acme-prod", User: "alice<b>", Class: "human",
			Credential: policy.CredentialPassword, Rule: config.RulePasswordExpiry, AgeDays: 85, DaysLeft: &left, StageAt: 76,
			Action: config.ActionNotify, Severity: config.SeverityMedium, NextStageOn: day("2026-11-28"),
			Recipients: []string{"alice@example.com"}, Reason: "console password expires in 5 days, on 2026-11-28"},
		{ID: "sample-4", Account: "123456789012", AccountAlias: "acme-prod", User: "bob", Class: "human",
			Credential: policy.CredentialMFA, Rule: config.RuleMFAMissing, Action: config.ActionNotify, Severity: config.SeverityHigh,
			Recipients: []string{}, Reason: "console password without MFA",
			RecipientProblems: []policy.RecipientProblem{{Source: `tag "Email"`, Address: "bob <b>at</b> example", Reason: "is not an email address"}}},
	}
	accounts := []report.Account{
		{ID: "123456789012", Alias: "acme-prod", Status: report.StatusOK, Users: 3, AccessKeys: 2},
		{ID: "210987654321", Status: report.StatusError, Error: "AccessDenied: not authorized to perform sts:AssumeRole"},
	}
	notices := []state.Notice{{NoticeKey: state.NoticeKey{Finding: "sample-3", Audience: "alice@example.com"},
		Account: "123456789012", Stage: 76, FirstDay: "2026-11-19", LastDay: "2026-11-19", Count: 1}}
	p := plan.Build(plan.Input{Config: cfg, AsOf: asOf, Accounts: accounts, Findings: findings, Notices: notices, Mode: plan.ModeNotify})
	cfg.Notify.Admins.SendWhen = config.SendWhenAlways
	compliant := plan.Build(plan.Input{Config: cfg, AsOf: asOf, Mode: plan.ModeNotify,
		Accounts: []report.Account{{ID: "123456789012", Status: report.StatusOK, Users: 3}}})
	digests := append(p.Digests, compliant.Digests...)
	return &p.Messages[0], p, digests
}
