package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/keywarden/keywarden/internal/config"
)

// RuleEnabled reports whether cfg turns rule on: a rule with settings
// (a pointer set, a stage map with stages) is on unless it says
// enabled: false; a rule cfg leaves out is off. An unknown name is off.
func RuleEnabled(cfg *config.Config, rule string) bool {
	if cfg == nil {
		return false
	}
	r := &cfg.Rules
	switch rule {
	case config.RuleAccessKeyAge:
		return hasStages(r.AccessKeyAge)
	case config.RuleSigningCertAge:
		return hasStages(r.SigningCertAge)
	case config.RuleServiceCredentialAge:
		return hasStages(r.ServiceCredentialAge)
	}
	if p, ok := ruleEnabledField(r, rule); ok {
		return p.present && enabled(p.enabled)
	}
	return false
}

// ruleSwitch is an optional rule's presence and enabled flag.
type ruleSwitch struct {
	present bool
	enabled *bool
}

// ruleEnabledField finds the optional rule's switch in r.
func ruleEnabledField(r *config.Rules, rule string) (ruleSwitch, bool) {
	flag := func(f *config.FlagRule) ruleSwitch {
		if f == nil {
			return ruleSwitch{}
		}
		return ruleSwitch{true, f.Enabled}
	}
	unused := func(u *config.UnusedRule) ruleSwitch {
		if u == nil {
			return ruleSwitch{}
		}
		return ruleSwitch{true, u.Enabled}
	}
	switch rule {
	case config.RuleAccessKeyUnused:
		return unused(r.AccessKeyUnused), true
	case config.RulePasswordUnused:
		return unused(r.PasswordUnused), true
	case config.RuleDormantUser:
		return unused(r.DormantUser), true
	case config.RuleMFAMissing:
		return flag(r.MFAMissing), true
	case config.RuleRootAccessKey:
		return flag(r.RootAccessKey), true
	case config.RuleAccessKeyUnknownAge:
		return flag(r.AccessKeyUnknownAge), true
	case config.RuleRootSigningCert:
		return flag(r.RootSigningCert), true
	case config.RuleAccessKeyAtSetup:
		return flag(r.AccessKeyAtSetup), true
	case config.RuleTwoActiveKeys:
		return flag(r.TwoActiveKeys), true
	case config.RuleConsoleAndKeys:
		return flag(r.ConsoleAndKeys), true
	case config.RulePasswordExpiry:
		if r.PasswordExpiry == nil {
			return ruleSwitch{}, true
		}
		return ruleSwitch{true, r.PasswordExpiry.Enabled}, true
	case config.RuleServiceCredentialExpiry:
		if r.ServiceCredentialExpiry == nil {
			return ruleSwitch{}, true
		}
		return ruleSwitch{true, r.ServiceCredentialExpiry.Enabled}, true
	case config.RuleSSHKeyAge:
		if r.SSHKeyAge == nil {
			return ruleSwitch{}, true
		}
		return ruleSwitch{true, r.SSHKeyAge.Enabled}, true
	case config.RuleRootRecentUse:
		if r.RootRecentUse == nil {
			return ruleSwitch{}, true
		}
		return ruleSwitch{true, r.RootRecentUse.Enabled}, true
	case config.RulePasswordPolicy:
		if r.PasswordPolicy == nil {
			return ruleSwitch{}, true
		}
		return ruleSwitch{true, r.PasswordPolicy.Enabled}, true
	}
	return ruleSwitch{}, false
}

func hasStages(m map[string][]config.Stage) bool {
	for _, st := range m {
		if len(st) > 0 {
			return true
		}
	}
	return false
}

