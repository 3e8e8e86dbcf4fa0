package policy_test

import (
	"cmp"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/policy"
)

func TestClassOf(t *testing.T) {
	classes := []config.Class{
		{Name: "empty", Match: config.Match{}}, // matches nobody
		{Name: "machine", Match: config.Match{Tags: map[string]string{"UserType": "machine"}}},
		{Name: "service", Match: config.Match{PathPrefix: "/service/"}},
		{Name: "ops", Match: config.Match{Groups: []string{"ops", "admins"}}},
		{Name: "bots", Match: config.Match{Names: []string{"bot-*", "*-ci"}}},
		{Name: "team", Match: config.Match{Tags: map[string]string{"Team": "*"}}},
		{Name: "prod-x", Match: config.Match{Tags: map[string]string{"Env": "prod", "Tier": "1"}, PathPrefix: "/x/"}},
	}
	tests := []struct {
		name string
		user inventory.User
		want string
	}{
		{"nothing matches: human", inventory.User{Name: "alice", Path: "/"}, "human"},
		{"tag", inventory.User{Name: "a", Path: "/", Tags: map[string]string{"UserType": "machine"}}, "machine"},
		{"tag value compared exactly", inventory.User{Name: "a", Path: "/", Tags: map[string]string{"UserType": "Machine"}}, "human"},
		{"first match wins", inventory.User{Name: "bot-1", Path: "/service/", Groups: []string{"ops"}, Tags: map[string]string{"UserType": "machine"}}, "machine"},
		{"path prefix", inventory.User{Name: "a", Path: "/service/payments/"}, "service"},
		{"path prefix must be a prefix", inventory.User{Name: "a", Path: "/x/service/"}, "human"},
		{"path prefix before groups", inventory.User{Name: "a", Path: "/service/", Groups: []string{"ops"}}, "service"},
		{"any group", inventory.User{Name: "a", Path: "/", Groups: []string{"dev", "admins"}}, "ops"},
		{"other groups", inventory.User{Name: "a", Path: "/", Groups: []string{"dev"}}, "human"},
		{"name glob prefix", inventory.User{Name: "bot-deploy", Path: "/"}, "bots"},
		{"name glob suffix", inventory.User{Name: "deploy-ci", Path: "/"}, "bots"},
		{"name glob no match", inventory.User{Name: "robot", Path: "/"}, "human"},
		{"tag * any value", inventory.User{Name: "a", Path: "/", Tags: map[string]string{"Team": "payments"}}, "team"},
		{"tag * needs the key", inventory.User{Name: "a", Path: "/", Tags: map[string]string{"team": "payments"}}, "human"},
		{"all fields AND: all match", inventory.User{Name: "a", Path: "/x/", Tags: map[string]string{"Env": "prod", "Tier": "1"}}, "prod-x"},
		{"all fields AND: path missing", inventory.User{Name: "a", Path: "/", Tags: map[string]string{"Env": "prod", "Tier": "1"}}, "human"},
		{"all tag pairs must match", inventory.User{Name: "a", Path: "/x/", Tags: map[string]string{"Env": "prod"}}, "human"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := policy.ClassOf(&tt.user, classes); got != tt.want {
				t.Errorf("ClassOf(%+v) = %q; want %q", tt.user, got, tt.want)
			}
		})
	}
	if got := policy.ClassOf(&inventory.User{Name: "a", Tags: map[string]string{"UserType": "machine"}}, nil); got != config.DefaultClass {
		t.Errorf("ClassOf(no classes) = %q; want %q", got, config.DefaultClass)
	}
}

