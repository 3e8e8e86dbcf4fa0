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
