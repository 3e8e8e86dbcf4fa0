package report

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/golden"
	"github.com/keywarden/keywarden/internal/policy"
)

// complianceConfig turns on every rule but the two that check CIS 1.12
// (access_key_unused, password_unused), so that control is not checked.
func complianceConfig() *config.Config {
	on, off := true, false
	flag := &config.FlagRule{Enabled: &on}
	stages := map[string][]config.Stage{"human": {{At: 90, Action: config.ActionNotify}}}
	return &config.Config{Rules: config.Rules{
		AccessKeyAge:            stages,
		AccessKeyUnused:         &config.UnusedRule{Enabled: &off, After: 45},
		PasswordExpiry:          &config.ExpiryRule{WarnBefore: 14},
		MFAMissing:              flag,
		RootAccessKey:           flag,
		AccessKeyUnknownAge:     flag,
		SigningCertAge:          stages,
		RootSigningCert:         flag,
		ServiceCredentialAge:    stages,
		ServiceCredentialExpiry: &config.WarnRule{WarnBefore: 30},
		RootRecentUse:           &config.RecentUseRule{Within: 7},
		PasswordPolicy:          &config.PasswordPolicyRule{MinLength: 14, ReusePrevention: 24},
		AccessKeyAtSetup:        flag,
		TwoActiveKeys:           flag,
		ConsoleAndKeys:          flag,
		DormantUser:             &config.UnusedRule{After: 90},
	}}
}

