package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
)

// Relaxed is a user whose enforcement a tag relaxed: a tag chose a class
// whose access-key stages are softer than the default class's, or an
// exemption selected the user through a tag. Users can often tag
// themselves (iam:TagUser), so the admins are told who.
type Relaxed struct {
	Account string `json:"account"`
	User    string `json:"user"`
	// Reason says what the tags decided: "class machine from tag
	// UserType=machine: its access keys are never disabled (human: at 80
	// days) …; exempt from tag keywarden:exempt=true (managed elsewhere)
	// for access_key_age".
	Reason string `json:"reason"`
}

// actionLevel orders what a stage does to an active key: told, disabled,
// deleted (which disables an active key first).
var actionLevel = map[string]int{config.ActionNotify: 1, config.ActionDisable: 2, config.ActionDelete: 3}

// softer says how class's access_key_age stages are softer than the
// default class's — a level (reported, disabled, deleted) reached later, or
// never — or "" when they are not: "its access keys are never disabled
// (human: at 80 days)".
func (b *builder) softer(class string) string {
	if class == config.DefaultClass {
		return ""
	}
	if _, own := b.cfg.Rules.AccessKeyAge[class]; !own {
		return "" // the default class's stages
	}
	// reach is the first day at which stages reach level, if ever.
	reach := func(stages []config.Stage, level int) (int, bool) {
		for _, s := range stages { // sorted by At
			if actionLevel[s.Action] >= level {
				return s.At, true
			}
		}
		return 0, false
	}
	base, own := b.stagesOf(config.RuleAccessKeyAge, config.DefaultClass), b.stagesOf(config.RuleAccessKeyAge, class)
	var parts []string
	for level, what := range []string{1: "first reported", 2: "disabled", 3: "deleted"} {
		if level == 0 {
			continue
		}
		want, ok := reach(base, level)
		if !ok {
			continue
		}
		switch got, ok := reach(own, level); {
		case !ok:
			parts = append(parts, fmt.Sprintf("never %s (%s: at %d days)", what, config.DefaultClass, want))
		case got > want:
			parts = append(parts, fmt.Sprintf("%s at %d days (%s: at %d)", what, got, config.DefaultClass, want))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "its access keys are " + strings.Join(parts, ", ")
}

// relaxed lists, by account and user, the users of planned accounts whose
// enforcement a tag relaxed (see Relaxed).
func (b *builder) relaxed(findings []policy.Finding) []Relaxed {
	type user struct {
		class             string
		exemptTag, reason string
		exemptRules       []string
	}
	var keys [][2]string
	users := map[[2]string]*user{}
	for _, f := range findings {
		if _, ok := b.ok[f.Account]; !ok {
			continue
		}
		k := [2]string{f.Account, f.User}
		u := users[k]
		if u == nil {
			u = &user{}
			users[k], keys = u, append(keys, k)
		}
		if f.ClassFromTag != "" && u.class == "" {
			if how := b.softer(f.Class); how != "" {
				u.class = fmt.Sprintf("class %s from tag %s: %s", f.Class, f.ClassFromTag, how)
			}
		}
		if f.Exempt && f.ExemptFromTag != "" && !slices.Contains(u.exemptRules, f.Rule) {
			if u.exemptTag == "" {
				u.exemptTag, u.reason = f.ExemptFromTag, f.ExemptReason
			}
			u.exemptRules = append(u.exemptRules, f.Rule)
		}
	}
	out := []Relaxed{}
	for _, k := range keys {
		u := users[k]
		var parts []string
		if u.class != "" {
			parts = append(parts, u.class)
		}
		if u.exemptTag != "" {
			slices.Sort(u.exemptRules)
			parts = append(parts, fmt.Sprintf("exempt from tag %s (%s) for %s", u.exemptTag, u.reason, strings.Join(u.exemptRules, ", ")))
		}
		if len(parts) > 0 {
			out = append(out, Relaxed{Account: k[0], User: k[1], Reason: strings.Join(parts, "; ")})
		}
	}
	return out
}
