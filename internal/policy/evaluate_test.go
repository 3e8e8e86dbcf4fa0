package policy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/golden"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/policy"
)

// asOf is the "now" of every evaluation test: 2026-06-15 12:00 UTC.
var asOf = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

// daysAgo is exactly n days before asOf.
func daysAgo(n int) time.Time { return asOf.Add(-time.Duration(n) * 24 * time.Hour) }

// accountID is the account of every test snapshot.
const accountID = "123456789012"

// snapshotOf is a snapshot of accountID holding users, with a password
// policy that meets CIS 1.8 and 1.9 (so password_policy finds nothing) and
// sets no maximum age.
func snapshotOf(users ...inventory.User) *inventory.Snapshot {
	return &inventory.Snapshot{
		AccountID:           accountID,
		AccountAlias:        "acme-prod",
		Users:               users,
		PasswordPolicy:      &inventory.PasswordPolicy{MinimumLength: 14, ReusePrevention: 24},
		PasswordPolicyKnown: true,
	}
}

// brief is a one-line summary of a finding for table tests.
func brief(f policy.Finding) string {
	next := "-"
	if f.NextStageOn != nil {
		next = f.NextStageOn.String()
	}
	s := fmt.Sprintf("%s %s/%s slot=%d age=%d at=%d %s %s next=%s",
		f.User, f.Rule, f.Credential, f.Slot, f.AgeDays, f.StageAt, f.Action, f.Severity, next)
	if f.DaysLeft != nil {
		s += fmt.Sprintf(" left=%d", *f.DaysLeft)
	}
	if f.Exempt {
		s += " exempt"
	}
	return s
}

// onlyRule returns the briefs of the findings of rule.
func onlyRule(fs []policy.Finding, rule string) []string {
	var out []string
	for _, f := range fs {
		if f.Rule == rule {
			out = append(out, brief(f))
		}
	}
	return out
}

// findingOf returns the only finding of rule for user, failing otherwise.
func findingOf(t *testing.T, fs []policy.Finding, user, rule string) policy.Finding {
	t.Helper()
	var got []policy.Finding
	for _, f := range fs {
		if f.User == user && f.Rule == rule {
			got = append(got, f)
		}
	}
	if len(got) != 1 {
		t.Fatalf("Evaluate() has %d %s findings for %s; want 1 (all: %v)", len(got), rule, user, briefs(fs))
	}
	return got[0]
}

func briefs(fs []policy.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = brief(f)
	}
	return out
}

// accessKey is an access key created age days before asOf, used yesterday.
func accessKey(slot, age int, active bool) inventory.AccessKey {
	return inventory.AccessKey{Slot: slot, Active: active, CreatedAt: daysAgo(age), LastUsedAt: daysAgo(1)}
}

func TestEvaluateAccessKeyAge(t *testing.T) {
	machine := map[string]string{"UserType": "machine"}
	tests := []struct {
		name string
		tags map[string]string
		key  inventory.AccessKey
		want []string
	}{
		{"human 69 days", nil, accessKey(1, 69, true), nil},
		{"human 69 days 23h59m is still 69", nil, inventory.AccessKey{Slot: 1, Active: true, CreatedAt: daysAgo(70).Add(time.Minute)}, nil},
		{"human 70 days", nil, accessKey(1, 70, true), []string{"u access_key_age/access_key slot=1 age=70 at=70 notify medium next=2026-06-25"}},
		{"human 79 days", nil, accessKey(1, 79, true), []string{"u access_key_age/access_key slot=1 age=79 at=70 notify medium next=2026-06-16"}},
		{"human 80 days", nil, accessKey(1, 80, true), []string{"u access_key_age/access_key slot=1 age=80 at=80 disable high next=2026-06-25"}},
		{"human 89 days", nil, accessKey(1, 89, true), []string{"u access_key_age/access_key slot=1 age=89 at=80 disable high next=2026-06-16"}},
		{"human 90 days", nil, accessKey(1, 90, true), []string{"u access_key_age/access_key slot=1 age=90 at=90 delete high next=-"}},
		{"human 400 days", nil, accessKey(2, 400, true), []string{"u access_key_age/access_key slot=2 age=400 at=90 delete high next=-"}},
		{"machine 69 days", machine, accessKey(1, 69, true), nil},
		{"machine 70 days", machine, accessKey(1, 70, true), []string{"u access_key_age/access_key slot=1 age=70 at=70 notify medium next=2026-06-25"}},
		{"machine 79 days", machine, accessKey(1, 79, true), []string{"u access_key_age/access_key slot=1 age=79 at=70 notify medium next=2026-06-16"}},
		{"machine 80 days", machine, accessKey(1, 80, true), []string{"u access_key_age/access_key slot=1 age=80 at=80 notify high next=2026-06-25"}},
		{"machine 89 days", machine, accessKey(1, 89, true), []string{"u access_key_age/access_key slot=1 age=89 at=80 notify high next=2026-06-16"}},
		{"machine 90 days", machine, accessKey(1, 90, true), []string{"u access_key_age/access_key slot=1 age=90 at=90 notify critical next=-"}},
		{"inactive human 85 days", nil, accessKey(1, 85, false), nil},
		{"inactive human 89 days", nil, accessKey(1, 89, false), nil},
		{"inactive human 90 days", nil, accessKey(1, 90, false), []string{"u access_key_age/access_key slot=1 age=90 at=90 delete high next=-"}},
		{"inactive human 300 days", nil, accessKey(2, 300, false), []string{"u access_key_age/access_key slot=2 age=300 at=90 delete high next=-"}},
		{"inactive machine 300 days has no delete stage", machine, accessKey(1, 300, false), nil},
		{"key without creation date", nil, inventory.AccessKey{Slot: 1, Active: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := inventory.User{Name: "u", Path: "/", CreatedAt: daysAgo(1000), Tags: tt.tags, AccessKeys: []inventory.AccessKey{tt.key}}
			got := onlyRule(policy.Evaluate(snapshotOf(u), config.Default(), asOf), config.RuleAccessKeyAge)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Evaluate(key %d days, active=%v) access_key_age mismatch (-want +got):\n%s",
					policy.AgeDays(tt.key.CreatedAt, asOf), tt.key.Active, diff)
			}
		})
	}
}

// TestEvaluateNextStageFarAhead: stage dates are date arithmetic, not a
// time.Duration of days × 24h, which overflows from 106,752 days (about
// 292 years) and gave a next_stage_on centuries in the past. Validation
// bounds day counts at 36,500; Evaluate gets the date right regardless.
func TestEvaluateNextStageFarAhead(t *testing.T) {
	cfg := config.Default()
	cfg.Rules.AccessKeyAge[config.DefaultClass] = []config.Stage{
		{At: 10, Action: config.ActionNotify}, {At: 106752, Action: config.ActionNotify},
	}
	u := inventory.User{Name: "u", Path: "/", CreatedAt: daysAgo(1000),
		AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true, CreatedAt: time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)}}}
	got := onlyRule(policy.Evaluate(snapshotOf(u), cfg, asOf), config.RuleAccessKeyAge)
	// 2026-01-01 + 106,752 days (Python: date(2026,1,1) + timedelta(106752)).
	want := []string{"u access_key_age/access_key slot=1 age=165 at=10 notify medium next=2318-04-13"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Evaluate(next stage at 106,752 days) (-want +got):\n%s", diff)
	}
}

