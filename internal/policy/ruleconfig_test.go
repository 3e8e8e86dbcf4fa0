package policy

import (
	"testing"

	"github.com/keywarden/keywarden/internal/config"
)

// TestRuleEnabled: a rule is on when its settings are present and do not
// say enabled: false; a stage rule when some class has stages; every
// rule of the catalogue is known.
func TestRuleEnabled(t *testing.T) {
	on, off := true, false
	cfg := &config.Config{Rules: config.Rules{
		AccessKeyAge:     map[string][]config.Stage{"human": {{At: 90}}},
		SigningCertAge:   map[string][]config.Stage{"human": nil},
		AccessKeyUnused:  &config.UnusedRule{After: 45},
		PasswordUnused:   &config.UnusedRule{Enabled: &off, After: 90},
		MFAMissing:       &config.FlagRule{Enabled: &on},
		SSHKeyAge:        &config.SSHKeyRule{MaxAge: 90},
		RootRecentUse:    &config.RecentUseRule{Enabled: &off, Within: 7},
		PasswordPolicy:   &config.PasswordPolicyRule{MinLength: 14},
		AccessKeyAtSetup: &config.FlagRule{},
	}}
	want := map[string]bool{
		// service_credential_age, left out, takes the access keys' stages;
		// signing_certificate_age's human entry is empty: off.
		config.RuleAccessKeyAge: true, config.RuleSigningCertAge: false, config.RuleServiceCredentialAge: true,
		config.RuleAccessKeyUnused: true, config.RulePasswordUnused: false, config.RuleMFAMissing: true,
		config.RuleSSHKeyAge: true, config.RuleRootRecentUse: false, config.RulePasswordPolicy: true,
		config.RuleAccessKeyAtSetup: true, config.RuleTwoActiveKeys: false, config.RuleDormantUser: false,
	}
	for _, r := range Rules {
		got := RuleEnabled(cfg, r.Name)
		if w, ok := want[r.Name]; ok && got != w {
			t.Errorf("RuleEnabled(%s) = %v; want %v", r.Name, got, w)
		}
		if _, known := ruleSwitches(&cfg.Rules)[r.Name]; !known && !isStageRule(r.Name) {
			t.Errorf("rule %s has no switch in RuleEnabled", r.Name)
		}
	}
	if RuleEnabled(cfg, "no_such_rule") || RuleEnabled(nil, config.RuleAccessKeyAge) {
		t.Error("RuleEnabled of an unknown rule or a nil config = true; want false")
	}
}

func isStageRule(name string) bool {
	return name == config.RuleAccessKeyAge || name == config.RuleSigningCertAge || name == config.RuleServiceCredentialAge
}

// TestRuleSettings describes each kind of rule's settings.
func TestRuleSettings(t *testing.T) {
	cfg := &config.Config{Rules: config.Rules{
		AccessKeyAge: map[string][]config.Stage{
			"machine": {{At: 90, Action: config.ActionNotify, Severity: config.SeverityCritical}},
			"human":   {{At: 70}, {At: 80, Action: config.ActionDisable}},
		},
		AccessKeyUnused:         &config.UnusedRule{After: 45, Action: config.ActionNotify, Severity: config.SeverityMedium},
		PasswordExpiry:          &config.ExpiryRule{WarnBefore: 14, MaxAge: 90, Severity: config.SeverityMedium},
		ServiceCredentialExpiry: &config.WarnRule{WarnBefore: 1},
		SSHKeyAge:               &config.SSHKeyRule{MaxAge: 365, Users: config.Match{Names: []string{"git-*"}, Groups: []string{"dev"}}},
		RootRecentUse:           &config.RecentUseRule{Within: 7, Severity: config.SeverityCritical},
		PasswordPolicy:          &config.PasswordPolicyRule{MinLength: 14, ReusePrevention: 24},
		ConsoleAndKeys:          &config.FlagRule{Severity: config.SeverityInfo},
		TwoActiveKeys:           &config.FlagRule{},
		ServiceCredentialAge:    map[string][]config.Stage{"human": {}},
	}}
	for rule, want := range map[string]string{
		config.RuleAccessKeyAge:            "human: 70d notify medium, 80d disable high; machine: 90d notify critical",
		config.RuleAccessKeyUnused:         "after 45 days, notify, medium",
		config.RulePasswordExpiry:          "warn 14 days before, max age 90 days without a policy, medium",
		config.RuleServiceCredentialExpiry: "warn 1 day before",
		config.RuleSSHKeyAge:               "max age 365 days, users names git-* and groups dev",
		config.RuleRootRecentUse:           "used within 7 days, critical",
		config.RulePasswordPolicy:          "min length 14, reuse prevention 24",
		config.RuleConsoleAndKeys:          "notify, info",
		config.RuleTwoActiveKeys:           "notify, medium",
		config.RuleDormantUser:             "-",
		config.RuleSigningCertAge:          "as access_key_age",
		config.RuleServiceCredentialAge:    "human: off; machine: 90d notify critical",
	} {
		if got := RuleSettings(cfg, rule); got != want {
			t.Errorf("RuleSettings(%s) = %q; want %q", rule, got, want)
		}
	}
}

