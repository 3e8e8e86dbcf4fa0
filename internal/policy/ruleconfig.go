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
	case config.RuleSigningCertAge, config.RuleServiceCredentialAge:
		// A class without its own stages takes its access keys'.
		return hasStages(cfg.StagesByClass(rule))
	}
	p, ok := ruleSwitches(r)[rule]
	return ok && p.present && enabled(p.enabled)
}

// ruleSwitch is an optional rule's presence and enabled flag.
type ruleSwitch struct {
	present bool
	enabled *bool
}

// ruleSwitches are the switches of the rules that are not stage maps.
func ruleSwitches(r *config.Rules) map[string]ruleSwitch {
	sw := func(present bool, enabled func() *bool) ruleSwitch {
		if !present {
			return ruleSwitch{}
		}
		return ruleSwitch{true, enabled()}
	}
	return map[string]ruleSwitch{
		config.RuleAccessKeyUnused:         sw(r.AccessKeyUnused != nil, func() *bool { return r.AccessKeyUnused.Enabled }),
		config.RulePasswordUnused:          sw(r.PasswordUnused != nil, func() *bool { return r.PasswordUnused.Enabled }),
		config.RuleDormantUser:             sw(r.DormantUser != nil, func() *bool { return r.DormantUser.Enabled }),
		config.RuleMFAMissing:              sw(r.MFAMissing != nil, func() *bool { return r.MFAMissing.Enabled }),
		config.RuleRootAccessKey:           sw(r.RootAccessKey != nil, func() *bool { return r.RootAccessKey.Enabled }),
		config.RuleAccessKeyUnknownAge:     sw(r.AccessKeyUnknownAge != nil, func() *bool { return r.AccessKeyUnknownAge.Enabled }),
		config.RuleRootSigningCert:         sw(r.RootSigningCert != nil, func() *bool { return r.RootSigningCert.Enabled }),
		config.RuleAccessKeyAtSetup:        sw(r.AccessKeyAtSetup != nil, func() *bool { return r.AccessKeyAtSetup.Enabled }),
		config.RuleTwoActiveKeys:           sw(r.TwoActiveKeys != nil, func() *bool { return r.TwoActiveKeys.Enabled }),
		config.RuleConsoleAndKeys:          sw(r.ConsoleAndKeys != nil, func() *bool { return r.ConsoleAndKeys.Enabled }),
		config.RulePasswordExpiry:          sw(r.PasswordExpiry != nil, func() *bool { return r.PasswordExpiry.Enabled }),
		config.RuleServiceCredentialExpiry: sw(r.ServiceCredentialExpiry != nil, func() *bool { return r.ServiceCredentialExpiry.Enabled }),
		config.RuleSSHKeyAge:               sw(r.SSHKeyAge != nil, func() *bool { return r.SSHKeyAge.Enabled }),
		config.RuleRootRecentUse:           sw(r.RootRecentUse != nil, func() *bool { return r.RootRecentUse.Enabled }),
		config.RulePasswordPolicy:          sw(r.PasswordPolicy != nil, func() *bool { return r.PasswordPolicy.Enabled }),
	}
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
		s := stagesSettings(r.AccessKeyAge)
		for _, stages := range r.AccessKeyAge {
			if slices.ContainsFunc(stages, func(st config.Stage) bool { return st.Action == config.ActionRotate }) {
				return s + fmt.Sprintf("; rotate into %s, overlap %s", cfg.Rotate.SecretName, nDays(cfg.Rotate.OverlapDays))
			}
		}
		return s
	case config.RuleSigningCertAge, config.RuleServiceCredentialAge:
		own := r.SigningCertAge
		if rule == config.RuleServiceCredentialAge {
			own = r.ServiceCredentialAge
		}
		if len(own) == 0 {
			return "as access_key_age"
		}
		return stagesSettings(cfg.StagesByClass(rule))
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
		if len(m[c]) == 0 {
			parts = append(parts, c+": off")
			continue
		}
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

// Coverage says whether a config's rules check a control at the
// benchmark's threshold; Why tells a reader why not ("" when checked).
type Coverage struct {
	Checked bool
	Why     string
}

// WhyRulesOff is a control's Why when every rule that maps to it is off.
const WhyRulesOff = "its rules are turned off"

// WhyHardwareMFA is CIS 1.6's Why: it is never checked.
const WhyHardwareMFA = "keywarden cannot tell a virtual MFA device from a hardware one"

// ControlCoverage is, for every control in Controls, whether cfg's rules
// check it at the benchmark's threshold, so that finding nothing passes
// it:
//   - every rule that maps to it is off: not checked (WhyRulesOff);
//   - CIS 1.6 never is (WhyHardwareMFA): root's MFA can be virtual;
//   - CIS 1.7: root_recent_use.within below CISRootUseDays;
//   - CIS 1.8, 1.9: password_policy's min_length below
//     CISPasswordMinLength, reuse_prevention below CISPasswordReuse;
//   - CIS 1.12: access_key_unused and password_unused both on, each with
//     after at most CISUnusedDays;
//   - CIS 1.14: every class (config.DefaultClass and each of cfg's with
//     stages of its own) has an
//     access_key_age stage that an active key older than CISKeyMaxAgeDays
//     reaches (at CISKeyMaxAgeDays+1 days or less).
//
// A nil cfg (a report built without a config) counts every rule as on at
// the benchmark's thresholds.
func ControlCoverage(cfg *config.Config) map[string]Coverage {
	out := make(map[string]Coverage, len(Controls))
	for _, c := range Controls {
		on := cfg == nil
		for _, r := range Rules {
			if slices.Contains(r.Controls, c.ID) || slices.Contains(r.RootControls, c.ID) {
				on = on || RuleEnabled(cfg, r.Name)
			}
		}
		var why []string
		switch {
		case !on:
			why = []string{WhyRulesOff}
		case c.ID == "CIS 1.6":
			why = []string{WhyHardwareMFA}
		case cfg != nil:
			why = thresholdGaps(cfg, c.ID)
		}
		out[c.ID] = Coverage{Checked: len(why) == 0, Why: strings.Join(why, "; ")}
	}
	return out
}

// thresholdGaps says where cfg's rules, on for control, are laxer than the
// benchmark; none when they are not.
func thresholdGaps(cfg *config.Config, control string) []string {
	r := &cfg.Rules
	var gaps []string
	switch control {
	case "CIS 1.7":
		if w := r.RootRecentUse.Within; w < CISRootUseDays {
			gaps = append(gaps, fmt.Sprintf("root_recent_use looks back %s, the benchmark %s", nDays(w), nDays(CISRootUseDays)))
		}
	case "CIS 1.8":
		if n := r.PasswordPolicy.MinLength; n < CISPasswordMinLength {
			gaps = append(gaps, fmt.Sprintf("password_policy wants a minimum length of %d, the benchmark %d", n, CISPasswordMinLength))
		}
	case "CIS 1.9":
		if n := r.PasswordPolicy.ReusePrevention; n < CISPasswordReuse {
			gaps = append(gaps, fmt.Sprintf("password_policy wants reuse prevention of %d passwords, the benchmark %d", n, CISPasswordReuse))
		}
	case "CIS 1.12":
		for _, rule := range []string{config.RuleAccessKeyUnused, config.RulePasswordUnused} {
			u := map[string]*config.UnusedRule{config.RuleAccessKeyUnused: r.AccessKeyUnused, config.RulePasswordUnused: r.PasswordUnused}[rule]
			switch {
			case !RuleEnabled(cfg, rule):
				gaps = append(gaps, rule+" is turned off")
			case u.After > CISUnusedDays:
				gaps = append(gaps, fmt.Sprintf("%s reports after %s, the benchmark after %s", rule, nDays(u.After), nDays(CISUnusedDays)))
			}
		}
	case "CIS 1.14":
		// A class without stages of its own has DefaultClass's (StagesOf).
		classes := []string{config.DefaultClass}
		for _, c := range cfg.Classes {
			if _, own := r.AccessKeyAge[c.Name]; own && !slices.Contains(classes, c.Name) {
				classes = append(classes, c.Name)
			}
		}
		for _, class := range classes {
			stages := r.StagesOf(config.RuleAccessKeyAge, class)
			// The first age that fails is CISKeyMaxAgeDays+1.
			if !slices.ContainsFunc(stages, func(s config.Stage) bool { return s.At <= CISKeyMaxAgeDays+1 }) {
				first := "no access_key_age stage"
				if len(stages) > 0 {
					first = fmt.Sprintf("no access_key_age stage before %s", nDays(slices.MinFunc(stages, func(a, b config.Stage) int { return a.At - b.At }).At))
				}
				gaps = append(gaps, fmt.Sprintf("class %s has %s; the benchmark fails keys older than %s", class, first, nDays(CISKeyMaxAgeDays)))
			}
		}
	}
	return gaps
}