// TestEvaluateAccessKeyUnknownAge: an active key whose creation date is
// missing, or later than both the evaluation time and the report's
// generation, has an age no rule can judge: access_key_unknown_age says so
// (notify, high) instead of leaving it silent.
func TestEvaluateAccessKeyUnknownAge(t *testing.T) {
	tests := []struct {
		name      string
		key       inventory.AccessKey
		generated time.Time // the report's generation time (zero: unknown, offline)
		want      []string
		reason    string
	}{
		{"active, no creation date", inventory.AccessKey{Slot: 1, Active: true}, time.Time{},
			[]string{"u access_key_unknown_age/access_key slot=1 age=0 at=0 notify high next=-"},
			"access key 1 is active but the credential report gives no creation date for it: its age is unknown, so no age rule can apply to it; check it and rotate it"},
		{"active, created after as-of (offline)", inventory.AccessKey{Slot: 2, Active: true, CreatedAt: asOf.Add(36 * time.Hour)}, time.Time{},
			[]string{"u access_key_unknown_age/access_key slot=2 age=0 at=0 notify high next=-"},
			"access key 2 is active but its creation date, 2026-06-17, is after 2026-06-15, the time of this evaluation: its age is unknown, so no age rule can apply to it; check it and rotate it"},
		{"active, created after the report was generated", inventory.AccessKey{Slot: 1, Active: true, CreatedAt: asOf.Add(3 * time.Hour)}, asOf.Add(time.Hour),
			[]string{"u access_key_unknown_age/access_key slot=1 age=0 at=0 notify high next=-"},
			"access key 1 is active but its creation date, 2026-06-15, is after 2026-06-15, when the credential report was generated: its age is unknown, so no age rule can apply to it; check it and rotate it"},
		{"created after as-of but before the report: a past as-of, not a bad date", inventory.AccessKey{Slot: 1, Active: true, CreatedAt: asOf.Add(time.Hour)}, asOf.Add(2 * time.Hour),
			nil, ""},
		{"created at as-of", inventory.AccessKey{Slot: 1, Active: true, CreatedAt: asOf}, time.Time{}, nil, ""},
		{"inactive, no creation date", inventory.AccessKey{Slot: 1, Active: false}, time.Time{}, nil, ""},
		{"inactive, created in the future", inventory.AccessKey{Slot: 1, Active: false, CreatedAt: asOf.AddDate(1, 0, 0)}, time.Time{}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := inventory.User{Name: "u", Path: "/", CreatedAt: daysAgo(1000), AccessKeys: []inventory.AccessKey{tt.key}}
			snap := snapshotOf(u)
			snap.ReportGeneratedAt = tt.generated
			fs := policy.Evaluate(snap, config.Default(), asOf)
			if diff := cmp.Diff(tt.want, onlyRule(fs, config.RuleAccessKeyUnknownAge)); diff != "" {
				t.Errorf("Evaluate() access_key_unknown_age (-want +got):\n%s", diff)
			}
			if tt.reason != "" {
				if f := findingOf(t, fs, "u", config.RuleAccessKeyUnknownAge); f.Reason != tt.reason || !f.KeyActive {
					t.Errorf("reason = %q (active %v); want %q", f.Reason, f.KeyActive, tt.reason)
				}
			}
		})
	}
	u := inventory.User{Name: "u", Path: "/", AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true}}}
	cfg := config.Default()
	cfg.Rules.AccessKeyUnknownAge.Severity = config.SeverityCritical
	if got := onlyRule(policy.Evaluate(snapshotOf(u), cfg, asOf), config.RuleAccessKeyUnknownAge); len(got) != 1 || !strings.Contains(got[0], " critical ") {
		t.Errorf("Evaluate(severity critical) = %v; want one critical finding", got)
	}
	off := false
	cfg.Rules.AccessKeyUnknownAge.Enabled = &off
	if got := onlyRule(policy.Evaluate(snapshotOf(u), cfg, asOf), config.RuleAccessKeyUnknownAge); got != nil {
		t.Errorf("Evaluate(rule off) = %v; want nothing", got)
	}
}

func TestEvaluateAccessKeyAgeReasons(t *testing.T) {
	u := inventory.User{Name: "u", Path: "/", AccessKeys: []inventory.AccessKey{accessKey(1, 80, true), accessKey(2, 95, false)}}
	fs := policy.Evaluate(snapshotOf(u), config.Default(), asOf)
	want := []string{
		"access key 1 is 80 days old (created 2026-03-27) and reached the 80-day stage (disable, high); next: the 90-day stage (delete, high) on 2026-06-25",
		"inactive access key 2 is 95 days old (created 2026-03-12) and reached the 90-day clean-up stage (delete, high)",
	}
	var got []string
	var active []bool
	for _, f := range fs {
		if f.Rule == config.RuleAccessKeyAge {
			got = append(got, f.Reason)
			active = append(active, f.KeyActive)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Evaluate() access_key_age reasons mismatch (-want +got):\n%s", diff)
	}
	if !cmp.Equal(active, []bool{true, false}) {
		t.Errorf("Evaluate() KeyActive = %v; want [true false] (key 1 active, key 2 inactive)", active)
	}
}

func TestEvaluateTwoKeysEachOnItsOwn(t *testing.T) {
	u := inventory.User{Name: "alice@example.com", Path: "/", AccessKeys: []inventory.AccessKey{
		accessKey(1, 95, true),
		accessKey(2, 72, true),
	}}
	fs := policy.Evaluate(snapshotOf(u), config.Default(), asOf)
	want := []string{
		"alice@example.com access_key_age/access_key slot=1 age=95 at=90 delete high next=-",
		"alice@example.com access_key_age/access_key slot=2 age=72 at=70 notify medium next=2026-06-23",
		"alice@example.com two_active_keys/user slot=0 age=72 at=0 notify medium next=-",
	}
	if diff := cmp.Diff(want, briefs(fs)); diff != "" {
		t.Errorf("Evaluate(two keys, 95 and 72 days) mismatch (-want +got):\n%s", diff)
	}
	if len(fs) == 3 {
		if !fs[0].KeyCreatedAt.Equal(daysAgo(95)) || !fs[1].KeyCreatedAt.Equal(daysAgo(72)) {
			t.Errorf("Evaluate() KeyCreatedAt = %v, %v; want %v, %v", fs[0].KeyCreatedAt, fs[1].KeyCreatedAt, daysAgo(95), daysAgo(72))
		}
		if fs[0].ID == fs[1].ID {
			t.Errorf("Evaluate() gave both keys the ID %s; want distinct IDs", fs[0].ID)
		}
		if fs[0].KeyID != "" {
			t.Errorf("Evaluate() KeyID = %q; want empty (resolved by the collector)", fs[0].KeyID)
		}
	}
}

func TestEvaluateClassWithoutTiersUsesHuman(t *testing.T) {
	cfg := config.Default()
	cfg.Classes = append(cfg.Classes, config.Class{Name: "service", Match: config.Match{PathPrefix: "/service/"}})
	u := inventory.User{Name: "svc", Path: "/service/", AccessKeys: []inventory.AccessKey{accessKey(1, 85, true)}}
	fs := policy.Evaluate(snapshotOf(u), cfg, asOf)
	f := findingOf(t, fs, "svc", config.RuleAccessKeyAge)
	if f.Class != "service" || f.Action != config.ActionDisable || f.StageAt != 80 {
		t.Errorf("Evaluate(class service without tiers, 85 days) = class %q, %s at %d; want class service, disable at 80 (human stages)",
			f.Class, f.Action, f.StageAt)
	}
}

func TestEvaluateStagesSortedByAt(t *testing.T) {
	cfg := config.Default()
	cfg.Rules.AccessKeyAge["human"] = []config.Stage{
		{At: 90, Action: config.ActionDelete},
		{At: 30, Action: config.ActionNotify, Severity: config.SeverityLow},
		{At: 60, Action: config.ActionDisable},
	}
	u := inventory.User{Name: "u", AccessKeys: []inventory.AccessKey{accessKey(1, 61, true)}}
	got := onlyRule(policy.Evaluate(snapshotOf(u), cfg, asOf), config.RuleAccessKeyAge)
	want := []string{"u access_key_age/access_key slot=1 age=61 at=60 disable high next=2026-07-14"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Evaluate(unsorted stages, 61 days) mismatch (-want +got):\n%s", diff)
	}
}

func TestEvaluateAccessKeyUnused(t *testing.T) {
	tests := []struct {
		name   string
		key    inventory.AccessKey
		want   []string
		reason string
	}{
		{"used 44 days ago", inventory.AccessKey{Slot: 1, Active: true, CreatedAt: daysAgo(60), LastUsedAt: daysAgo(44)}, nil, ""},
		{"used 45 days ago", inventory.AccessKey{Slot: 1, Active: true, CreatedAt: daysAgo(60), LastUsedAt: daysAgo(45)},
			[]string{"u access_key_unused/access_key slot=1 age=45 at=45 notify medium next=-"},
			"access key 1 was last used 45 days ago, on 2026-05-01 (limit 45 days)"},
		{"never used, created 44 days ago", inventory.AccessKey{Slot: 2, Active: true, CreatedAt: daysAgo(44)}, nil, ""},
		{"never used, created 45 days ago", inventory.AccessKey{Slot: 2, Active: true, CreatedAt: daysAgo(45)},
			[]string{"u access_key_unused/access_key slot=2 age=45 at=45 notify medium next=-"},
			"access key 2 has never been used since it was created 45 days ago, on 2026-05-01 (limit 45 days)"},
		{"inactive, never used, 60 days", inventory.AccessKey{Slot: 1, Active: false, CreatedAt: daysAgo(60)}, nil, ""},
		{"never used, no creation date", inventory.AccessKey{Slot: 1, Active: true}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := inventory.User{Name: "u", AccessKeys: []inventory.AccessKey{tt.key}}
			fs := policy.Evaluate(snapshotOf(u), config.Default(), asOf)
			if diff := cmp.Diff(tt.want, onlyRule(fs, config.RuleAccessKeyUnused)); diff != "" {
				t.Errorf("Evaluate(%s) access_key_unused mismatch (-want +got):\n%s", tt.name, diff)
			}
			if tt.reason != "" {
				if f := findingOf(t, fs, "u", config.RuleAccessKeyUnused); f.Reason != tt.reason {
					t.Errorf("Evaluate(%s) reason = %q; want %q", tt.name, f.Reason, tt.reason)
				}
			}
		})
	}
}