// TestRuleSettingsRotate: access_key_age with a rotate stage says where
// the rotation writes and how long the keys overlap.
func TestRuleSettingsRotate(t *testing.T) {
	cfg := &config.Config{
		Rules:  config.Rules{AccessKeyAge: map[string][]config.Stage{"machine": {{At: 80, Action: config.ActionRotate}}}},
		Rotate: config.Rotate{SecretName: config.DefaultSecretName, OverlapDays: 7},
	}
	want := "machine: 80d rotate medium; rotate into keywarden/{user}, overlap 7 days"
	if got := RuleSettings(cfg, config.RuleAccessKeyAge); got != want {
		t.Errorf("RuleSettings(access_key_age) = %q; want %q", got, want)
	}
}

// TestControlCoverage: the default config is at the benchmark's
// thresholds and checks every control but CIS 1.6, which nothing can;
// each setting laxer than the benchmark, or a rule off, leaves its control
// unchecked with a why that names it; nil counts every rule as on.
func TestControlCoverage(t *testing.T) {
	strict := config.Default
	for name, cfg := range map[string]*config.Config{"default": strict(), "nil": nil} {
		for _, c := range Controls {
			want := Coverage{Checked: true}
			if c.ID == "CIS 1.6" {
				want = Coverage{Why: WhyHardwareMFA}
			}
			if got := ControlCoverage(cfg)[c.ID]; got != want {
				t.Errorf("%s config: %s = %+v; want %+v", name, c.ID, got, want)
			}
		}
	}
	off := false
	tests := []struct {
		name    string
		mutate  func(r *config.Rules)
		control string
		why     string
	}{
		{"password_unused after 90", func(r *config.Rules) { r.PasswordUnused.After = 90 }, "CIS 1.12",
			"password_unused reports after 90 days, the benchmark after 45 days"},
		{"mfa_missing off", func(r *config.Rules) { r.MFAMissing.Enabled = &off }, "CIS 1.6", WhyRulesOff},
		{"mfa_missing off", func(r *config.Rules) { r.MFAMissing.Enabled = &off }, "CIS 1.10", WhyRulesOff},
		{"both unused rules off", func(r *config.Rules) { r.PasswordUnused, r.AccessKeyUnused = nil, nil }, "CIS 1.12", WhyRulesOff},
		{"root_recent_use within 6", func(r *config.Rules) { r.RootRecentUse.Within = 6 }, "CIS 1.7",
			"root_recent_use looks back 6 days, the benchmark 7 days"},
		{"min_length 13", func(r *config.Rules) { r.PasswordPolicy.MinLength = 13 }, "CIS 1.8",
			"password_policy wants a minimum length of 13, the benchmark 14"},
		{"reuse_prevention 23", func(r *config.Rules) { r.PasswordPolicy.ReusePrevention = 23 }, "CIS 1.9",
			"password_policy wants reuse prevention of 23 passwords, the benchmark 24"},
		{"password_unused after 46", func(r *config.Rules) { r.PasswordUnused.After = 46 }, "CIS 1.12",
			"password_unused reports after 46 days, the benchmark after 45 days"},
		{"access_key_unused off", func(r *config.Rules) { r.AccessKeyUnused.Enabled = &off }, "CIS 1.12",
			"access_key_unused is turned off"},
		{"access_key_age's first stage at 92", func(r *config.Rules) {
			r.AccessKeyAge = map[string][]config.Stage{config.DefaultClass: {{At: 92}}}
		}, "CIS 1.14", "class human has no access_key_age stage before 92 days; the benchmark fails keys older than 90 days"},
		{"a class without access_key_age stages", func(r *config.Rules) { r.AccessKeyAge["machine"] = nil }, "CIS 1.14",
			"class machine has no access_key_age stage; the benchmark fails keys older than 90 days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := strict()
			tt.mutate(&cfg.Rules)
			if got, want := ControlCoverage(cfg)[tt.control], (Coverage{Why: tt.why}); got != want {
				t.Errorf("%s = %+v; want %+v", tt.control, got, want)
			}
		})
	}
	// A stage at 91 days reaches every key that fails CIS 1.14.
	cfg := strict()
	cfg.Rules.AccessKeyAge = map[string][]config.Stage{config.DefaultClass: {{At: 91}}}
	if got := ControlCoverage(cfg)["CIS 1.14"]; !got.Checked {
		t.Errorf("CIS 1.14 with a stage at 91 days = %+v; want checked", got)
	}
}
