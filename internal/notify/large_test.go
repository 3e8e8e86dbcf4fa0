package notify_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/testenv"
)

var largeAsOf = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// largePlan plans a made-up account set of users findings (pure, no AWS):
// three accounts; keys at the 70-, 80- and 90-day stages, passwords
// without MFA and a few critical root keys; one user in ten without an
// address. Enforcement is off, so every change is listed.
func largePlan(t testing.TB, users int) *plan.Plan {
	t.Helper()
	accts := []string{"111111111111", "222222222222", "333333333333"}
	day := func(d int) *config.Date {
		x, _ := config.ParseDate(largeAsOf.AddDate(0, 0, d).Format(config.DateLayout))
		return &x
	}
	var findings []policy.Finding
	for i := range users {
		user := fmt.Sprintf("user.%05d@corp-example.com", i)
		acct := accts[i%len(accts)]
		to := []string{user}
		if i%10 == 9 {
			to = nil
		}
		f := policy.Finding{ID: fmt.Sprintf("f%05d", i), Account: acct, User: user, Class: "human", Recipients: to}
		switch i % 5 {
		case 0, 1:
			f.Credential, f.KeyID, f.Slot, f.KeyActive, f.Rule = policy.CredentialAccessKey, fmt.Sprintf("AKIA%016d", i), 1, true, config.RuleAccessKeyAge
			f.AgeDays, f.StageAt, f.Action, f.Severity, f.NextStageOn = 70+i%10, 70, config.ActionNotify, config.SeverityMedium, day(10-i%10)
		case 2:
			f.Credential, f.KeyID, f.Slot, f.KeyActive, f.Rule = policy.CredentialAccessKey, fmt.Sprintf("AKIA%016d", i), 1, true, config.RuleAccessKeyAge
			f.AgeDays, f.StageAt, f.Action, f.Severity, f.NextStageOn = 85, 80, config.ActionDisable, config.SeverityHigh, day(5)
		case 3:
			f.Credential, f.Rule, f.Action, f.Severity = policy.CredentialMFA, config.RuleMFAMissing, config.ActionNotify, config.SeverityHigh
		default:
			f.Credential, f.KeyID, f.Slot, f.KeyActive, f.Rule = policy.CredentialAccessKey, fmt.Sprintf("AKIA%016d", i), 2, true, config.RuleAccessKeyAge
			f.AgeDays, f.StageAt, f.Action, f.Severity = 95, 90, config.ActionDelete, config.SeverityHigh
			if i%500 == 4 {
				f.Severity = config.SeverityCritical
			}
		}
		f.Reason = fmt.Sprintf("%s finding of %s (%d days)", f.Rule, user, f.AgeDays)
		findings = append(findings, f)
	}
	cfg := config.Default()
	cfg.Notify.Admins.Emails = []string{"security@example.com"}
	var accounts []report.Account
	for _, a := range accts {
		accounts = append(accounts, report.Account{ID: a, Status: report.StatusOK, Users: users / 3, AccessKeys: users / 2})
	}
	return plan.Build(plan.Input{Config: cfg, AsOf: largeAsOf, Accounts: accounts, Findings: findings, Mode: plan.ModeNotify})
}