func TestEvaluatePasswordExpiry(t *testing.T) {
	user := func(changedDaysAgo int) inventory.User {
		return inventory.User{Name: "p", CreatedAt: daysAgo(500), PasswordEnabled: true, MFAActive: true,
			PasswordLastUsed: daysAgo(1), PasswordLastChanged: daysAgo(changedDaysAgo)}
	}
	policy60 := &inventory.PasswordPolicy{MaxPasswordAge: 60}
	tests := []struct {
		name   string
		pp     *inventory.PasswordPolicy
		known  bool
		cfg    func(*config.Config)
		user   inventory.User
		want   []string
		reason string
	}{
		{name: "account 60: 15 days left", pp: policy60, known: true, user: user(45)},
		{name: "account 60: 14 days left", pp: policy60, known: true, user: user(46),
			want:   []string{"p password_expiry/password slot=0 age=46 at=46 notify medium next=2026-06-29 left=14"},
			reason: "console password expires in 14 days, on 2026-06-29 (last changed on 2026-04-30; the account password policy's maximum age is 60 days)"},
		{name: "account 60: 1 day left", pp: policy60, known: true, user: user(59),
			want: []string{"p password_expiry/password slot=0 age=59 at=46 notify medium next=2026-06-16 left=1"}},
		{name: "account 60: expires today", pp: policy60, known: true, user: user(60),
			want:   []string{"p password_expiry/password slot=0 age=60 at=60 notify high next=- left=0"},
			reason: "console password expired today, on 2026-06-15 (last changed on 2026-04-16; the account password policy's maximum age is 60 days)"},
		{name: "account 60: expired 5 days ago", pp: policy60, known: true, user: user(65),
			want:   []string{"p password_expiry/password slot=0 age=65 at=60 notify high next=- left=-5"},
			reason: "console password expired 5 days ago, on 2026-06-10 (last changed on 2026-04-11; the account password policy's maximum age is 60 days)"},
		{name: "no policy, max_age 90: 15 days left", known: true, user: user(75)},
		{name: "no policy, max_age 90: 14 days left", known: true, user: user(76),
			want:   []string{"p password_expiry/password slot=0 age=76 at=76 notify medium next=2026-06-29 left=14"},
			reason: "console password expires in 14 days, on 2026-06-29 (last changed on 2026-03-31; keywarden's max_age of 90 days applies because the account has no password policy)"},
		{name: "no policy, max_age 90: expired", known: true, user: user(100),
			want: []string{"p password_expiry/password slot=0 age=100 at=90 notify high next=- left=-10"}},
		{name: "policy without max age uses max_age", pp: &inventory.PasswordPolicy{}, known: true, user: user(80),
			want:   []string{"p password_expiry/password slot=0 age=80 at=76 notify medium next=2026-06-25 left=10"},
			reason: "console password expires in 10 days, on 2026-06-25 (last changed on 2026-03-27; keywarden's max_age of 90 days applies because the account password policy sets no maximum age)"},
		{name: "policy unknown (offline) uses max_age", known: false, user: user(80),
			want:   []string{"p password_expiry/password slot=0 age=80 at=76 notify medium next=2026-06-25 left=10"},
			reason: "console password expires in 10 days, on 2026-06-25 (last changed on 2026-03-27; keywarden's max_age of 90 days applies because the account password policy was not read)"},
		{name: "no policy and max_age 0: off", known: true, cfg: func(c *config.Config) { c.Rules.PasswordExpiry.MaxAge = 0 }, user: user(400)},
		{name: "account policy beats max_age 0", pp: policy60, known: true, cfg: func(c *config.Config) { c.Rules.PasswordExpiry.MaxAge = 0 }, user: user(61),
			want: []string{"p password_expiry/password slot=0 age=61 at=60 notify high next=- left=-1"}},
		{name: "warn_before 0 warns only once expired", pp: policy60, known: true, cfg: func(c *config.Config) { c.Rules.PasswordExpiry.WarnBefore = 0 }, user: user(59)},
		{name: "critical severity stays critical when expired", pp: policy60, known: true,
			cfg: func(c *config.Config) { c.Rules.PasswordExpiry.Severity = config.SeverityCritical }, user: user(70),
			want: []string{"p password_expiry/password slot=0 age=70 at=60 notify critical next=- left=-10"}},
		{name: "low severity before expiry, raised to high after", pp: policy60, known: true,
			cfg: func(c *config.Config) { c.Rules.PasswordExpiry.Severity = config.SeverityLow }, user: user(50),
			want: []string{"p password_expiry/password slot=0 age=50 at=46 notify low next=2026-06-25 left=10"}},
		{name: "never changed counts from user creation", pp: policy60, known: true,
			user:   inventory.User{Name: "p", CreatedAt: daysAgo(50), PasswordEnabled: true, MFAActive: true, PasswordLastUsed: daysAgo(1)},
			want:   []string{"p password_expiry/password slot=0 age=50 at=46 notify medium next=2026-06-25 left=10"},
			reason: "console password expires in 10 days, on 2026-06-25 (never changed since the user was created on 2026-04-26; the account password policy's maximum age is 60 days)"},
		{name: "password_enabled false", pp: policy60, known: true,
			user: inventory.User{Name: "p", CreatedAt: daysAgo(500), PasswordLastChanged: daysAgo(400)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			snap := snapshotOf(tt.user)
			snap.PasswordPolicy, snap.PasswordPolicyKnown = tt.pp, tt.known
			fs := policy.Evaluate(snap, cfg, asOf)
			if diff := cmp.Diff(tt.want, onlyRule(fs, config.RulePasswordExpiry)); diff != "" {
				t.Errorf("Evaluate(%s) password_expiry mismatch (-want +got):\n%s", tt.name, diff)
			}
			if tt.reason != "" {
				if f := findingOf(t, fs, "p", config.RulePasswordExpiry); f.Reason != tt.reason {
					t.Errorf("Evaluate(%s) reason = %q; want %q", tt.name, f.Reason, tt.reason)
				}
			}
		})
	}
}

