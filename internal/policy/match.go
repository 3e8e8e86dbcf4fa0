package policy

import (
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/inventory"
)

// ClassOf returns the name of the first class whose Match selects u, or
// DefaultClass ("human") when none does. Classes are tried in config order,
// so the first match wins.
//
// A Match selects a user when every field it sets matches (AND):
//   - Tags: every key/value pair is among the user's tags; the value "*"
//     accepts any value of that key (the key must still be present);
//   - PathPrefix: the user's IAM path starts with it;
//   - Groups: the user is in at least one of them;
//   - Names: the user name matches at least one path.Match glob.
//
// Keys, values, groups and names compare case-sensitively. A Match that
// sets nothing selects nobody.
func ClassOf(u *inventory.User, classes []config.Class) string {
	name, _ := classOf(u, classes)
	return name
}

// classOf is ClassOf, and the tags that chose the class (TagPairs of its
// Match.Tags) when its match names tags: "" when no tag took part.
func classOf(u *inventory.User, classes []config.Class) (name, fromTag string) {
	for i := range classes {
		if m := &classes[i].Match; matchUser(m, u) {
			return classes[i].Name, TagPairs(m.Tags, u.Tags)
		}
	}
	return config.DefaultClass, ""
}

// TagPairs names the tags of want as the user has them: "KEY=VALUE",
// sorted by key and joined with ", " (a wanted "*" shows the user's own
// value); "" when want is empty. The values are the user's tags: text
// from IAM, which a renderer cleans like any other.
func TagPairs(want, have map[string]string) string {
	pairs := make([]string, 0, len(want))
	for _, k := range slices.Sorted(maps.Keys(want)) {
		pairs = append(pairs, k+"="+have[k])
	}
	return strings.Join(pairs, ", ")
}

// matchUser reports whether m selects u (see ClassOf). An empty Match
// selects nobody.
func matchUser(m *config.Match, u *inventory.User) bool {
	if len(m.Tags) == 0 && m.PathPrefix == "" && len(m.Groups) == 0 && len(m.Names) == 0 {
		return false
	}
	if len(m.Tags) > 0 && !matchTags(m.Tags, u.Tags) {
		return false
	}
	if m.PathPrefix != "" && !strings.HasPrefix(u.Path, m.PathPrefix) {
		return false
	}
	if len(m.Groups) > 0 && !matchGroups(m.Groups, u.Groups) {
		return false
	}
	if len(m.Names) > 0 && !matchGlobs(m.Names, u.Name) {
		return false
	}
	return true
}

// matchTags reports whether every pair of want is among have; a wanted
// value of "*" accepts any value of a present key.
func matchTags(want, have map[string]string) bool {
	for k, v := range want {
		got, ok := have[k]
		if !ok || (v != "*" && got != v) {
			return false
		}
	}
	return true
}

// matchGroups reports whether the user is in any of the wanted groups.
func matchGroups(want, have []string) bool {
	for _, g := range want {
		if slices.Contains(have, g) {
			return true
		}
	}
	return false
}

// matchGlobs reports whether name matches any of the path.Match patterns.
// A malformed pattern matches nothing (config.Validate rejects them).
func matchGlobs(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, err := path.Match(p, name); err == nil && ok {
			return true
		}
	}
	return false
}

// matchExemption reports whether ex selects the finding of rule on user u
// in account, ignoring Until. Every selector ex sets must match: Users
// (any glob), Tags (every pair, "*" any value), Groups (any), and, when
// set, Accounts must contain the account and Rules the rule. An exemption
// that sets none of Users, Tags and Groups selects every user (of its
// Accounts, for its Rules).
func matchExemption(ex *config.Exemption, u *inventory.User, account, rule string) bool {
	if len(ex.Users) > 0 && !matchGlobs(ex.Users, u.Name) {
		return false
	}
	if len(ex.Tags) > 0 && !matchTags(ex.Tags, u.Tags) {
		return false
	}
	if len(ex.Groups) > 0 && !matchGroups(ex.Groups, u.Groups) {
		return false
	}
	if len(ex.Accounts) > 0 && !slices.Contains(ex.Accounts, account) {
		return false
	}
	if len(ex.Rules) > 0 && !slices.Contains(ex.Rules, rule) {
		return false
	}
	return true
}

// matchCurrent reports whether ex is still in force on today (a UTC
// midnight): Until is inclusive, and an exemption without Until never
// expires.
func matchCurrent(ex *config.Exemption, today time.Time) bool {
	if ex.Until == nil {
		return true
	}
	return !today.After(utcDay(ex.Until.Time))
}

// matchExempt applies the exemptions to f (whose Account, User and Rule are
// set) and returns the note to append to its reason. The first exemption
// that selects f and is in force wins: f becomes exempt with that
// exemption's reason (plus " (until DATE)" when it has one). When none is
// in force but one selected f and has expired, f stays enforceable and the
// returned note says which exemption expired and when. An exemption that
// selects users by tags also sets f.ExemptFromTag to those tags.
func matchExempt(f *Finding, u *inventory.User, exemptions []config.Exemption, today time.Time) (note string) {
	var expired *config.Exemption
	for i := range exemptions {
		ex := &exemptions[i]
		if !matchExemption(ex, u, f.Account, f.Rule) {
			continue
		}
		if !matchCurrent(ex, today) {
			if expired == nil {
				expired = ex
			}
			continue
		}
		f.Exempt = true
		f.ExemptReason = ex.Reason
		f.ExemptFromTag = TagPairs(ex.Tags, u.Tags)
		if ex.Until != nil {
			f.ExemptReason += " (until " + ex.Until.String() + ")"
		}
		return ""
	}
	if expired != nil {
		return "; exemption expired on " + expired.Until.String() + " (" + expired.Reason + ")"
	}
	return ""
}