func TestEvaluateExemptions(t *testing.T) {
	day := func(s string) *config.Date {
		d, err := config.ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		return &d
	}
	// ci-legacy has a 95-day active key that was never used: an
	// access_key_age (delete) and an access_key_unused finding.
	user := inventory.User{
		Name:       "ci-legacy",
		Path:       "/",
		Tags:       map[string]string{"Email": "ci@example.com", "keywarden:exempt": "true"},
		Groups:     []string{"ci"},
		AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true, CreatedAt: daysAgo(95)}},
	}
	type result struct {
		exempt bool
		reason string // ExemptReason when exempt; the end of Reason otherwise
	}
	none := result{}
	tests := []struct {
		name       string
		now        time.Time
		exemptions []config.Exemption
		age        result // access_key_age
		unused     result // access_key_unused
	}{
		{name: "no exemption", age: none, unused: none},
		{name: "by user glob, no until",
			exemptions: []config.Exemption{{Users: []string{"ci-*"}, Reason: "legacy CI"}},
			age:        result{true, "legacy CI"}, unused: result{true, "legacy CI"}},
		{name: "until tomorrow",
			exemptions: []config.Exemption{{Users: []string{"ci-legacy"}, Reason: "vendor rotates", Until: day("2026-06-16")}},
			age:        result{true, "vendor rotates (until 2026-06-16)"}, unused: result{true, "vendor rotates (until 2026-06-16)"}},
		{name: "until today (inclusive)",
			exemptions: []config.Exemption{{Users: []string{"ci-legacy"}, Reason: "vendor rotates", Until: day("2026-06-15")}},
			age:        result{true, "vendor rotates (until 2026-06-15)"}, unused: result{true, "vendor rotates (until 2026-06-15)"}},
		{name: "until today, late in the UTC day",
			now:        time.Date(2026, 6, 15, 23, 59, 59, 0, time.UTC),
			exemptions: []config.Exemption{{Users: []string{"ci-legacy"}, Reason: "vendor rotates", Until: day("2026-06-15")}},
			age:        result{true, "vendor rotates (until 2026-06-15)"}, unused: result{true, "vendor rotates (until 2026-06-15)"}},
		{name: "until yesterday: expired",
			exemptions: []config.Exemption{{Users: []string{"ci-legacy"}, Reason: "vendor rotates", Until: day("2026-06-14")}},
			age:        result{false, "; exemption expired on 2026-06-14 (vendor rotates)"},
			unused:     result{false, "; exemption expired on 2026-06-14 (vendor rotates)"}},
		{name: "until is compared with now's UTC day",
			// 2026-06-15 22:00 in UTC-5 is 2026-06-16 03:00 UTC.
			now:        time.Date(2026, 6, 15, 22, 0, 0, 0, time.FixedZone("UTC-5", -5*3600)),
			exemptions: []config.Exemption{{Users: []string{"ci-legacy"}, Reason: "vendor rotates", Until: day("2026-06-15")}},
			age:        result{false, "; exemption expired on 2026-06-15 (vendor rotates)"},
			unused:     result{false, "; exemption expired on 2026-06-15 (vendor rotates)"}},
		{name: "by tag",
			exemptions: []config.Exemption{{Tags: map[string]string{"keywarden:exempt": "true"}, Reason: "managed elsewhere"}},
			age:        result{true, "managed elsewhere"}, unused: result{true, "managed elsewhere"}},
		{name: "by tag, other value",
			exemptions: []config.Exemption{{Tags: map[string]string{"keywarden:exempt": "false"}, Reason: "managed elsewhere"}},
			age:        none, unused: none},
		{name: "by group",
			exemptions: []config.Exemption{{Groups: []string{"ops", "ci"}, Reason: "ci group"}},
			age:        result{true, "ci group"}, unused: result{true, "ci group"}},
		{name: "every set selector must match",
			exemptions: []config.Exemption{{Users: []string{"ci-legacy"}, Groups: []string{"ops"}, Reason: "ops only"}},
			age:        none, unused: none},
		{name: "scoped to one rule",
			exemptions: []config.Exemption{{Users: []string{"ci-legacy"}, Rules: []string{config.RuleAccessKeyUnused}, Reason: "used monthly"}},
			age:        none, unused: result{true, "used monthly"}},
		{name: "scoped to this account",
			exemptions: []config.Exemption{{Users: []string{"ci-legacy"}, Accounts: []string{"111111111111", accountID}, Reason: "sandbox"}},
			age:        result{true, "sandbox"}, unused: result{true, "sandbox"}},
		{name: "scoped to another account",
			exemptions: []config.Exemption{{Users: []string{"ci-legacy"}, Accounts: []string{"111111111111"}, Reason: "sandbox"}},
			age:        none, unused: none},
		{name: "first applying exemption wins",
			exemptions: []config.Exemption{
				{Users: []string{"ci-legacy"}, Reason: "first"},
				{Tags: map[string]string{"keywarden:exempt": "true"}, Reason: "second"},
			},
			age: result{true, "first"}, unused: result{true, "first"}},
		{name: "expired first, active second: exempt by the second",
			exemptions: []config.Exemption{
				{Users: []string{"ci-legacy"}, Reason: "old", Until: day("2026-01-31")},
				{Tags: map[string]string{"keywarden:exempt": "true"}, Reason: "managed elsewhere"},
			},
			age: result{true, "managed elsewhere"}, unused: result{true, "managed elsewhere"}},
		{name: "two expired: the first is named",
			exemptions: []config.Exemption{
				{Users: []string{"ci-legacy"}, Reason: "old", Until: day("2026-01-31")},
				{Users: []string{"ci-*"}, Reason: "older", Until: day("2025-12-31")},
			},
			age:    result{false, "; exemption expired on 2026-01-31 (old)"},
			unused: result{false, "; exemption expired on 2026-01-31 (old)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = asOf
			}
			cfg := config.Default()
			cfg.Exemptions = tt.exemptions
			fs := policy.Evaluate(snapshotOf(user), cfg, now)
			for rule, want := range map[string]result{config.RuleAccessKeyAge: tt.age, config.RuleAccessKeyUnused: tt.unused} {
				f := findingOf(t, fs, "ci-legacy", rule)
				if f.Exempt != want.exempt {
					t.Errorf("Evaluate(%s) %s exempt = %v; want %v", tt.name, rule, f.Exempt, want.exempt)
				}
				if want.exempt {
					if f.ExemptReason != want.reason {
						t.Errorf("Evaluate(%s) %s exempt_reason = %q; want %q", tt.name, rule, f.ExemptReason, want.reason)
					}
				} else if f.ExemptReason != "" {
					t.Errorf("Evaluate(%s) %s exempt_reason = %q; want empty", tt.name, rule, f.ExemptReason)
				}
				if want.exempt || want.reason == "" {
					if strings.Contains(f.Reason, "exemption") {
						t.Errorf("Evaluate(%s) %s reason = %q; want no exemption note", tt.name, rule, f.Reason)
					}
				} else if !strings.HasSuffix(f.Reason, want.reason) {
					t.Errorf("Evaluate(%s) %s reason = %q; want it to end with %q", tt.name, rule, f.Reason, want.reason)
				}
				if len(f.Recipients) != 1 || f.Recipients[0] != "ci@example.com" {
					t.Errorf("Evaluate(%s) %s recipients = %v; want [ci@example.com] (exempt findings keep them)", tt.name, rule, f.Recipients)
				}
			}
		})
	}
}