func TestEvaluatePasswordUnused(t *testing.T) {
	tests := []struct {
		name   string
		user   inventory.User
		want   []string
		reason string
	}{
		{"used 44 days ago", inventory.User{Name: "p", PasswordEnabled: true, MFAActive: true, CreatedAt: daysAgo(300), PasswordLastChanged: daysAgo(20), PasswordLastUsed: daysAgo(44)}, nil, ""},
		{"used 45 days ago", inventory.User{Name: "p", PasswordEnabled: true, MFAActive: true, CreatedAt: daysAgo(300), PasswordLastChanged: daysAgo(20), PasswordLastUsed: daysAgo(45)},
			[]string{"p password_unused/password slot=0 age=45 at=45 notify medium next=-"},
			"console password was last used 45 days ago, on 2026-05-01 (limit 45 days)"},
		{"never used, set 44 days ago", inventory.User{Name: "p", PasswordEnabled: true, MFAActive: true, CreatedAt: daysAgo(300), PasswordLastChanged: daysAgo(44)}, nil, ""},
		{"never used, set 45 days ago", inventory.User{Name: "p", PasswordEnabled: true, MFAActive: true, CreatedAt: daysAgo(300), PasswordLastChanged: daysAgo(45)},
			[]string{"p password_unused/password slot=0 age=45 at=45 notify medium next=-"},
			"console password has never been used since it was set 45 days ago, on 2026-05-01 (limit 45 days)"},
		{"never used, never changed, user 120 days old", inventory.User{Name: "p", PasswordEnabled: true, MFAActive: true, CreatedAt: daysAgo(120)},
			[]string{"p password_unused/password slot=0 age=120 at=45 notify medium next=-"},
			"console password has never been used since the user was created 120 days ago, on 2026-02-15 (limit 45 days)"},
		{"password_enabled false", inventory.User{Name: "p", CreatedAt: daysAgo(300), PasswordLastChanged: daysAgo(200), PasswordLastUsed: daysAgo(200)}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := policy.Evaluate(snapshotOf(tt.user), config.Default(), asOf)
			if diff := cmp.Diff(tt.want, onlyRule(fs, config.RulePasswordUnused)); diff != "" {
				t.Errorf("Evaluate(%s) password_unused mismatch (-want +got):\n%s", tt.name, diff)
			}
			if tt.reason != "" {
				if f := findingOf(t, fs, "p", config.RulePasswordUnused); f.Reason != tt.reason {
					t.Errorf("Evaluate(%s) reason = %q; want %q", tt.name, f.Reason, tt.reason)
				}
			}
		})
	}
}

func TestEvaluateMFAMissing(t *testing.T) {
	removePassword := func(c *config.Config) {
		c.Rules.MFAMissing.Action = config.ActionRemovePassword
		c.Rules.MFAMissing.Severity = ""
	}
	tests := []struct {
		name   string
		cfg    func(*config.Config)
		user   inventory.User
		root   bool
		want   []string
		reason string
	}{
		{name: "password without MFA", user: inventory.User{Name: "m", PasswordEnabled: true, CreatedAt: daysAgo(40), PasswordLastChanged: daysAgo(30), PasswordLastUsed: daysAgo(1)},
			want:   []string{"m mfa_missing/mfa slot=0 age=30 at=0 notify high next=-"},
			reason: "console password without MFA (password set 30 days ago, on 2026-05-16)"},
		{name: "never changed counts from creation", user: inventory.User{Name: "m", PasswordEnabled: true, CreatedAt: daysAgo(40), PasswordLastUsed: daysAgo(1)},
			want:   []string{"m mfa_missing/mfa slot=0 age=40 at=0 notify high next=-"},
			reason: "console password without MFA (user created 40 days ago, on 2026-05-06)"},
		{name: "MFA active", user: inventory.User{Name: "m", PasswordEnabled: true, MFAActive: true, CreatedAt: daysAgo(40), PasswordLastUsed: daysAgo(1)}},
		{name: "no password", user: inventory.User{Name: "m", CreatedAt: daysAgo(40)}},
		{name: "action without severity gets the action's", cfg: removePassword,
			user: inventory.User{Name: "m", PasswordEnabled: true, CreatedAt: daysAgo(40), PasswordLastUsed: daysAgo(1)},
			want: []string{"m mfa_missing/mfa slot=0 age=40 at=0 remove_password high next=-"}},
		{name: "root without MFA is critical", root: true, cfg: func(c *config.Config) { c.Rules.MFAMissing.Severity = config.SeverityLow },
			user:   inventory.User{Name: inventory.RootUserName, PasswordEnabled: true, CreatedAt: daysAgo(900), PasswordLastUsed: daysAgo(3)},
			want:   []string{"<root_account> mfa_missing/mfa slot=0 age=900 at=0 notify critical next=-"},
			reason: "root user has a console password without MFA (user created 900 days ago, on 2023-12-28)"},
		{name: "root is only ever notified", root: true, cfg: removePassword,
			user: inventory.User{Name: inventory.RootUserName, PasswordEnabled: true, CreatedAt: daysAgo(900)},
			want: []string{"<root_account> mfa_missing/mfa slot=0 age=900 at=0 notify critical next=-"}},
		{name: "root with MFA", root: true, user: inventory.User{Name: inventory.RootUserName, PasswordEnabled: true, MFAActive: true, CreatedAt: daysAgo(900)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			snap := snapshotOf()
			if tt.root {
				u := tt.user
				snap.Root = &u
			} else {
				snap.Users = []inventory.User{tt.user}
			}
			fs := policy.Evaluate(snap, cfg, asOf)
			if diff := cmp.Diff(tt.want, onlyRule(fs, config.RuleMFAMissing)); diff != "" {
				t.Errorf("Evaluate(%s) mfa_missing mismatch (-want +got):\n%s", tt.name, diff)
			}
			if tt.reason != "" {
				if f := findingOf(t, fs, tt.user.Name, config.RuleMFAMissing); f.Reason != tt.reason {
					t.Errorf("Evaluate(%s) reason = %q; want %q", tt.name, f.Reason, tt.reason)
				}
			}
		})
	}
}

func TestEvaluateRoot(t *testing.T) {
	root := inventory.User{
		Name:      inventory.RootUserName,
		CreatedAt: daysAgo(900),
		Tags:      map[string]string{"Email": "root@example.com"},
		AccessKeys: []inventory.AccessKey{
			{Slot: 1, Active: true, CreatedAt: daysAgo(400)},  // old, never used
			{Slot: 2, Active: false, CreatedAt: daysAgo(500)}, // inactive: not reported
		},
		PasswordEnabled: true,
	}
	user := inventory.User{Name: "alice@example.com", PasswordEnabled: true, MFAActive: true, CreatedAt: daysAgo(10), PasswordLastUsed: daysAgo(1)}
	snap := snapshotOf(user)
	snap.Root = &root
	fs := policy.Evaluate(snap, config.Default(), asOf)
	want := []string{
		"<root_account> root_access_key/root slot=1 age=400 at=0 notify critical next=-",
		"<root_account> mfa_missing/mfa slot=0 age=900 at=0 notify critical next=-",
	}
	if diff := cmp.Diff(want, briefs(fs)); diff != "" {
		t.Errorf("Evaluate(root with an active and an inactive key, no MFA) mismatch (-want +got):\n%s", diff)
	}
	for _, f := range fs {
		if f.Recipients == nil || len(f.Recipients) != 0 {
			t.Errorf("Evaluate() root %s recipients = %#v; want []string{} (admins only)", f.Rule, f.Recipients)
		}
	}
	if len(fs) > 0 {
		f := fs[0]
		if wantReason := "root user has an active access key in slot 1, created 400 days ago, on 2025-05-11; root access keys should be deleted"; f.Reason != wantReason {
			t.Errorf("Evaluate() root_access_key reason = %q; want %q", f.Reason, wantReason)
		}
		if !f.KeyCreatedAt.Equal(daysAgo(400)) {
			t.Errorf("Evaluate() root_access_key KeyCreatedAt = %v; want %v", f.KeyCreatedAt, daysAgo(400))
		}
	}

	cfg := config.Default()
	cfg.Rules.RootAccessKey.Severity = config.SeverityHigh
	f := findingOf(t, policy.Evaluate(snap, cfg, asOf), inventory.RootUserName, config.RuleRootAccessKey)
	if f.Severity != config.SeverityHigh {
		t.Errorf("Evaluate(root_access_key severity high) severity = %s; want high", f.Severity)
	}
}