// complianceReport has a finding of every new credential kind — signing
// certificates (a user's and root's), service-specific credentials (age
// and expiry, CodeCommit and Bedrock), an SSH key, user- and
// account-level findings (severity info among them) — in two accounts,
// with their controls, an exempt finding on a control no other finding
// fails, and the compliance of complianceConfig.
func complianceReport() *Report {
	at := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	accounts := []Account{
		{ID: "111111111111", Alias: "prod-main", Status: StatusOK, Users: 40, AccessKeys: 30, APICalls: 9},
		{ID: "333333333333", Alias: "sandbox", Status: StatusOK, Users: 3, AccessKeys: 1, APICalls: 6},
	}
	f := func(account, id, user, credential, rule, severity string, controls ...string) policy.Finding {
		return policy.Finding{ID: id, Account: account, User: user, Class: "human", Credential: credential, Rule: rule,
			Action: config.ActionNotify, Severity: severity, Controls: append([]string{}, controls...)}
	}
	const prod, sandbox = "111111111111", "333333333333"
	findings := []policy.Finding{
		f(prod, "c1c1c1c1c1c1c1c1", "deploy", policy.CredentialSigningCert, config.RuleSigningCertAge, config.SeverityHigh),
		f(prod, "c2c2c2c2c2c2c2c2", "git-user", policy.CredentialServiceCredential, config.RuleServiceCredentialAge, config.SeverityMedium),
		f(prod, "c3c3c3c3c3c3c3c3", "bedrock-app", policy.CredentialServiceCredential, config.RuleServiceCredentialExpiry, config.SeverityHigh),
		f(prod, "c4c4c4c4c4c4c4c4", "git-user", policy.CredentialSSHKey, config.RuleSSHKeyAge, config.SeverityLow),
		f(prod, "c5c5c5c5c5c5c5c5", "alice", policy.CredentialUser, config.RuleTwoActiveKeys, config.SeverityMedium, "CIS 1.13"),
		f(prod, "c6c6c6c6c6c6c6c6", "bob", policy.CredentialAccessKey, config.RuleAccessKeyAtSetup, config.SeverityMedium, "CIS 1.11"),
		f(prod, "c7c7c7c7c7c7c7c7", "bob", policy.CredentialUser, config.RuleConsoleAndKeys, config.SeverityInfo),
		f(prod, "c8c8c8c8c8c8c8c8", "old-contractor", policy.CredentialUser, config.RuleDormantUser, config.SeverityLow),
		f(prod, "c9c9c9c9c9c9c9c9", policy.AccountUser, policy.CredentialAccount, config.RulePasswordPolicy, config.SeverityMedium, "CIS 1.8", "CIS 1.9"),
		f(prod, "cacacacacacacaca", "<root_account>", policy.CredentialRoot, config.RuleRootRecentUse, config.SeverityCritical, "CIS 1.7"),
		f(prod, "cbcbcbcbcbcbcbcb", "<root_account>", policy.CredentialRoot, config.RuleRootSigningCert, config.SeverityCritical),
		f(sandbox, "cccccccccccccccc", policy.AccountUser, policy.CredentialAccount, config.RulePasswordPolicy, config.SeverityMedium, "CIS 1.8"),
		f(sandbox, "cdcdcdcdcdcdcdcd", "<root_account>", policy.CredentialMFA, config.RuleMFAMissing, config.SeverityHigh, "CIS 1.5", "CIS 1.6"),
		f(sandbox, "cececececececece", "vendor", policy.CredentialAccessKey, config.RuleAccessKeyAge, config.SeverityHigh, "CIS 1.14"),
	}
	set := func(i int, fn func(*policy.Finding)) { fn(&findings[i]) }
	set(0, func(f *policy.Finding) {
		f.KeyID, f.Slot, f.AgeDays, f.StageAt, f.Action = "ASCACKCEVSQ6C2EXAMPLE", 2, 400, 365, config.ActionDisable
		f.Reason = "signing certificate 2 is 400 days old (disable at 365)"
	})
	set(1, func(f *policy.Finding) {
		f.KeyID, f.Service, f.AgeDays, f.StageAt = "ACCAQFODSV5EXAMPLE01", "codecommit.amazonaws.com", 120, 90
		f.Reason = "CodeCommit credential is 120 days old (limit 90)"
	})
	set(2, func(f *policy.Finding) {
		f.KeyID, f.Service, f.AgeDays, f.DaysLeft = "ACCABEDROCKEXAMPLE02", "bedrock.amazonaws.com", 29, intp(-2)
		f.Reason = "Bedrock API key expired 2 days ago"
	})
	set(3, func(f *policy.Finding) {
		f.KeyID, f.AgeDays, f.StageAt = "APKAEIBAERJR2EXAMPLE", 500, 365
		f.Reason = "SSH public key is 500 days old (limit 365)"
	})
	set(4, func(f *policy.Finding) { f.Reason = "two active access keys" })
	set(5, func(f *policy.Finding) {
		f.KeyID, f.Slot, f.AgeDays = "AKIABOBSETUPEXAMPLE1", 1, 30
		f.Reason = "access key 1 was created with the user and never used"
	})
	set(6, func(f *policy.Finding) { f.Reason = "console password and active access keys" })
	set(7, func(f *policy.Finding) {
		f.AgeDays, f.StageAt = 200, 90
		f.Reason = "no credential used for 200 days (limit 90)"
	})
	set(8, func(f *policy.Finding) {
		f.Class = ""
		f.Reason = "password policy: minimum length 8 (want 14), reuse prevention 0 (want 24)"
	})
	set(9, func(f *policy.Finding) {
		f.Class, f.AgeDays = "root", 2
		f.Reason = "root signed in 2 days ago (within 7)"
	})
	set(10, func(f *policy.Finding) {
		f.Class, f.Slot, f.AgeDays = "root", 1, 900
		f.Reason = "root has an active signing certificate (cert 1, 900 days old)"
	})
	set(11, func(f *policy.Finding) {
		f.Class = ""
		f.Reason = "password policy: minimum length 10 (want 14)"
	})
	set(12, func(f *policy.Finding) { f.Class, f.Reason = "root", "root has no MFA" })
	set(13, func(f *policy.Finding) {
		f.KeyID, f.Slot, f.AgeDays, f.StageAt = "AKIAVENDOREXAMPLE001", 1, 300, 90
		f.Exempt, f.ExemptReason = true, "vendor contract until 2027-03-31"
		f.Reason = "access key 1 is 300 days old (limit 90)"
	})
	r := New(at, at, accounts, findings)
	r.Compliance = Compliance(r, complianceConfig())
	return r
}