// TestDigestStaysShortForLargeAccounts renders the digest of 5,000
// findings: its text stays under 200 lines and its HTML under 128 KiB,
// each section lists at most notify.admins.max_items entries (the most
// urgent first) and counts the rest, and the attached CSV, which the
// mailed MIME message carries, has a row for every entry.
func TestDigestStaysShortForLargeAccounts(t *testing.T) {
	const users = 5000
	p := largePlan(t, users)
	if len(p.Digests) != 1 {
		t.Fatalf("%d digests; want 1", len(p.Digests))
	}
	dg := &p.Digests[0]
	m, err := notify.DefaultTemplates().Digest(dg, "keywarden@example.com", "large.d1", largeAsOf)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(m.Text, "\n"); n >= 200 {
		t.Errorf("digest text has %d lines; want under 200:\n%s", n, m.Text)
	}
	if n := len(m.HTML); n > 128<<10 {
		t.Errorf("digest HTML is %d bytes; want at most 128 KiB", n)
	}
	t.Logf("5,000 findings: text %d lines, %d bytes; HTML %d bytes", strings.Count(m.Text, "\n"), len(m.Text), len(m.HTML))
	// The counts are whole, and what was cut is said.
	for _, s := range []string{
		"Findings: 5000 (10 critical, 2990 high, 2000 medium); 5000 new or due for a reminder",
		"and 4980 more findings (all in the attached CSV)",
		"Owners keywarden cannot mail (500;",
		"- and 480 more (all in the attached CSV)",
		"Listed only, not made (2000)",
		"- and 1980 more (all in the attached CSV)",
	} {
		if !strings.Contains(m.Text, s) {
			t.Errorf("digest text lacks %q", s)
		}
	}
	// The most urgent first: the ten critical findings lead the findings.
	findings := m.Text[strings.Index(m.Text, "FINDINGS, most urgent first"):]
	if first := strings.Index(findings, "[critical]"); first < 0 || strings.Count(findings, "[critical]") != 10 ||
		strings.Index(findings, "[high]") < strings.LastIndex(findings, "[critical]") {
		t.Errorf("the digest's findings do not start with the 10 critical ones:\n%s", findings)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Name != "keywarden-digest-2026-11-23.csv" {
		t.Fatalf("attachments %v; want the digest's CSV", m.Attachments)
	}
	rows, err := csv.NewReader(bytes.NewReader(m.Attachments[0].Data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	users5000 := map[string]bool{}
	for _, r := range rows[1:] {
		kinds[r[0]]++
		if r[0] == "finding" {
			users5000[r[4]] = true
		}
	}
	want := map[string]int{"finding": users, "action": len(dg.Actions), "account": 3, "undeliverable": 500}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("CSV has %d %s rows; want %d", kinds[k], k, n)
		}
	}
	if len(users5000) != users || len(dg.Actions) != 2000 {
		t.Errorf("CSV findings name %d users, the digest has %d actions; want %d and 2000", len(users5000), len(dg.Actions), users)
	}
	// The mail carries the CSV; the text and HTML are its alternatives.
	raw, err := m.MIME()
	if err != nil {
		t.Fatal(err)
	}
	got := testenv.ParseMail(t, string(raw))
	if strings.Join(got.Parts, ",") != "text/plain,text/html,text/csv" || got.Text != m.Text || got.HTML != m.HTML ||
		!bytes.Equal(got.Attachments[m.Attachments[0].Name], m.Attachments[0].Data) {
		t.Errorf("MIME parts %v; want the text, the HTML and the CSV as rendered", got.Parts)
	}
}

// TestDigestCSVNeutralisesFormulas: a user name a spreadsheet would run
// as a formula (IAM allows = + - @ in names) is text in the CSV.
func TestDigestCSVNeutralisesFormulas(t *testing.T) {
	dg := &plan.Digest{Day: "2026-11-23", Undeliverable: []plan.Undeliverable{{Account: "123456789012", User: "=HYPERLINK(1)", Findings: 1, Reason: "no address"}}}
	rows, err := csv.NewReader(bytes.NewReader(notify.DigestCSV(dg))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[1][4] != "'=HYPERLINK(1)" {
		t.Errorf("CSV rows %q; want the user as '=HYPERLINK(1)", rows)
	}
}

// TestDigestUncutHasNoAttachment: a digest whose sections all fit has no
// CSV.
func TestDigestUncutHasNoAttachment(t *testing.T) {
	p := largePlan(t, 15)
	m, err := notify.DefaultTemplates().Digest(&p.Digests[0], "keywarden@example.com", "small.d1", largeAsOf)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 0 || strings.Contains(m.Text, "more (all in the attached CSV)") {
		t.Errorf("a digest of 15 findings attaches %d files:\n%s", len(m.Attachments), m.Text)
	}
}