func TestEvaluateRootInUsersIsEvaluatedAsRoot(t *testing.T) {
	root := inventory.User{Name: inventory.RootUserName, CreatedAt: daysAgo(900),
		AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true, CreatedAt: daysAgo(400)}}}
	fs := policy.Evaluate(snapshotOf(root), config.Default(), asOf)
	want := []string{
		"<root_account> root_access_key/root slot=1 age=400 at=0 notify critical next=-",
		// No password in this row, but an active key and no MFA.
		"<root_account> mfa_missing/mfa slot=0 age=900 at=0 notify critical next=-",
	}
	if diff := cmp.Diff(want, briefs(fs)); diff != "" {
		t.Errorf("Evaluate(root row among users) mismatch (-want +got):\n%s", diff)
	}
}

// everythingSnapshot is a snapshot that breaks every rule once (mfa_missing
// twice: root's and a user's), with everythingConfig.
func everythingSnapshot() *inventory.Snapshot {
	snap := snapshotOf(
		inventory.User{
			Name:                "everything@example.com",
			CreatedAt:           daysAgo(300),
			PasswordEnabled:     true,
			PasswordLastChanged: daysAgo(200),
			AccessKeys: []inventory.AccessKey{
				{Slot: 1, Active: true, CreatedAt: daysAgo(100)},
				{Slot: 2, Active: true, CreatedAt: daysAgo(300).Add(time.Hour)}, // made with the user, never used
			},
			SigningCerts: []inventory.SigningCert{{Slot: 1, Active: true, CreatedAt: daysAgo(100)}},
			ServiceCredentials: []inventory.ServiceCredential{
				{ID: "ACCABEDROCK1", ServiceName: "bedrock.amazonaws.com", Status: inventory.StatusActive,
					CreatedAt: daysAgo(10), ExpiresAt: asOf.Add(5 * 24 * time.Hour)},
				{ID: "ACCACODECOMMIT1", ServiceName: "codecommit.amazonaws.com", Status: inventory.StatusActive, CreatedAt: daysAgo(100)},
			},
			SSHKeys:     []inventory.SSHKey{{ID: "APKAEVERYTHING1", Active: true, UploadedAt: daysAgo(100)}},
			SSHKeysRead: true,
		},
		inventory.User{Name: "unknown-age", CreatedAt: daysAgo(50), AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true}}},
	)
	snap.ServiceCredentialsRead = true
	snap.PasswordPolicy = &inventory.PasswordPolicy{MinimumLength: 8, ReusePrevention: 24}
	snap.Root = &inventory.User{Name: inventory.RootUserName, CreatedAt: daysAgo(900), PasswordEnabled: true,
		AccessKeys:   []inventory.AccessKey{{Slot: 1, Active: true, CreatedAt: daysAgo(10), LastUsedAt: daysAgo(2)}},
		SigningCerts: []inventory.SigningCert{{Slot: 1, Active: true, CreatedAt: daysAgo(20)}}}
	return snap
}

// everythingConfig is the default config with the opt-in ssh_key_age on.
func everythingConfig() *config.Config {
	cfg := config.Default()
	cfg.Rules.SSHKeyAge = &config.SSHKeyRule{Users: config.Match{Names: []string{"everything*"}}, MaxAge: 90}
	return cfg
}

// everythingOrder is what Evaluate finds in everythingSnapshot, in order.
var everythingOrder = []string{
	"<root_account> root_access_key 1",
	"<root_account> root_signing_certificate 1",
	"<root_account> root_recent_use 0",
	"<root_account> mfa_missing 0",
	"<account> password_policy 0",
	"everything@example.com access_key_age 1",
	"everything@example.com access_key_unused 1",
	"everything@example.com access_key_age 2",
	"everything@example.com access_key_unused 2",
	"everything@example.com two_active_keys 0",
	"everything@example.com access_key_at_setup 2",
	"everything@example.com signing_certificate_age 1",
	"everything@example.com service_credential_expiry 0",
	"everything@example.com service_credential_age 0",
	"everything@example.com ssh_key_age 0",
	"everything@example.com password_expiry 0",
	"everything@example.com password_unused 0",
	"everything@example.com mfa_missing 0",
	"everything@example.com console_and_keys 0",
	"everything@example.com dormant_user 0",
	"unknown-age access_key_unknown_age 1",
}

func orderOf(fs []policy.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %s %d", f.User, f.Rule, f.Slot))
	}
	return out
}

// TestEvaluateOrder: the order the Evaluate doc comment gives, and every
// rule of policy.Rules is met in everythingSnapshot.
func TestEvaluateOrder(t *testing.T) {
	got := orderOf(policy.Evaluate(everythingSnapshot(), everythingConfig(), asOf))
	if diff := cmp.Diff(everythingOrder, got); diff != "" {
		t.Errorf("Evaluate() order mismatch (-want +got):\n%s", diff)
	}
	for _, r := range policy.Rules {
		if !slices.ContainsFunc(everythingOrder, func(s string) bool { return strings.Fields(s)[1] == r.Name }) {
			t.Errorf("everythingSnapshot breaks no %s; want every rule once", r.Name)
		}
	}
}