// TestCompliance checks each status and count of complianceReport's
// summary: a control fails on a finding that is not exempt (counted
// with its accounts), an exempt finding passes it and is counted as
// exempt, a control whose rules are all off is not checked.
func TestCompliance(t *testing.T) {
	got := map[string]ControlStatus{}
	for _, c := range complianceReport().Compliance {
		got[c.ID] = c
	}
	want := map[string]ControlStatus{
		"CIS 1.4":  {Status: ControlPassed},
		"CIS 1.5":  {Status: ControlFailed, Findings: 1, Accounts: 1},
		"CIS 1.6":  {Status: ControlFailed, Findings: 1, Accounts: 1},
		"CIS 1.7":  {Status: ControlFailed, Findings: 1, Accounts: 1},
		"CIS 1.8":  {Status: ControlFailed, Findings: 2, Accounts: 2},
		"CIS 1.9":  {Status: ControlFailed, Findings: 1, Accounts: 1},
		"CIS 1.10": {Status: ControlPassed},
		"CIS 1.11": {Status: ControlFailed, Findings: 1, Accounts: 1},
		"CIS 1.12": {Status: ControlNotChecked, Why: "its rules are turned off"},
		"CIS 1.13": {Status: ControlFailed, Findings: 1, Accounts: 1},
		"CIS 1.14": {Status: ControlPassed, Exempt: 1},
	}
	for _, c := range policy.Controls {
		g := got[c.ID]
		w := want[c.ID]
		g.ID, g.Title, g.Rules = "", "", nil
		if !cmp.Equal(g, w) {
			t.Errorf("%s = %+v; want %+v", c.ID, g, w)
		}
	}
	if r := got["CIS 1.12"].Rules; !slices.Equal(r, []string{config.RuleAccessKeyUnused, config.RulePasswordUnused}) {
		t.Errorf("CIS 1.12 rules = %q; want access_key_unused and password_unused", r)
	}
	if r := got["CIS 1.5"].Rules; !slices.Equal(r, []string{config.RuleMFAMissing}) {
		t.Errorf("CIS 1.5 rules = %q; want mfa_missing (root's controls count)", r)
	}
}

// TestComplianceNotChecked: with every account failed, no control is
// checked; a control with one of its two rules off is still checked; a
// report built without a config counts every rule as on.
func TestComplianceNotChecked(t *testing.T) {
	at := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	failed := New(at, at, []Account{{ID: "111111111111", Status: StatusError, Error: "AccessDenied"}}, nil)
	for _, c := range failed.Compliance {
		if c.Status != ControlNotChecked || c.Why != "no account was scanned" {
			t.Errorf("%s with every account failed = %s (%q); want NOT_CHECKED, no account was scanned", c.ID, c.Status, c.Why)
		}
	}
	cfg := complianceConfig()
	cfg.Rules.AccessKeyUnused.Enabled = nil // on again; password_unused stays off
	ok := New(at, at, []Account{{ID: "111111111111", Status: StatusOK}}, nil)
	for _, c := range Compliance(ok, cfg) {
		if c.Status != ControlPassed {
			t.Errorf("%s = %s; want PASSED (at least one of its rules is on, no finding)", c.ID, c.Status)
		}
	}
	for _, c := range ok.Compliance {
		if c.Status != ControlPassed {
			t.Errorf("%s without a config = %s; want PASSED", c.ID, c.Status)
		}
	}
	p, f, n := ControlCounts(complianceReport().Compliance)
	if diff := cmp.Diff([]int{3, 7, 1}, []int{p, f, n}); diff != "" {
		t.Errorf("ControlCounts (passed, failed, not checked) differ (-want +got):\n%s", diff)
	}
}

// TestComplianceGolden renders complianceReport in every format.
func TestComplianceGolden(t *testing.T) {
	tests := []struct {
		file   string
		format string
		opts   Options
	}{
		{"compliance.json.golden", FormatJSON, Options{}},
		{"compliance.csv.golden", FormatCSV, Options{}},
		{"compliance.md.golden", FormatMarkdown, Options{}},
		{"compliance.table80.golden", FormatTable, Options{Width: 80}},
		{"compliance.table200.golden", FormatTable, Options{Width: 200}},
		{"compliance.table-pipe.golden", FormatTable, Options{}},
		{"compliance.html.golden", FormatHTML, Options{}},
		{"compliance.asff.golden", FormatASFF, Options{Region: "eu-west-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			golden.Assert(t, render(t, complianceReport(), tt.format, tt.opts), filepath.Join("testdata", tt.file))
		})
	}
}