// TestEvaluateMarksWhatTagsDecided: a finding names the tags that chose
// its user's class, and the tags through which an exemption selected the
// user: users can often tag themselves, so a reviewer must see it.
func TestEvaluateMarksWhatTagsDecided(t *testing.T) {
	classes := []config.Class{
		{Name: "machine", Match: config.Match{Tags: map[string]string{"UserType": "machine"}}},
		{Name: "team", Match: config.Match{Tags: map[string]string{"Team": "*"}}},
		{Name: "prod-x", Match: config.Match{Tags: map[string]string{"Tier": "1", "Env": "prod"}, PathPrefix: "/x/"}},
		{Name: "bots", Match: config.Match{Names: []string{"bot-*"}}},
	}
	exemptions := []config.Exemption{
		{Users: []string{"legacy-*"}, Reason: "by name"},
		{Tags: map[string]string{"keywarden:exempt": "true"}, Reason: "by tag", Rules: []string{config.RuleAccessKeyAge}},
		{Tags: map[string]string{"Vendor": "*"}, Groups: []string{"vendors"}, Reason: "by tag and group"},
	}
	tests := []struct {
		name                 string
		user                 inventory.User
		class, classTag      string
		exempt, exemptTag    string // for access_key_age
		unusedExempt, unused string // exempt reason and tag for access_key_unused
	}{
		{name: "no tag", user: inventory.User{Name: "alice"}, class: "human"},
		{name: "class by tag", user: inventory.User{Name: "ci", Tags: map[string]string{"UserType": "machine"}},
			class: "machine", classTag: "UserType=machine"},
		{name: "class by any value: the user's value is named",
			user:  inventory.User{Name: "p", Tags: map[string]string{"Team": "payments"}},
			class: "team", classTag: "Team=payments"},
		{name: "class by tags and path: every tag, sorted by key",
			user:  inventory.User{Name: "x", Path: "/x/", Tags: map[string]string{"Tier": "1", "Env": "prod", "Other": "y"}},
			class: "prod-x", classTag: "Env=prod, Tier=1"},
		{name: "class by name: no tag", user: inventory.User{Name: "bot-1", Tags: map[string]string{"Vendor": "acme"}},
			class: "bots"},
		{name: "exempt by name: no tag", user: inventory.User{Name: "legacy-1", Tags: map[string]string{"keywarden:exempt": "true"}},
			class: "human", exempt: "by name", unusedExempt: "by name"},
		{name: "exempt by tag, for one rule",
			user:  inventory.User{Name: "self", Tags: map[string]string{"keywarden:exempt": "true", "UserType": "machine"}},
			class: "machine", classTag: "UserType=machine", exempt: "by tag", exemptTag: "keywarden:exempt=true"},
		{name: "exempt by tag and group",
			user:  inventory.User{Name: "v", Groups: []string{"vendors"}, Tags: map[string]string{"Vendor": "acme"}},
			class: "human", exempt: "by tag and group", exemptTag: "Vendor=acme", unusedExempt: "by tag and group", unused: "Vendor=acme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.user
			u.Path = cmp.Or(u.Path, "/")
			// A 95-day key never used: access_key_age and access_key_unused.
			u.AccessKeys = []inventory.AccessKey{{Slot: 1, Active: true, CreatedAt: daysAgo(95)}}
			cfg := config.Default()
			cfg.Classes, cfg.Exemptions = classes, exemptions
			fs := policy.Evaluate(snapshotOf(u), cfg, asOf)
			for rule, want := range map[string][2]string{
				config.RuleAccessKeyAge:    {tt.exempt, tt.exemptTag},
				config.RuleAccessKeyUnused: {tt.unusedExempt, tt.unused},
			} {
				f := findingOf(t, fs, u.Name, rule)
				if f.Class != tt.class || f.ClassFromTag != tt.classTag {
					t.Errorf("%s: class %q from tag %q; want %q from tag %q", rule, f.Class, f.ClassFromTag, tt.class, tt.classTag)
				}
				if f.ExemptReason != want[0] || f.ExemptFromTag != want[1] {
					t.Errorf("%s: exempt %q from tag %q; want %q from tag %q", rule, f.ExemptReason, f.ExemptFromTag, want[0], want[1])
				}
			}
		})
	}
}