// TestEvaluateDisabledRules: each rule's off switch removes its findings,
// and only them.
func TestEvaluateDisabledRules(t *testing.T) {
	off := false
	noStages := map[string][]config.Stage{"human": {}, "machine": {}}
	tests := []struct {
		name string
		rule string
		off  func(*config.Rules)
		// also are the rules that follow it off: the stage rules of
		// certificates and service credentials, left out, take the access
		// keys' stages.
		also []string
	}{
		{"access_key_age without stages", config.RuleAccessKeyAge, func(r *config.Rules) { r.AccessKeyAge = nil },
			[]string{config.RuleSigningCertAge, config.RuleServiceCredentialAge}},
		{"access_key_age with empty stage lists", config.RuleAccessKeyAge, func(r *config.Rules) { r.AccessKeyAge = noStages },
			[]string{config.RuleSigningCertAge, config.RuleServiceCredentialAge}},
		{"access_key_unused enabled false", config.RuleAccessKeyUnused, func(r *config.Rules) { r.AccessKeyUnused.Enabled = &off }, nil},
		{"access_key_unused absent", config.RuleAccessKeyUnused, func(r *config.Rules) { r.AccessKeyUnused = nil }, nil},
		{"access_key_unknown_age enabled false", config.RuleAccessKeyUnknownAge, func(r *config.Rules) { r.AccessKeyUnknownAge.Enabled = &off }, nil},
		{"password_expiry enabled false", config.RulePasswordExpiry, func(r *config.Rules) { r.PasswordExpiry.Enabled = &off }, nil},
		{"password_expiry absent", config.RulePasswordExpiry, func(r *config.Rules) { r.PasswordExpiry = nil }, nil},
		{"password_unused enabled false", config.RulePasswordUnused, func(r *config.Rules) { r.PasswordUnused.Enabled = &off }, nil},
		{"password_unused absent", config.RulePasswordUnused, func(r *config.Rules) { r.PasswordUnused = nil }, nil},
		{"mfa_missing enabled false", config.RuleMFAMissing, func(r *config.Rules) { r.MFAMissing.Enabled = &off }, nil},
		{"mfa_missing absent", config.RuleMFAMissing, func(r *config.Rules) { r.MFAMissing = nil }, nil},
		{"root_access_key enabled false", config.RuleRootAccessKey, func(r *config.Rules) { r.RootAccessKey.Enabled = &off }, nil},
		{"root_access_key absent", config.RuleRootAccessKey, func(r *config.Rules) { r.RootAccessKey = nil }, nil},
		{"signing_certificate_age with empty stage lists", config.RuleSigningCertAge, func(r *config.Rules) { r.SigningCertAge = noStages }, nil},
		{"root_signing_certificate enabled false", config.RuleRootSigningCert, func(r *config.Rules) { r.RootSigningCert.Enabled = &off }, nil},
		{"root_signing_certificate absent", config.RuleRootSigningCert, func(r *config.Rules) { r.RootSigningCert = nil }, nil},
		{"service_credential_age with empty stage lists", config.RuleServiceCredentialAge, func(r *config.Rules) { r.ServiceCredentialAge = noStages }, nil},
		{"service_credential_expiry enabled false", config.RuleServiceCredentialExpiry, func(r *config.Rules) { r.ServiceCredentialExpiry.Enabled = &off }, nil},
		{"service_credential_expiry absent", config.RuleServiceCredentialExpiry, func(r *config.Rules) { r.ServiceCredentialExpiry = nil }, nil},
		{"ssh_key_age enabled false", config.RuleSSHKeyAge, func(r *config.Rules) { r.SSHKeyAge.Enabled = &off }, nil},
		{"ssh_key_age absent", config.RuleSSHKeyAge, func(r *config.Rules) { r.SSHKeyAge = nil }, nil},
		{"root_recent_use enabled false", config.RuleRootRecentUse, func(r *config.Rules) { r.RootRecentUse.Enabled = &off }, nil},
		{"root_recent_use absent", config.RuleRootRecentUse, func(r *config.Rules) { r.RootRecentUse = nil }, nil},
		{"password_policy enabled false", config.RulePasswordPolicy, func(r *config.Rules) { r.PasswordPolicy.Enabled = &off }, nil},
		{"password_policy absent", config.RulePasswordPolicy, func(r *config.Rules) { r.PasswordPolicy = nil }, nil},
		{"access_key_at_setup enabled false", config.RuleAccessKeyAtSetup, func(r *config.Rules) { r.AccessKeyAtSetup.Enabled = &off }, nil},
		{"access_key_at_setup absent", config.RuleAccessKeyAtSetup, func(r *config.Rules) { r.AccessKeyAtSetup = nil }, nil},
		{"two_active_keys enabled false", config.RuleTwoActiveKeys, func(r *config.Rules) { r.TwoActiveKeys.Enabled = &off }, nil},
		{"two_active_keys absent", config.RuleTwoActiveKeys, func(r *config.Rules) { r.TwoActiveKeys = nil }, nil},
		{"console_and_keys enabled false", config.RuleConsoleAndKeys, func(r *config.Rules) { r.ConsoleAndKeys.Enabled = &off }, nil},
		{"console_and_keys absent", config.RuleConsoleAndKeys, func(r *config.Rules) { r.ConsoleAndKeys = nil }, nil},
		{"dormant_user enabled false", config.RuleDormantUser, func(r *config.Rules) { r.DormantUser.Enabled = &off }, nil},
		{"dormant_user absent", config.RuleDormantUser, func(r *config.Rules) { r.DormantUser = nil }, nil},
	}
	switchedOff := map[string]bool{}
	for _, tt := range tests {
		switchedOff[tt.rule] = true
		t.Run(tt.name, func(t *testing.T) {
			cfg := everythingConfig()
			tt.off(&cfg.Rules)
			got := orderOf(policy.Evaluate(everythingSnapshot(), cfg, asOf))
			var want []string
			for _, s := range everythingOrder {
				if r := strings.Fields(s)[1]; r != tt.rule && !slices.Contains(tt.also, r) {
					want = append(want, s)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Evaluate(%s) mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}
	for _, r := range policy.Rules {
		if !switchedOff[r.Name] {
			t.Errorf("no test switches %s off", r.Name)
		}
	}
}

func TestEvaluateCommonFields(t *testing.T) {
	cfg := config.Default()
	cfg.Classes = append(cfg.Classes, config.Class{Name: "ops", Match: config.Match{Groups: []string{"ops"}}})
	u := inventory.User{Name: "dana", Groups: []string{"ops"}, Tags: map[string]string{"Email": "Dana <dana@Example.com>"},
		AccessKeys: []inventory.AccessKey{accessKey(2, 71, true)}}
	fs := policy.Evaluate(snapshotOf(u), cfg, asOf)
	if len(fs) != 1 {
		t.Fatalf("Evaluate() = %v; want one access_key_age finding", briefs(fs))
	}
	got := fs[0]
	want := policy.Finding{
		ID:           policy.FindingID(accountID, "dana", policy.CredentialAccessKey, 2, daysAgo(71), config.RuleAccessKeyAge),
		Account:      accountID,
		AccountAlias: "acme-prod",
		User:         "dana",
		Class:        "ops",
		Credential:   policy.CredentialAccessKey,
		Slot:         2,
		Rule:         config.RuleAccessKeyAge,
		AgeDays:      71,
		StageAt:      70,
		Action:       config.ActionNotify,
		Severity:     config.SeverityMedium,
		NextStageOn:  &config.Date{Time: time.Date(2026, 6, 24, 0, 0, 0, 0, time.UTC)},
		Recipients:   []string{"dana@example.com"},
		Reason:       "access key 2 is 71 days old (created 2026-04-05) and reached the 70-day stage (notify, medium); next: the 80-day stage (disable, high) on 2026-06-24",
		Controls:     []string{}, // 71 days meets CIS 1.14 (90 days or less)
		KeyCreatedAt: daysAgo(71),
		KeyActive:    true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Evaluate() finding mismatch (-want +got):\n%s", diff)
	}
}

func TestEvaluateEmpty(t *testing.T) {
	for name, snap := range map[string]*inventory.Snapshot{"nil snapshot": nil, "no users": snapshotOf()} {
		got := policy.Evaluate(snap, config.Default(), asOf)
		if got == nil || len(got) != 0 {
			t.Errorf("Evaluate(%s) = %#v; want an empty, non-nil slice", name, got)
		}
	}
}

func TestFindingID(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		got  string
		want string
	}{
		// Expected values: printf '%s' 'ACCOUNT|USER|CREDENTIAL|SLOT|TIME|RULE' | sha256sum | cut -c1-16
		{"access key", policy.FindingID(accountID, "alice", "access_key", 1, created, "access_key_age"), "2f5e0e8fe48ac611"},
		{"same instant in another zone", policy.FindingID(accountID, "alice", "access_key", 1, created.In(time.FixedZone("x", 3600)), "access_key_age"), "2f5e0e8fe48ac611"},
		{"password, zero time", policy.FindingID(accountID, "alice", "password", 0, time.Time{}, "password_expiry"), "5dafdeb9107819f0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("FindingID(%s) = %s; want %s", tt.name, tt.got, tt.want)
			}
		})
	}
	ids := map[string]string{
		"key 1":             policy.FindingID(accountID, "alice", "access_key", 1, created, "access_key_age"),
		"key 2":             policy.FindingID(accountID, "alice", "access_key", 2, created.Add(time.Hour), "access_key_age"),
		"key 2 same second": policy.FindingID(accountID, "alice", "access_key", 2, created, "access_key_age"),
		"key 1 unused":      policy.FindingID(accountID, "alice", "access_key", 1, created, "access_key_unused"),
		"other user":        policy.FindingID(accountID, "bob", "access_key", 1, created, "access_key_age"),
		"other account":     policy.FindingID("210987654321", "alice", "access_key", 1, created, "access_key_age"),
		"password expiry":   policy.FindingID(accountID, "alice", "password", 0, time.Time{}, "password_expiry"),
		"password unused":   policy.FindingID(accountID, "alice", "password", 0, time.Time{}, "password_unused"),
		"mfa":               policy.FindingID(accountID, "alice", "mfa", 0, time.Time{}, "mfa_missing"),
	}
	seen := map[string]string{}
	for name, id := range ids {
		if len(id) != 16 {
			t.Errorf("FindingID(%s) = %q; want 16 hex digits", name, id)
		}
		if other, ok := seen[id]; ok {
			t.Errorf("FindingID(%s) = FindingID(%s) = %s; want distinct IDs", name, other, id)
		}
		seen[id] = name
	}
}

func TestPolicyDoesNotImportAWSSDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list -deps listed nothing; want at least the package itself")
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/aws/") {
			t.Errorf("internal/policy depends on %s; want no AWS SDK dependency, even through config", d)
		}
	}
}

