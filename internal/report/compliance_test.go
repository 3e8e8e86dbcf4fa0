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

// complianceConfig turns on every rule at the benchmark's thresholds but
// the two that check CIS 1.12: access_key_unused reports after 90 days,
// password_unused is off, so that control is not checked.
func complianceConfig() *config.Config {
	on := true
	flag := &config.FlagRule{Enabled: &on}
	stages := map[string][]config.Stage{"human": {{At: 90, Action: config.ActionNotify}}}
	return &config.Config{Rules: config.Rules{
		AccessKeyAge:            stages,
		AccessKeyUnused:         &config.UnusedRule{After: 90},
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
	r.Compliance = Compliance(r, complianceConfig(), nil)
	return r
}

// TestCompliance checks each status and count of complianceReport's
// summary: a control fails on a finding that is not exempt (counted
// with its accounts), an exempt finding passes it and is counted as
// exempt, a control whose rules check it laxer than the benchmark is not checked.
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
		"CIS 1.12": {Status: ControlNotChecked, Why: "access_key_unused reports after 90 days, the benchmark after 45 days; password_unused is turned off"},
		"CIS 1.13": {Status: ControlFailed, Findings: 1, Accounts: 1},
		// An exempt finding fails its control: the exemption accepts the
		// risk, the benchmark still fails it (so does its ASFF finding).
		"CIS 1.14": {Status: ControlFailed, Exempt: 1},
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

// TestComplianceNotChecked: a control no finding fails passes only when
// it was checked at the benchmark's threshold in every account; else it
// is NOT_CHECKED with the reason — failed accounts, a config laxer than
// the benchmark, inputs the scan did not read, CIS 1.6 always — and a
// finding still fails it.
func TestComplianceNotChecked(t *testing.T) {
	at := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	ok := Account{ID: "111111111111", Status: StatusOK}
	bad := Account{ID: "222222222222", Status: StatusError, Error: "AccessDenied"}
	strict := func() *config.Config {
		cfg := complianceConfig()
		cfg.Rules.AccessKeyUnused = &config.UnusedRule{After: 45}
		cfg.Rules.PasswordUnused = &config.UnusedRule{After: 45}
		return cfg
	}
	twoKeys := policy.Finding{ID: "f1", Account: ok.ID, User: "alice", Credential: policy.CredentialUser,
		Rule: config.RuleTwoActiveKeys, Controls: []string{"CIS 1.13"}}
	tests := []struct {
		name     string
		accounts []Account
		findings []policy.Finding
		cfg      func() *config.Config
		unread   []Unread
		// want are the statuses (and whys) of the controls named; every
		// other control but CIS 1.6 passes.
		want map[string]ControlStatus
	}{
		{name: "strict config, every input read", accounts: []Account{ok}, cfg: strict,
			want: map[string]ControlStatus{}},
		{name: "without a config every rule counts as on", accounts: []Account{ok},
			want: map[string]ControlStatus{}},
		{name: "every account failed", accounts: []Account{bad}, cfg: strict, want: every(ControlStatus{
			Status: ControlNotChecked, Why: "no account was scanned"})},
		{name: "no account at all", cfg: strict, want: every(ControlStatus{
			Status: ControlNotChecked, Why: "no account was scanned"})},
		{name: "one account failed; a finding elsewhere still fails its control", accounts: []Account{ok, bad},
			findings: []policy.Finding{twoKeys}, cfg: strict, want: with(every(ControlStatus{
				Status: ControlNotChecked, Why: "1 account was not scanned"}),
				"CIS 1.13", ControlStatus{Status: ControlFailed, Findings: 1, Accounts: 1})},
		{name: "two accounts failed", accounts: []Account{ok, bad, {ID: "333333333333", Status: StatusError}}, cfg: strict,
			want: every(ControlStatus{Status: ControlNotChecked, Why: "2 accounts were not scanned"})},
		{name: "unused rules laxer than 45 days", accounts: []Account{ok}, cfg: complianceConfig,
			want: map[string]ControlStatus{"CIS 1.12": {Status: ControlNotChecked,
				Why: "access_key_unused reports after 90 days, the benchmark after 45 days; password_unused is turned off"}}},
		{name: "unused rules off", accounts: []Account{ok}, cfg: func() *config.Config {
			cfg := complianceConfig()
			cfg.Rules.AccessKeyUnused = nil
			return cfg
		}, want: map[string]ControlStatus{"CIS 1.12": {Status: ControlNotChecked, Why: policy.WhyRulesOff}}},
		{name: "weak password_policy and root_recent_use settings", accounts: []Account{ok}, cfg: func() *config.Config {
			cfg := strict()
			cfg.Rules.PasswordPolicy = &config.PasswordPolicyRule{MinLength: 8, ReusePrevention: 5}
			cfg.Rules.RootRecentUse.Within = 3
			return cfg
		}, want: map[string]ControlStatus{
			"CIS 1.7": {Status: ControlNotChecked, Why: "root_recent_use looks back 3 days, the benchmark 7 days"},
			"CIS 1.8": {Status: ControlNotChecked, Why: "password_policy wants a minimum length of 8, the benchmark 14"},
			"CIS 1.9": {Status: ControlNotChecked, Why: "password_policy wants reuse prevention of 5 passwords, the benchmark 24"},
		}},
		{name: "access_key_age stages after 91 days, or none, for a class", accounts: []Account{ok}, cfg: func() *config.Config {
			cfg := strict()
			cfg.Classes = []config.Class{{Name: "machine"}, {Name: "vendor"}}
			cfg.Rules.AccessKeyAge = map[string][]config.Stage{
				"human":   {{At: 91, Action: config.ActionNotify}},
				"machine": {{At: 365, Action: config.ActionDelete}, {At: 180, Action: config.ActionNotify}},
				"vendor":  {},
			}
			return cfg
		}, want: map[string]ControlStatus{"CIS 1.14": {Status: ControlNotChecked,
			Why: "class machine has no access_key_age stage before 180 days; the benchmark fails keys older than 90 days; " +
				"class vendor has no access_key_age stage; the benchmark fails keys older than 90 days"}}},
		{name: "offline credential report: no password policy", accounts: []Account{ok}, cfg: strict,
			unread: []Unread{{Account: ok.ID, PasswordPolicy: true, Summary: true}},
			want: map[string]ControlStatus{
				"CIS 1.8": {Status: ControlNotChecked, Why: "the password policy was not read in 1 account, as an offline credential report does not hold it"},
				"CIS 1.9": {Status: ControlNotChecked, Why: "the password policy was not read in 1 account, as an offline credential report does not hold it"},
			}},
		// The root rules run on the root row: an account summary alone
		// raises no finding, so it checks nothing.
		{name: "no root row, an account summary", accounts: []Account{ok}, cfg: strict,
			unread: []Unread{{Account: ok.ID, RootRow: true}},
			want: map[string]ControlStatus{
				"CIS 1.4": {Status: ControlNotChecked, Why: "root's credentials were not read in 1 account, with no root row in its credential report"},
				"CIS 1.5": {Status: ControlNotChecked, Why: "root's credentials were not read in 1 account, with no root row in its credential report"},
				"CIS 1.7": {Status: ControlNotChecked, Why: "root's last use was not read in 1 account, with no root row in its credential report"},
			}},
		{name: "no root row, no account summary", accounts: []Account{ok}, cfg: strict,
			unread: []Unread{{Account: ok.ID, RootRow: true, Summary: true}},
			want: map[string]ControlStatus{
				"CIS 1.4": {Status: ControlNotChecked, Why: "root's credentials were not read in 1 account, with no root row in its credential report"},
				"CIS 1.5": {Status: ControlNotChecked, Why: "root's credentials were not read in 1 account, with no root row in its credential report"},
				"CIS 1.7": {Status: ControlNotChecked, Why: "root's last use was not read in 1 account, with no root row in its credential report"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(at, at, tt.accounts, tt.findings)
			var cfg *config.Config
			if tt.cfg != nil {
				cfg = tt.cfg()
			}
			for _, c := range Compliance(r, cfg, tt.unread) {
				w, named := tt.want[c.ID]
				switch {
				case named:
				case c.ID == "CIS 1.6":
					w = ControlStatus{Status: ControlNotChecked, Why: policy.WhyHardwareMFA}
				default:
					w = ControlStatus{Status: ControlPassed}
				}
				id := c.ID
				c.ID, c.Title, c.Rules = "", "", nil
				if !cmp.Equal(c, w) {
					t.Errorf("%s = %+v; want %+v", id, c, w)
				}
			}
		})
	}
	p, f, n := ControlCounts(complianceReport().Compliance)
	if diff := cmp.Diff([]int{2, 8, 1}, []int{p, f, n}); diff != "" {
		t.Errorf("ControlCounts (passed, failed, not checked) differ (-want +got):\n%s", diff)
	}
}

// every is cs for every control; CIS 1.6's why starts with
// WhyHardwareMFA.
func every(cs ControlStatus) map[string]ControlStatus {
	out := map[string]ControlStatus{}
	for _, c := range policy.Controls {
		out[c.ID] = cs
	}
	out["CIS 1.6"] = ControlStatus{Status: cs.Status, Why: policy.WhyHardwareMFA + "; " + cs.Why}
	return out
}

// with is want with control's status replaced.
func with(want map[string]ControlStatus, control string, cs ControlStatus) map[string]ControlStatus {
	want[control] = cs
	return want
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
