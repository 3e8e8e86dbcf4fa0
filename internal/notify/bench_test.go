package notify_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/report"
)

// BenchmarkPlanAndRender5000 plans and renders 5,000 owner messages (two
// stale keys each) and the digest of their 10,000 findings: plan.Build,
// then subject, text, HTML and MIME for every message. Run it with
//
//	go test ./internal/notify -run '^$' -bench PlanAndRender -benchmem
func BenchmarkPlanAndRender5000(b *testing.B) {
	const owners = 5000
	asOf := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	next, _ := config.ParseDate("2026-11-28")
	findings := make([]policy.Finding, 0, 2*owners)
	for i := range owners {
		user := fmt.Sprintf("user%05d", i)
		for slot, age := range []int{75, 85} {
			f := policy.Finding{ID: fmt.Sprintf("%s-%d", user, slot), Account: "123456789012", AccountAlias: "acme", User: user, Class: "human",
				Credential: policy.CredentialAccessKey, KeyID: fmt.Sprintf("AKIA%012d%d", i, slot), Slot: slot + 1, Rule: config.RuleAccessKeyAge,
				AgeDays: age, StageAt: 70, Action: config.ActionNotify, Severity: config.SeverityMedium, NextStageOn: &next,
				Recipients: []string{user + "@example.com"}, Reason: fmt.Sprintf("access key %d is %d days old", slot+1, age)}
			if age >= 80 {
				f.StageAt, f.Action, f.Severity = 80, config.ActionDisable, config.SeverityHigh
			}
			findings = append(findings, f)
		}
	}
	cfg := config.Default()
	accounts := []report.Account{{ID: "123456789012", Alias: "acme", Status: report.StatusOK, Users: owners, AccessKeys: 2 * owners}}
	tpls := notify.DefaultTemplates()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p := plan.Build(plan.Input{Config: cfg, AsOf: asOf, Accounts: accounts, Findings: findings, Mode: plan.ModeNotify})
		if len(p.Messages) != owners || len(p.Digests) != 1 {
			b.Fatalf("%d messages, %d digests; want %d and 1", len(p.Messages), len(p.Digests), owners)
		}
		for i := range p.Messages {
			m, err := tpls.User(&p.Messages[i], p, "security@example.com", fmt.Sprintf("bench.u%d", i), asOf)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := m.MIME(); err != nil {
				b.Fatal(err)
			}
		}
		d, err := tpls.Digest(&p.Digests[0], "security@example.com", "bench.d1", asOf)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.MIME(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/owners/1e3, "µs/message")
}