// richConfig is the default config plus classes (with and without their
// own tiers), exemptions (active, expired, by tag, scoped to a rule) and an
// allowed-domain list.
func richConfig(t *testing.T) *config.Config {
	t.Helper()
	date := func(s string) *config.Date {
		d, err := config.ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		return &d
	}
	cfg := config.Default()
	cfg.Classes = []config.Class{
		{Name: "machine", Match: config.Match{Tags: map[string]string{"UserType": "machine"}}},
		{Name: "admin", Match: config.Match{Groups: []string{"admins"}}},
		{Name: "service", Match: config.Match{PathPrefix: "/service/"}}, // no tiers: human's
		{Name: "ci", Match: config.Match{Names: []string{"*-ci"}}},
		{Name: "contractor", Match: config.Match{Tags: map[string]string{"Contractor": "*"}}}, // no tiers
	}
	cfg.Rules.AccessKeyAge["admin"] = []config.Stage{
		{At: 30, Action: config.ActionNotify},
		{At: 60, Action: config.ActionDisable},
	}
	cfg.Rules.AccessKeyAge["ci"] = []config.Stage{{At: 30, Action: config.ActionNotify, Severity: config.SeverityLow}}
	cfg.Exemptions = []config.Exemption{
		{Users: []string{"ci-legacy"}, Reason: "vendor rotates on 2027-01-31", Until: date("2027-01-31")},
		{Users: []string{"old-vendor"}, Reason: "vendor contract ended", Until: date("2026-05-31")},
		{Tags: map[string]string{"keywarden:exempt": "true"}, Reason: "managed elsewhere"},
		{Users: []string{"reporting-bot"}, Rules: []string{config.RuleAccessKeyUnused}, Reason: "runs quarterly"},
		{Users: []string{"git-user"}, Rules: []string{config.RuleServiceCredentialExpiry}, Reason: "the Bedrock key is renewed by the pipeline"},
	}
	cfg.Rules.SSHKeyAge = &config.SSHKeyRule{Users: config.Match{Names: []string{"git-*"}}, MaxAge: 90}
	cfg.Notify.Users.AllowedDomains = []string{"example.com"}
	return cfg
}