// RuleSettings describes rule's settings in cfg for people: "after 45
// days, notify, medium", "human: 70d notify medium, 80d disable high;
// machine: …", "-" when cfg leaves the rule out. A severity left to the
// rule's own default is not shown.
func RuleSettings(cfg *config.Config, rule string) string {
	if cfg == nil {
		return "-"
	}
	r := &cfg.Rules
	out := func(parts ...string) string {
		parts = slices.DeleteFunc(parts, func(s string) bool { return s == "" })
		if len(parts) == 0 {
			return "-"
		}
		return strings.Join(parts, ", ")
	}
	days := func(format string, n int) string { return fmt.Sprintf(format, nDays(n)) }
	withAction := func(action, severity string) []string {
		a := actionOf(action)
		return []string{a, severityOf(severity, a)}
	}
	switch rule {
	case config.RuleAccessKeyAge:
		return stagesSettings(r.AccessKeyAge)
	case config.RuleSigningCertAge:
		return stagesSettings(r.SigningCertAge)
	case config.RuleServiceCredentialAge:
		return stagesSettings(r.ServiceCredentialAge)
	case config.RuleAccessKeyUnused, config.RulePasswordUnused, config.RuleDormantUser:
		u := map[string]*config.UnusedRule{
			config.RuleAccessKeyUnused: r.AccessKeyUnused, config.RulePasswordUnused: r.PasswordUnused, config.RuleDormantUser: r.DormantUser,
		}[rule]
		if u == nil {
			return "-"
		}
		return out(append([]string{days("after %s", u.After)}, withAction(u.Action, u.Severity)...)...)
	case config.RulePasswordExpiry:
		if e := r.PasswordExpiry; e != nil {
			maxAge := ""
			if e.MaxAge > 0 {
				maxAge = days("max age %s without a policy", e.MaxAge)
			}
			return out(days("warn %s before", e.WarnBefore), maxAge, e.Severity)
		}
	case config.RuleServiceCredentialExpiry:
		if e := r.ServiceCredentialExpiry; e != nil {
			return out(days("warn %s before", e.WarnBefore), e.Severity)
		}
	case config.RuleSSHKeyAge:
		if s := r.SSHKeyAge; s != nil {
			return out(days("max age %s", s.MaxAge), "users "+matchSettings(s.Users), s.Severity)
		}
	case config.RuleRootRecentUse:
		if s := r.RootRecentUse; s != nil {
			return out(days("used within %s", s.Within), s.Severity)
		}
	case config.RulePasswordPolicy:
		if s := r.PasswordPolicy; s != nil {
			return out(fmt.Sprintf("min length %d", s.MinLength), fmt.Sprintf("reuse prevention %d", s.ReusePrevention), s.Severity)
		}
	default:
		flags := map[string]*config.FlagRule{
			config.RuleMFAMissing: r.MFAMissing, config.RuleRootAccessKey: r.RootAccessKey, config.RuleAccessKeyUnknownAge: r.AccessKeyUnknownAge,
			config.RuleRootSigningCert: r.RootSigningCert, config.RuleAccessKeyAtSetup: r.AccessKeyAtSetup,
			config.RuleTwoActiveKeys: r.TwoActiveKeys, config.RuleConsoleAndKeys: r.ConsoleAndKeys,
		}
		if f := flags[rule]; f != nil {
			return out(withAction(f.Action, f.Severity)...)
		}
	}
	return "-"
}

// stagesSettings is "human: 70d notify medium, 80d disable high; machine:
// …", classes in name order.
func stagesSettings(m map[string][]config.Stage) string {
	if !hasStages(m) {
		return "-"
	}
	classes := make([]string, 0, len(m))
	for c := range m {
		classes = append(classes, c)
	}
	slices.Sort(classes)
	var parts []string
	for _, c := range classes {
		var st []string
		for _, s := range m[c] {
			a := actionOf(s.Action)
			st = append(st, fmt.Sprintf("%dd %s %s", s.At, a, severityOf(s.Severity, a)))
		}
		parts = append(parts, c+": "+strings.Join(st, ", "))
	}
	return strings.Join(parts, "; ")
}

// matchSettings describes a user selection: "names ci-*, groups git".
func matchSettings(m config.Match) string {
	var parts []string
	if len(m.Names) > 0 {
		parts = append(parts, "names "+strings.Join(m.Names, " "))
	}
	if len(m.Groups) > 0 {
		parts = append(parts, "groups "+strings.Join(m.Groups, " "))
	}
	if m.PathPrefix != "" {
		parts = append(parts, "path "+m.PathPrefix)
	}
	if len(m.Tags) > 0 {
		keys := make([]string, 0, len(m.Tags))
		for k := range m.Tags {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			keys[i] = k + "=" + m.Tags[k]
		}
		parts = append(parts, "tags "+strings.Join(keys, " "))
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, " and ")
}