// richSnapshot is an account with a root user and 27 users covering
// every rule, each boundary's both sides and the class and exemption
// variants. Each user's comment says what it should produce at asOf.
func richSnapshot() *inventory.Snapshot {
	key := func(slot, age int, active bool, usedAgo int) inventory.AccessKey {
		k := inventory.AccessKey{Slot: slot, Active: active, CreatedAt: daysAgo(age)}
		if usedAgo >= 0 {
			k.LastUsedAt = daysAgo(usedAgo)
			k.LastUsedRegion, k.LastUsedService = "us-east-1", "s3"
		}
		return k
	}
	const never = -1
	machine := func(email string) map[string]string {
		return map[string]string{"UserType": "machine", "Email": email}
	}
	email := func(a string) map[string]string { return map[string]string{"Email": a} }
	users := []inventory.User{
		// age 71 -> notify (70), next disable 2026-06-24
		{Name: "alice@example.com", PasswordEnabled: true, MFAActive: true, PasswordLastChanged: daysAgo(10), PasswordLastUsed: daysAgo(1),
			AccessKeys: []inventory.AccessKey{key(1, 71, true, 1)}},
		// key 1: 80 -> disable; key 2: 30 days old, last used 50 days ago -> unused
		{Name: "bob", Tags: email("bob@example.com"),
			AccessKeys: []inventory.AccessKey{key(1, 80, true, 2), key(2, 30, true, 50)}},
		// class ci by name glob, one stage: 40 -> notify low, no next stage
		{Name: "build-ci", Tags: email("ci@example.com"), AccessKeys: []inventory.AccessKey{key(1, 40, true, 1)}},
		// inactive 85 -> nothing; inactive 120 -> delete (clean-up)
		{Name: "carol", Tags: email("Carol <carol@Example.com>"),
			AccessKeys: []inventory.AccessKey{key(1, 85, false, 90), key(2, 120, false, never)}},
		// machine 200 -> notify critical, exempt until 2027-01-31
		{Name: "ci-legacy", Tags: machine("ci-team@example.com"),
			AccessKeys: []inventory.AccessKey{key(1, 200, true, 1)}},
		// 90 -> delete; gmail.com is not an allowed domain: no recipients
		{Name: "dave@gmail.com", AccessKeys: []inventory.AccessKey{key(1, 90, true, 0)}},
		// machine 89 -> notify high (80); key 2 never used but only 10 days old
		{Name: "deploy-bot", Tags: machine("ops@example.com"),
			AccessKeys: []inventory.AccessKey{key(1, 89, true, 3), key(2, 10, true, never)}},
		// password 46 days old, policy 60: 14 days left; no MFA
		{Name: "eve", Tags: email("eve@example.com"), PasswordEnabled: true, PasswordLastChanged: daysAgo(46), PasswordLastUsed: daysAgo(1)},
		// password 61 days old: expired yesterday
		{Name: "frank", Tags: email("frank@example.com"), PasswordEnabled: true, MFAActive: true, PasswordLastChanged: daysAgo(61), PasswordLastUsed: daysAgo(5)},
		// password set 100 days ago, never used: expired 40 days ago, unused
		{Name: "grace", Tags: email("grace@example.com"), PasswordEnabled: true, MFAActive: true, PasswordLastChanged: daysAgo(100)},
		// no console password (stale dates from an old report): nothing
		{Name: "heidi", Tags: email("heidi@example.com"), PasswordLastChanged: daysAgo(400), PasswordLastUsed: daysAgo(300)},
		// machine, inactive 300: machine tiers have no delete stage: nothing
		{Name: "ivan", Tags: machine("ivan@example.com"), AccessKeys: []inventory.AccessKey{key(1, 300, false, 200)}},
		// class service has no tiers: human's; 95 -> delete
		{Name: "judy", Path: "/service/", Tags: email("judy@example.com"), AccessKeys: []inventory.AccessKey{key(1, 95, true, 1)}},
		// exempt by tag: 100 -> delete and never used -> unused, both exempt
		{Name: "mallory", Tags: map[string]string{"keywarden:exempt": "true", "Email": "mallory@example.com"},
			AccessKeys: []inventory.AccessKey{key(1, 100, true, never)}},
		// 75 -> notify; its exemption expired on 2026-05-31
		{Name: "old-vendor", Tags: email("vendor@example.com"), AccessKeys: []inventory.AccessKey{key(1, 75, true, 2)}},
		// key 1: 69 days, used 44 days ago -> nothing; key 2: 45 days, never used -> unused
		{Name: "oscar", Tags: email("oscar@example.com"),
			AccessKeys: []inventory.AccessKey{key(1, 69, true, 44), key(2, 45, true, never)}},
		// 79 -> notify, next 2026-06-16; last used 45 days ago -> unused
		{Name: "peggy", Tags: email("peggy@example.com"), AccessKeys: []inventory.AccessKey{key(1, 79, true, 45)}},
		// machine 70 -> notify (not exempt); never used -> unused, exempt (rule-scoped)
		{Name: "reporting-bot", Tags: machine("data@example.com"), AccessKeys: []inventory.AccessKey{key(1, 70, true, never)}},
		// invalid first tag, second tag used; password without MFA, user 5 days old;
		// a key made with the user, never used -> access_key_at_setup (and console_and_keys)
		{Name: "sybil", CreatedAt: daysAgo(5), Tags: map[string]string{"Email": "sybil", "email": "sybil@example.com"}, PasswordEnabled: true,
			AccessKeys: []inventory.AccessKey{key(1, 5, true, never)}},
		// class admin (own tiers): 45 -> notify (30), next disable 2026-06-30
		{Name: "trent", Groups: []string{"admins", "dev"}, Tags: email("trent@example.com"), AccessKeys: []inventory.AccessKey{key(1, 45, true, 1)}},
		// key without a creation date: access_key_unknown_age; password last used 90 days ago -> unused
		{Name: "ursula", Tags: email("ursula@example.com"), PasswordEnabled: true, MFAActive: true, PasswordLastChanged: daysAgo(20), PasswordLastUsed: daysAgo(90),
			AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true}}},
		// inactive 100 -> delete; active 5 never used -> nothing; password 1 day left
		{Name: "victor", Tags: email("victor@example.com"), PasswordEnabled: true, MFAActive: true, PasswordLastChanged: daysAgo(59), PasswordLastUsed: daysAgo(2),
			AccessKeys: []inventory.AccessKey{key(1, 100, false, 99), key(2, 5, true, never)}},
		// class contractor (tag "*", no tiers): human's; 80 -> disable
		{Name: "xavier", Tags: map[string]string{"Contractor": "acme", "Email": "xavier@example.com"}, AccessKeys: []inventory.AccessKey{key(1, 80, true, 1)}},
		// clean: nothing
		{Name: "yolanda", Tags: email("yolanda@example.com"), PasswordEnabled: true, MFAActive: true, PasswordLastChanged: daysAgo(3), PasswordLastUsed: daysAgo(1),
			AccessKeys: []inventory.AccessKey{key(1, 10, true, 1)}},
		// password expired 90 days ago, unused 200 days, no MFA
		{Name: "zoe@example.com", PasswordEnabled: true, PasswordLastChanged: daysAgo(150), PasswordLastUsed: daysAgo(200)},
		// signing certificates: active 85 -> disable, next delete; inactive 95 -> delete (clean-up)
		{Name: "cert-holder", Tags: email("certs@example.com"), SigningCerts: []inventory.SigningCert{
			{Slot: 1, Active: true, CreatedAt: daysAgo(85)}, {Slot: 2, Active: false, CreatedAt: daysAgo(95)}}},
		// service-specific credentials: CodeCommit 75 -> notify; Keyspaces inactive 100 -> delete;
		// Bedrock key expiring in 10 days (exempt for that rule); Bedrock key expired 3 days ago -> high.
		// SSH keys (selected by git-*): active 120 -> ssh_key_age; inactive 200 -> nothing
		{Name: "git-user", Tags: email("git@example.com"),
			ServiceCredentials: []inventory.ServiceCredential{
				{ID: "ACCABEDROCKNEW", ServiceName: "bedrock.amazonaws.com", ServiceUserName: "git-user-at-123456789012", Status: inventory.StatusActive,
					CreatedAt: daysAgo(20), ExpiresAt: daysAgo(-10)},
				{ID: "ACCABEDROCKOLD", ServiceName: "bedrock.amazonaws.com", ServiceUserName: "git-user-at-123456789012", Status: inventory.StatusExpired,
					CreatedAt: daysAgo(40), ExpiresAt: daysAgo(3)},
				{ID: "ACCAKEYSPACES1", ServiceName: "cassandra.amazonaws.com", ServiceUserName: "git-user-at-123456789012", Status: inventory.StatusInactive,
					CreatedAt: daysAgo(100)},
				{ID: "ACCACODECOMMIT1", ServiceName: "codecommit.amazonaws.com", ServiceUserName: "git-user-at-123456789012", Status: inventory.StatusActive,
					CreatedAt: daysAgo(75)},
			},
			SSHKeys: []inventory.SSHKey{
				{ID: "APKAGITUSER1", Active: true, UploadedAt: daysAgo(120)},
				{ID: "APKAGITUSER2", Active: false, UploadedAt: daysAgo(200)},
			},
			SSHKeysRead: true},
	}
	for i := range users {
		u := &users[i]
		if u.Path == "" {
			u.Path = "/"
		}
		if u.CreatedAt.IsZero() {
			u.CreatedAt = daysAgo(500)
		}
		u.ARN = fmt.Sprintf("arn:aws:iam::%s:user%s%s", accountID, u.Path, u.Name)
	}
	slices.SortFunc(users, func(a, b inventory.User) int { return strings.Compare(a.Name, b.Name) })
	snap := snapshotOf(users...)
	snap.PasswordPolicy = &inventory.PasswordPolicy{MaxPasswordAge: 60, MinimumLength: 8}
	snap.ServiceCredentialsRead = true
	snap.ReportGeneratedAt = asOf.Add(-3 * time.Hour)
	snap.Root = &inventory.User{
		Name:            inventory.RootUserName,
		ARN:             "arn:aws:iam::" + accountID + ":root",
		CreatedAt:       daysAgo(900),
		PasswordEnabled: true,
		// signed in 3 days ago -> root_recent_use
		PasswordLastUsed: daysAgo(3),
		// 400 days, active -> root_access_key; inactive -> nothing
		AccessKeys: []inventory.AccessKey{key(1, 400, true, 30), key(2, 500, false, never)},
		// active -> root_signing_certificate
		SigningCerts: []inventory.SigningCert{{Slot: 1, Active: true, CreatedAt: daysAgo(300)}},
	}
	return snap
}

func TestEvaluateGolden(t *testing.T) {
	got := policy.Evaluate(richSnapshot(), richConfig(t), asOf)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "<root_account>", as the JSON report writes it
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, buf.Bytes(), filepath.Join("testdata", "evaluate", "rich.golden.json"))
}

func BenchmarkEvaluate5000Users(b *testing.B) {
	snap := snapshotOf()
	snap.PasswordPolicy = &inventory.PasswordPolicy{MaxPasswordAge: 90}
	for i := range 5000 {
		u := inventory.User{
			Name:                fmt.Sprintf("user-%04d@example.com", i),
			Path:                "/",
			CreatedAt:           daysAgo(400 + i%50),
			Groups:              []string{"dev"},
			PasswordEnabled:     i%3 == 0,
			MFAActive:           i%6 == 0,
			PasswordLastChanged: daysAgo(i % 120),
			PasswordLastUsed:    daysAgo(i % 150),
			AccessKeys: []inventory.AccessKey{
				{Slot: 1, Active: true, CreatedAt: daysAgo(i % 130), LastUsedAt: daysAgo(i % 60)},
				{Slot: 2, Active: i%4 != 0, CreatedAt: daysAgo(i % 100)},
			},
		}
		if i%5 == 0 {
			u.Tags = map[string]string{"UserType": "machine"}
		}
		snap.Users = append(snap.Users, u)
	}
	cfg := config.Default()
	cfg.Exemptions = []config.Exemption{{Users: []string{"user-00*"}, Reason: "bench"}}
	b.ReportAllocs()
	for b.Loop() {
		if fs := policy.Evaluate(snap, cfg, asOf); len(fs) == 0 {
			b.Fatal("Evaluate() found nothing; want findings")
		}
	}
}
