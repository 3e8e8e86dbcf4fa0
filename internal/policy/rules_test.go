package policy_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/policy"
)

// TestRulesMatchConfig: every rule config knows (exemptions' rules) is in
// policy.Rules, and every rule of policy.Rules is one config knows.
func TestRulesMatchConfig(t *testing.T) {
	var catalogue []string
	for _, r := range policy.Rules {
		catalogue = append(catalogue, r.Name)
	}
	names := config.RuleNames()
	for _, n := range names {
		if !slices.Contains(catalogue, n) {
			t.Errorf("config rule %s is not in policy.Rules", n)
		}
	}
	for _, n := range catalogue {
		if !slices.Contains(names, n) {
			t.Errorf("policy.Rules has %s, which config.RuleNames() does not", n)
		}
	}
	if len(catalogue) != len(names) {
		t.Errorf("policy.Rules has %d rules, config.RuleNames() %d; want the same rules once each", len(catalogue), len(names))
	}
}

// TestSeverityRank: info ranks lowest, below low; unknown is 0.
func TestSeverityRank(t *testing.T) {
	prev := 0
	for _, s := range config.Severities() {
		r := policy.SeverityRank(s)
		if r <= prev {
			t.Errorf("SeverityRank(%s) = %d; want above %d (the severity before it)", s, r, prev)
		}
		prev = r
	}
	if got := policy.SeverityRank("urgent"); got != 0 {
		t.Errorf("SeverityRank(urgent) = %d; want 0", got)
	}
	if policy.SeverityRank(config.SeverityInfo) >= policy.SeverityRank(config.SeverityLow) {
		t.Error("info does not rank below low")
	}
}

// evalUsers evaluates users (and root, when not nil) with cfg, after
// mutate changes the snapshot.
func evalUsers(cfg *config.Config, root *inventory.User, mutate func(*inventory.Snapshot), users ...inventory.User) []policy.Finding {
	snap := snapshotOf(users...)
	snap.Root = root
	snap.ServiceCredentialsRead = true
	if mutate != nil {
		mutate(snap)
	}
	return policy.Evaluate(snap, cfg, asOf)
}

func TestEvaluateSigningCertAge(t *testing.T) {
	machine := map[string]string{"UserType": "machine"}
	cert := func(slot, age int, active bool) inventory.SigningCert {
		return inventory.SigningCert{Slot: slot, Active: active, CreatedAt: daysAgo(age), ID: "CERTID"}
	}
	tests := []struct {
		name string
		tags map[string]string
		cert inventory.SigningCert
		want []string
	}{
		{"human 69 days", nil, cert(1, 69, true), nil},
		{"human 70 days", nil, cert(1, 70, true), []string{"u signing_certificate_age/signing_certificate slot=1 age=70 at=70 notify medium next=2026-06-25"}},
		{"human 80 days", nil, cert(2, 80, true), []string{"u signing_certificate_age/signing_certificate slot=2 age=80 at=80 disable high next=2026-06-25"}},
		{"human 90 days", nil, cert(1, 90, true), []string{"u signing_certificate_age/signing_certificate slot=1 age=90 at=90 delete high next=-"}},
		{"machine 90 days", machine, cert(1, 90, true), []string{"u signing_certificate_age/signing_certificate slot=1 age=90 at=90 notify critical next=-"}},
		{"inactive 89 days", nil, cert(1, 89, false), nil},
		{"inactive 90 days", nil, cert(1, 90, false), []string{"u signing_certificate_age/signing_certificate slot=1 age=90 at=90 delete high next=-"}},
		{"no upload date", nil, inventory.SigningCert{Slot: 1, Active: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := inventory.User{Name: "u", Tags: tt.tags, SigningCerts: []inventory.SigningCert{tt.cert}}
			fs := evalUsers(config.Default(), nil, nil, u)
			if diff := cmp.Diff(tt.want, onlyRule(fs, config.RuleSigningCertAge)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
			if len(tt.want) == 1 {
				f := findingOf(t, fs, "u", config.RuleSigningCertAge)
				if !f.KeyCreatedAt.Equal(tt.cert.CreatedAt) || f.KeyActive != tt.cert.Active || f.KeyID != "CERTID" {
					t.Errorf("KeyCreatedAt, KeyActive, KeyID = %v, %v, %q; want %v, %v, CERTID", f.KeyCreatedAt, f.KeyActive, f.KeyID, tt.cert.CreatedAt, tt.cert.Active)
				}
			}
		})
	}

	f := findingOf(t, evalUsers(config.Default(), nil, nil, inventory.User{Name: "u", SigningCerts: []inventory.SigningCert{cert(1, 85, false), cert(2, 75, true)}}),
		"u", config.RuleSigningCertAge)
	if want := "signing certificate 2 is 75 days old (uploaded 2026-04-01) and reached the 70-day stage (notify, medium); next: the 80-day stage (disable, high) on 2026-06-20"; f.Reason != want {
		t.Errorf("reason = %q; want %q", f.Reason, want)
	}

	// Its own stages, apart from access_key_age's.
	cfg := config.Default()
	cfg.Rules.SigningCertAge = map[string][]config.Stage{"human": {{At: 30, Action: config.ActionNotify, Severity: config.SeverityLow}}}
	fs := evalUsers(cfg, nil, nil, inventory.User{Name: "u", SigningCerts: []inventory.SigningCert{cert(1, 40, true)},
		AccessKeys: []inventory.AccessKey{accessKey(1, 40, true)}})
	if diff := cmp.Diff([]string{"u signing_certificate_age/signing_certificate slot=1 age=40 at=30 notify low next=-"}, onlyRule(fs, config.RuleSigningCertAge)); diff != "" {
		t.Errorf("own stages mismatch (-want +got):\n%s", diff)
	}
	if got := onlyRule(fs, config.RuleAccessKeyAge); got != nil {
		t.Errorf("access_key_age = %v; want nothing (its stages are unchanged)", got)
	}

	// Root's certificates get root_signing_certificate, not this rule.
	root := &inventory.User{Name: inventory.RootUserName, MFAActive: true, PasswordEnabled: true, SigningCerts: []inventory.SigningCert{cert(1, 200, true)}}
	fs = evalUsers(config.Default(), root, nil)
	if diff := cmp.Diff([]string{"<root_account> root_signing_certificate/root slot=1 age=200 at=0 notify critical next=-"}, briefs(fs)); diff != "" {
		t.Errorf("root certificate mismatch (-want +got):\n%s", diff)
	}
}

// TestEvaluateStagesFollowAccessKeys: left out of the config, the stages
// of certificates and service-specific credentials are each class's
// access-key stages — a class whose keys are only notified about
// (its own entry, or the machine default) gets only notices for them
// too, never the human class's disable and delete.
func TestEvaluateStagesFollowAccessKeys(t *testing.T) {
	cfg := config.Default()
	cfg.Classes = append(cfg.Classes, config.Class{Name: "bots", Match: config.Match{Groups: []string{"bots"}}})
	cfg.Rules.AccessKeyAge["bots"] = []config.Stage{{At: 70, Action: config.ActionNotify}, {At: 80, Action: config.ActionNotify}}
	if cfg.Rules.SigningCertAge != nil || cfg.Rules.ServiceCredentialAge != nil {
		t.Fatal("the default config sets certificate or service credential stages; want them to follow access_key_age")
	}
	svc := inventory.ServiceCredential{ID: "ACCA1", ServiceName: "codecommit.amazonaws.com", Status: inventory.StatusActive, CreatedAt: daysAgo(85)}
	user := func(name string, groups ...string) inventory.User {
		return inventory.User{Name: name, Groups: groups, ServiceCredentials: []inventory.ServiceCredential{svc},
			SigningCerts: []inventory.SigningCert{{Slot: 1, Active: true, CreatedAt: daysAgo(85)}}}
	}
	mach := user("mach")
	mach.Tags = map[string]string{"UserType": "machine"}
	fs := evalUsers(cfg, nil, nil, user("bot", "bots"), user("human"), mach)
	for _, tt := range []struct{ user, action string }{{"bot", config.ActionNotify}, {"human", config.ActionDisable}, {"mach", config.ActionNotify}} {
		for _, rule := range []string{config.RuleSigningCertAge, config.RuleServiceCredentialAge} {
			if f := findingOf(t, fs, tt.user, rule); f.Action != tt.action {
				t.Errorf("%s %s at 85 days: %s; want %s (the class's access-key stages)", tt.user, rule, f.Action, tt.action)
			}
		}
	}
}

func TestEvaluateServiceCredentialAge(t *testing.T) {
	cred := func(service, status string, age int) inventory.ServiceCredential {
		return inventory.ServiceCredential{ID: "ACCA" + strings.ToUpper(strings.Split(service, ".")[0]), ServiceName: service, Status: status, CreatedAt: daysAgo(age)}
	}
	tests := []struct {
		name   string
		cred   inventory.ServiceCredential
		want   []string
		reason string
	}{
		{name: "active 69 days", cred: cred("codecommit.amazonaws.com", inventory.StatusActive, 69)},
		{name: "active 70 days", cred: cred("codecommit.amazonaws.com", inventory.StatusActive, 70),
			want:   []string{"u service_credential_age/service_credential slot=0 age=70 at=70 notify medium next=2026-06-25"},
			reason: "CodeCommit credential ACCACODECOMMIT is 70 days old (created 2026-04-06) and reached the 70-day stage (notify, medium); next: the 80-day stage (disable, high) on 2026-06-25"},
		{name: "active 80 days", cred: cred("cassandra.amazonaws.com", inventory.StatusActive, 80),
			want:   []string{"u service_credential_age/service_credential slot=0 age=80 at=80 disable high next=2026-06-25"},
			reason: "Amazon Keyspaces credential ACCACASSANDRA is 80 days old (created 2026-03-27) and reached the 80-day stage (disable, high); next: the 90-day stage (delete, high) on 2026-06-25"},
		{name: "inactive 89 days", cred: cred("codecommit.amazonaws.com", inventory.StatusInactive, 89)},
		{name: "inactive 90 days", cred: cred("codecommit.amazonaws.com", inventory.StatusInactive, 90),
			want:   []string{"u service_credential_age/service_credential slot=0 age=90 at=90 delete high next=-"},
			reason: "inactive CodeCommit credential ACCACODECOMMIT is 90 days old (created 2026-03-17) and reached the 90-day clean-up stage (delete, high)"},
		{name: "expired 91 days", cred: cred("bedrock.amazonaws.com", inventory.StatusExpired, 91),
			want:   []string{"u service_credential_age/service_credential slot=0 age=91 at=90 delete high next=-"},
			reason: "expired Amazon Bedrock API key ACCABEDROCK is 91 days old (created 2026-03-16) and reached the 90-day clean-up stage (delete, high)"},
		{name: "expired 85 days: no notify or disable", cred: cred("bedrock.amazonaws.com", inventory.StatusExpired, 85)},
		{name: "another service", cred: cred("example.amazonaws.com", inventory.StatusActive, 95),
			want:   []string{"u service_credential_age/service_credential slot=0 age=95 at=90 delete high next=-"},
			reason: "service-specific credential for example.amazonaws.com ACCAEXAMPLE is 95 days old (created 2026-03-12) and reached the 90-day stage (delete, high)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := inventory.User{Name: "u", ServiceCredentials: []inventory.ServiceCredential{tt.cred}}
			fs := evalUsers(config.Default(), nil, nil, u)
			if diff := cmp.Diff(tt.want, onlyRule(fs, config.RuleServiceCredentialAge)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
			if tt.reason == "" {
				return
			}
			f := findingOf(t, fs, "u", config.RuleServiceCredentialAge)
			if f.Reason != tt.reason {
				t.Errorf("reason = %q; want %q", f.Reason, tt.reason)
			}
			if f.KeyID != tt.cred.ID || f.Service != tt.cred.ServiceName || !f.KeyCreatedAt.Equal(tt.cred.CreatedAt) ||
				f.KeyActive != (tt.cred.Status == inventory.StatusActive) || f.Credential != policy.CredentialServiceCredential {
				t.Errorf("finding %+v; want KeyID %s, Service %s, KeyCreatedAt %v, KeyActive for Active only", f, tt.cred.ID, tt.cred.ServiceName, tt.cred.CreatedAt)
			}
		})
	}

	u := inventory.User{Name: "u", ServiceCredentials: []inventory.ServiceCredential{cred("codecommit.amazonaws.com", inventory.StatusActive, 100)}}
	fs := evalUsers(config.Default(), nil, func(s *inventory.Snapshot) { s.ServiceCredentialsRead = false }, u)
	if got := onlyRule(fs, config.RuleServiceCredentialAge); got != nil {
		t.Errorf("credentials not read: %v; want no finding", got)
	}
}

// TestServiceCredentialFindingIDs: two credentials of one user and
// service made in the same second have distinct IDs, each the FindingID
// of "service_credential:ID".
func TestServiceCredentialFindingIDs(t *testing.T) {
	created := daysAgo(100)
	u := inventory.User{Name: "u", ServiceCredentials: []inventory.ServiceCredential{
		{ID: "ACCAONE", ServiceName: "codecommit.amazonaws.com", Status: inventory.StatusActive, CreatedAt: created},
		{ID: "ACCATWO", ServiceName: "codecommit.amazonaws.com", Status: inventory.StatusActive, CreatedAt: created},
	}}
	fs := evalUsers(config.Default(), nil, nil, u)
	var ids []string
	for _, f := range fs {
		if f.Rule != config.RuleServiceCredentialAge {
			continue
		}
		want := policy.FindingID(accountID, "u", "service_credential:"+f.KeyID, 0, created, config.RuleServiceCredentialAge)
		if f.ID != want {
			t.Errorf("%s: ID %s; want %s", f.KeyID, f.ID, want)
		}
		ids = append(ids, f.ID)
	}
	if len(ids) != 2 || ids[0] == ids[1] {
		t.Errorf("IDs %v; want two distinct IDs", ids)
	}
}

func TestEvaluateServiceCredentialExpiry(t *testing.T) {
	bedrock := func(status string, expires time.Time) inventory.ServiceCredential {
		return inventory.ServiceCredential{ID: "ACCAKEY", ServiceName: "bedrock.amazonaws.com", Status: status, CreatedAt: daysAgo(30), ExpiresAt: expires}
	}
	in := func(d time.Duration) time.Time { return asOf.Add(d) }
	const day = 24 * time.Hour
	tests := []struct {
		name   string
		cfg    func(*config.Config)
		cred   inventory.ServiceCredential
		want   []string
		reason string
	}{
		{name: "no expiration", cred: bedrock(inventory.StatusActive, time.Time{})},
		{name: "15 days left", cred: bedrock(inventory.StatusActive, in(15*day))},
		{name: "14 days left", cred: bedrock(inventory.StatusActive, in(14*day)),
			want:   []string{"u service_credential_expiry/service_credential slot=0 age=30 at=30 notify medium next=2026-06-29 left=14"},
			reason: "Amazon Bedrock API key ACCAKEY expires in 14 days, on 2026-06-29; make a new one before then"},
		{name: "later today", cred: bedrock(inventory.StatusActive, in(3*time.Hour)),
			want:   []string{"u service_credential_expiry/service_credential slot=0 age=30 at=16 notify medium next=2026-06-15 left=0"},
			reason: "Amazon Bedrock API key ACCAKEY expires today, at 15:00 UTC; make a new one before then"},
		{name: "an hour ago", cred: bedrock(inventory.StatusActive, in(-time.Hour)),
			want:   []string{"u service_credential_expiry/service_credential slot=0 age=30 at=30 notify high next=- left=0"},
			reason: "Amazon Bedrock API key ACCAKEY expired today, on 2026-06-15"},
		{name: "3 days ago, Expired", cred: bedrock(inventory.StatusExpired, in(-3*day)),
			want:   []string{"u service_credential_expiry/service_credential slot=0 age=30 at=27 notify high next=- left=-3"},
			reason: "Amazon Bedrock API key ACCAKEY expired 3 days ago, on 2026-06-12"},
		{name: "inactive", cred: bedrock(inventory.StatusInactive, in(-3*day))},
		{name: "critical stays critical", cfg: func(c *config.Config) { c.Rules.ServiceCredentialExpiry.Severity = config.SeverityCritical },
			cred: bedrock(inventory.StatusActive, in(-3*day)),
			want: []string{"u service_credential_expiry/service_credential slot=0 age=30 at=27 notify critical next=- left=-3"}},
		{name: "warn_before 0, 1 day left", cfg: func(c *config.Config) { c.Rules.ServiceCredentialExpiry.WarnBefore = 0 },
			cred: bedrock(inventory.StatusActive, in(day))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			fs := evalUsers(cfg, nil, nil, inventory.User{Name: "u", ServiceCredentials: []inventory.ServiceCredential{tt.cred}})
			if diff := cmp.Diff(tt.want, onlyRule(fs, config.RuleServiceCredentialExpiry)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
			if tt.reason != "" {
				if f := findingOf(t, fs, "u", config.RuleServiceCredentialExpiry); f.Reason != tt.reason || f.KeyID != "ACCAKEY" || f.Service != "bedrock.amazonaws.com" {
					t.Errorf("reason, key, service = %q, %q, %q; want %q, ACCAKEY, bedrock.amazonaws.com", f.Reason, f.KeyID, f.Service, tt.reason)
				}
			}
		})
	}
}

func TestEvaluateSSHKeyAge(t *testing.T) {
	on := func(c *config.Config) {
		c.Rules.SSHKeyAge = &config.SSHKeyRule{Users: config.Match{Groups: []string{"git"}}, MaxAge: 90}
	}
	key := func(id string, age int, active bool) inventory.SSHKey {
		return inventory.SSHKey{ID: id, Active: active, UploadedAt: daysAgo(age)}
	}
	user := func(groups []string, read bool, keys ...inventory.SSHKey) inventory.User {
		return inventory.User{Name: "u", Groups: groups, SSHKeys: keys, SSHKeysRead: read}
	}
	git := []string{"git"}
	tests := []struct {
		name string
		cfg  func(*config.Config)
		user inventory.User
		want []string
	}{
		{"off by default", nil, user(git, true, key("APKA1", 200, true)), nil},
		{"89 days", on, user(git, true, key("APKA1", 89, true)), nil},
		{"90 days", on, user(git, true, key("APKA1", 90, true)), []string{"u ssh_key_age/ssh_key slot=0 age=90 at=90 notify medium next=-"}},
		{"inactive", on, user(git, true, key("APKA1", 200, false)), nil},
		{"not selected", on, user([]string{"dev"}, true, key("APKA1", 200, true)), nil},
		{"not read", on, user(git, false, key("APKA1", 200, true)), nil},
		{"severity", func(c *config.Config) { on(c); c.Rules.SSHKeyAge.Severity = config.SeverityLow },
			user(git, true, key("APKA1", 100, true)), []string{"u ssh_key_age/ssh_key slot=0 age=100 at=90 notify low next=-"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			if diff := cmp.Diff(tt.want, onlyRule(evalUsers(cfg, nil, nil, tt.user), config.RuleSSHKeyAge)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
	cfg := config.Default()
	on(cfg)
	fs := evalUsers(cfg, nil, nil, user(git, true, key("APKA1", 100, true), key("APKA2", 100, true)))
	if len(fs) != 2 || fs[0].ID == fs[1].ID || fs[0].KeyID != "APKA1" || fs[1].KeyID != "APKA2" {
		t.Fatalf("two keys uploaded the same second: %v; want two findings with their IDs, distinct finding IDs", briefs(fs))
	}
	if want := "SSH public key APKA1 is 100 days old (uploaded 2026-03-07; limit 90 days); upload a new one and delete this one"; fs[0].Reason != want {
		t.Errorf("reason = %q; want %q", fs[0].Reason, want)
	}
}

func TestEvaluateRootRecentUse(t *testing.T) {
	root := func(pwUsed, keyUsed int, pwEnabled bool) *inventory.User {
		u := &inventory.User{Name: inventory.RootUserName, CreatedAt: daysAgo(900), PasswordEnabled: pwEnabled, MFAActive: true,
			AccessKeys: []inventory.AccessKey{{Slot: 2, Active: false, CreatedAt: daysAgo(500)}}}
		if pwUsed >= 0 {
			u.PasswordLastUsed = daysAgo(pwUsed)
		}
		if keyUsed >= 0 {
			u.AccessKeys[0].LastUsedAt = daysAgo(keyUsed)
		}
		return u
	}
	tests := []struct {
		name   string
		cfg    func(*config.Config)
		root   *inventory.User
		want   []string
		reason string
		// controls, when set, are the finding's controls (else [CIS 1.7]
		// for a finding with a reason).
		controls []string
	}{
		{name: "password 7 days ago", root: root(7, -1, true),
			want:   []string{"<root_account> root_recent_use/root slot=0 age=7 at=7 notify high next=-"},
			reason: "root user's console password was last used 7 days ago, on 2026-06-08 (within 7 days); use root only for the few tasks that need it"},
		{name: "password 8 days ago", root: root(8, -1, true)},
		{name: "key used later than the password", root: root(6, 1, true),
			want:   []string{"<root_account> root_recent_use/root slot=0 age=1 at=7 notify high next=-"},
			reason: "root user's access key 2 was last used 1 day ago, on 2026-06-14 (within 7 days); use root only for the few tasks that need it"},
		{name: "never used", root: root(-1, -1, true)},
		// A laxer within reports a use the benchmark allows: no control.
		{name: "within 30", cfg: func(c *config.Config) { c.Rules.RootRecentUse.Within = 30 }, root: root(30, -1, true),
			want:   []string{"<root_account> root_recent_use/root slot=0 age=30 at=30 notify high next=-"},
			reason: "root user's console password was last used 30 days ago, on 2026-05-16 (within 30 days); use root only for the few tasks that need it", controls: []string{}},
		{name: "a password that is off does not count", root: root(1, -1, false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			fs := evalUsers(cfg, tt.root, nil)
			if diff := cmp.Diff(tt.want, onlyRule(fs, config.RuleRootRecentUse)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
			if tt.reason != "" {
				f := findingOf(t, fs, inventory.RootUserName, config.RuleRootRecentUse)
				controls := tt.controls
				if controls == nil {
					controls = []string{"CIS 1.7"}
				}
				if f.Reason != tt.reason || len(f.Recipients) != 0 || !cmp.Equal(f.Controls, controls) {
					t.Errorf("reason, recipients, controls = %q, %v, %v; want %q, none, %v", f.Reason, f.Recipients, f.Controls, tt.reason, controls)
				}
			}
		})
	}
}

func TestEvaluatePasswordPolicy(t *testing.T) {
	tests := []struct {
		name     string
		cfg      func(*config.Config)
		known    bool
		pp       *inventory.PasswordPolicy
		controls []string
		reason   string
	}{
		{name: "not read", pp: nil},
		{name: "no policy", known: true, controls: []string{"CIS 1.8", "CIS 1.9"},
			reason: "the account has no password policy, so IAM's defaults apply: minimum length 8 (want at least 14); password reuse not prevented (want the last 24 passwords)"},
		{name: "at the thresholds", known: true, pp: &inventory.PasswordPolicy{MinimumLength: 14, ReusePrevention: 24}},
		{name: "13 characters", known: true, pp: &inventory.PasswordPolicy{MinimumLength: 13, ReusePrevention: 24}, controls: []string{"CIS 1.8"},
			reason: "the account password policy is too weak: minimum length 13 (want at least 14)"},
		{name: "23 passwords", known: true, pp: &inventory.PasswordPolicy{MinimumLength: 20, ReusePrevention: 23}, controls: []string{"CIS 1.9"},
			reason: "the account password policy is too weak: reuse prevented for the last 23 passwords only (want 24)"},
		{name: "reuse not checked", cfg: func(c *config.Config) { c.Rules.PasswordPolicy.ReusePrevention = 0 },
			known: true, pp: &inventory.PasswordPolicy{MinimumLength: 14}},
		// A config stricter than the benchmark finds the policy, but 14
		// characters meet CIS 1.8: the finding fails no control.
		{name: "own thresholds", cfg: func(c *config.Config) { c.Rules.PasswordPolicy.MinLength = 20 },
			known: true, pp: &inventory.PasswordPolicy{MinimumLength: 14, ReusePrevention: 24}, controls: []string{},
			reason: "the account password policy is too weak: minimum length 14 (want at least 20)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			fs := evalUsers(cfg, nil, func(s *inventory.Snapshot) { s.PasswordPolicy, s.PasswordPolicyKnown = tt.pp, tt.known })
			got := onlyRule(fs, config.RulePasswordPolicy)
			if tt.reason == "" {
				if got != nil {
					t.Errorf("findings %v; want none", got)
				}
				return
			}
			f := findingOf(t, fs, policy.AccountUser, config.RulePasswordPolicy)
			if f.Reason != tt.reason || !cmp.Equal(f.Controls, tt.controls) {
				t.Errorf("reason, controls = %q, %v; want %q, %v", f.Reason, f.Controls, tt.reason, tt.controls)
			}
			if f.Credential != policy.CredentialAccount || f.Recipients == nil || len(f.Recipients) != 0 || f.Severity != config.SeverityMedium ||
				f.ID != policy.FindingID(accountID, policy.AccountUser, policy.CredentialAccount, 0, time.Time{}, config.RulePasswordPolicy) {
				t.Errorf("finding %+v; want credential account, no recipients, medium, the account's ID", f)
			}
		})
	}

	// Exempted only by an exemption that selects every user.
	for _, tt := range []struct {
		users  []string
		exempt bool
	}{{[]string{"*"}, true}, {[]string{"alice"}, false}} {
		cfg := config.Default()
		cfg.Exemptions = []config.Exemption{{Users: tt.users, Rules: []string{config.RulePasswordPolicy}, Reason: "policy set by the organization"}}
		f := findingOf(t, evalUsers(cfg, nil, func(s *inventory.Snapshot) { s.PasswordPolicy = nil }), policy.AccountUser, config.RulePasswordPolicy)
		if f.Exempt != tt.exempt {
			t.Errorf("exemption of users %v: exempt = %v; want %v", tt.users, f.Exempt, tt.exempt)
		}
	}
}

func TestEvaluateAccessKeyAtSetup(t *testing.T) {
	created := daysAgo(40)
	user := func(password bool, k inventory.AccessKey) inventory.User {
		return inventory.User{Name: "u", CreatedAt: created, PasswordEnabled: password, MFAActive: true, PasswordLastUsed: daysAgo(1),
			AccessKeys: []inventory.AccessKey{k}}
	}
	key := func(after time.Duration, active bool, used bool) inventory.AccessKey {
		k := inventory.AccessKey{Slot: 1, Active: active, CreatedAt: created.Add(after)}
		if used {
			k.LastUsedAt = daysAgo(1)
		}
		return k
	}
	tests := []struct {
		name string
		user inventory.User
		want []string
	}{
		{"same second", user(true, key(0, true, false)), []string{"u access_key_at_setup/access_key slot=1 age=40 at=0 notify medium next=-"}},
		{"24 hours after", user(true, key(24*time.Hour, true, false)), []string{"u access_key_at_setup/access_key slot=1 age=39 at=0 notify medium next=-"}},
		{"24 hours and a second after", user(true, key(24*time.Hour+time.Second, true, false)), nil},
		{"before the user", user(true, key(-time.Second, true, false)), nil},
		{"used", user(true, key(time.Hour, true, true)), nil},
		{"inactive", user(true, key(time.Hour, false, false)), nil},
		{"no console password", user(false, key(time.Hour, true, false)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := evalUsers(config.Default(), nil, nil, tt.user)
			if diff := cmp.Diff(tt.want, onlyRule(fs, config.RuleAccessKeyAtSetup)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
	f := findingOf(t, evalUsers(config.Default(), nil, nil, user(true, key(3*time.Hour, true, false))), "u", config.RuleAccessKeyAtSetup)
	if want := "access key 1 was created with this console user (3 hours after it, on 2026-05-06) and has never been used; delete it unless a program needs it"; f.Reason != want {
		t.Errorf("reason = %q; want %q", f.Reason, want)
	}
	if !cmp.Equal(f.Controls, []string{"CIS 1.11"}) || !f.KeyActive || !f.KeyCreatedAt.Equal(created.Add(3*time.Hour)) {
		t.Errorf("controls, KeyActive, KeyCreatedAt = %v, %v, %v; want [CIS 1.11], true, the key's creation", f.Controls, f.KeyActive, f.KeyCreatedAt)
	}
}

func TestEvaluateTwoActiveKeysAndConsoleAndKeys(t *testing.T) {
	tests := []struct {
		name string
		user inventory.User
		want []string
	}{
		{"one active, one inactive", inventory.User{Name: "u", AccessKeys: []inventory.AccessKey{accessKey(1, 10, true), accessKey(2, 5, false)}}, nil},
		{"two active", inventory.User{Name: "u", AccessKeys: []inventory.AccessKey{accessKey(1, 10, true), accessKey(2, 5, true)}},
			[]string{"u two_active_keys/user slot=0 age=5 at=0 notify medium next=-"}},
		{"password and an inactive key", inventory.User{Name: "u", PasswordEnabled: true, MFAActive: true, PasswordLastUsed: daysAgo(1),
			AccessKeys: []inventory.AccessKey{accessKey(1, 10, false)}}, nil},
		{"password and an active key", inventory.User{Name: "u", PasswordEnabled: true, MFAActive: true, PasswordLastUsed: daysAgo(1),
			AccessKeys: []inventory.AccessKey{accessKey(1, 10, true)}}, []string{"u console_and_keys/user slot=0 age=0 at=0 notify info next=-"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := evalUsers(config.Default(), nil, nil, tt.user)
			got := append(onlyRule(fs, config.RuleTwoActiveKeys), onlyRule(fs, config.RuleConsoleAndKeys)...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvaluateDormantUser(t *testing.T) {
	const never = -1
	user := func(pwUsed int, keys ...inventory.AccessKey) inventory.User {
		u := inventory.User{Name: "u", CreatedAt: daysAgo(400), AccessKeys: keys}
		if pwUsed != 0 {
			u.PasswordEnabled, u.MFAActive, u.PasswordLastChanged = true, true, daysAgo(300)
		}
		if pwUsed > 0 {
			u.PasswordLastUsed = daysAgo(pwUsed)
		}
		return u
	}
	key := func(slot, created, used int, active bool) inventory.AccessKey {
		k := inventory.AccessKey{Slot: slot, Active: active, CreatedAt: daysAgo(created)}
		if used >= 0 {
			k.LastUsedAt = daysAgo(used)
		}
		return k
	}
	tests := []struct {
		name   string
		user   inventory.User
		want   []string
		reason string
	}{
		{name: "password used 90 days ago", user: user(90),
			want:   []string{"u dormant_user/user slot=0 age=90 at=90 notify medium next=-"},
			reason: "none of this user's credentials (console password) has been used for 90 days or more: the latest use was of its console password, 90 days ago, on 2026-03-17; remove the user if nobody needs it"},
		{name: "password used 89 days ago", user: user(89)},
		{name: "password old, key used lately", user: user(200, key(1, 300, 10, true))},
		{name: "key never used, created 90 days ago", user: user(0, key(1, 90, never, true)),
			want:   []string{"u dormant_user/user slot=0 age=90 at=90 notify medium next=-"},
			reason: "none of this user's credentials (access key 1) has been used for 90 days or more: the newest is its access key 1, created 90 days ago, on 2026-03-17, and never used; remove the user if nobody needs it"},
		{name: "password never used: counts from its last change", user: user(never),
			want: []string{"u dormant_user/user slot=0 age=300 at=90 notify medium next=-"}},
		{name: "only an inactive key", user: user(0, key(1, 300, 200, false))},
		{name: "no credential", user: user(0)},
		{name: "inactive key used lately does not count", user: user(120, key(1, 300, 5, false)),
			want: []string{"u dormant_user/user slot=0 age=120 at=90 notify medium next=-"}},
		{name: "a key without a date leaves it unjudged", user: user(200, inventory.AccessKey{Slot: 1, Active: true})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := evalUsers(config.Default(), nil, nil, tt.user)
			if diff := cmp.Diff(tt.want, onlyRule(fs, config.RuleDormantUser)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
			if tt.reason != "" {
				if f := findingOf(t, fs, "u", config.RuleDormantUser); f.Reason != tt.reason {
					t.Errorf("reason = %q; want %q", f.Reason, tt.reason)
				}
			}
		})
	}
}

// TestEvaluateRootSummary: the account summary, read live, wins over a
// credential report that can be four hours old.
func TestEvaluateRootSummary(t *testing.T) {
	generated := time.Date(2026, 6, 15, 8, 0, 0, 0, time.UTC)
	root := func(mfa bool, keys []inventory.AccessKey, certs []inventory.SigningCert) *inventory.User {
		return &inventory.User{Name: inventory.RootUserName, CreatedAt: daysAgo(900), PasswordEnabled: true, MFAActive: mfa,
			AccessKeys: keys, SigningCerts: certs}
	}
	activeKey := []inventory.AccessKey{{Slot: 1, Active: true, CreatedAt: daysAgo(400)}}
	activeCert := []inventory.SigningCert{{Slot: 1, Active: true, CreatedAt: daysAgo(300)}}
	tests := []struct {
		name    string
		root    *inventory.User
		summary *inventory.AccountSummary
		want    []string
		reasons []string
	}{
		{name: "summary's MFA overrides the report's none", root: root(false, nil, nil),
			summary: &inventory.AccountSummary{RootMFAEnabled: true}},
		{name: "report's MFA, summary none", root: root(true, nil, nil), summary: &inventory.AccountSummary{},
			want: []string{"<root_account> mfa_missing/mfa slot=0 age=900 at=0 notify critical next=-"},
			reasons: []string{"root user has a console password without MFA (user created 900 days ago, on 2023-12-28); " +
				"the account summary reports no MFA device where the credential report of 2026-06-15 showed one"}},
		{name: "a root key only the summary shows", root: root(true, nil, nil),
			summary: &inventory.AccountSummary{RootMFAEnabled: true, RootAccessKeysPresent: true},
			want:    []string{"<root_account> root_access_key/root slot=0 age=0 at=0 notify critical next=-"},
			reasons: []string{"the account summary reports a root access key that the credential report of 2026-06-15 does not show (created since?); root access keys should be deleted"}},
		{name: "a root key the summary no longer has", root: root(true, activeKey, nil),
			summary: &inventory.AccountSummary{RootMFAEnabled: true}},
		{name: "a root key both show", root: root(true, activeKey, nil),
			summary: &inventory.AccountSummary{RootMFAEnabled: true, RootAccessKeysPresent: true},
			want:    []string{"<root_account> root_access_key/root slot=1 age=400 at=0 notify critical next=-"}},
		{name: "a root certificate only the summary shows", root: root(true, nil, nil),
			summary: &inventory.AccountSummary{RootMFAEnabled: true, RootSigningCertsPresent: true},
			want:    []string{"<root_account> root_signing_certificate/root slot=0 age=0 at=0 notify critical next=-"},
			reasons: []string{"the account summary reports a root signing certificate that the credential report of 2026-06-15 does not show (uploaded since?); root signing certificates should be deleted"}},
		{name: "a root certificate the summary no longer has", root: root(true, nil, activeCert),
			summary: &inventory.AccountSummary{RootMFAEnabled: true}},
		{name: "no summary: the report", root: root(false, activeKey, activeCert),
			want: []string{
				"<root_account> root_access_key/root slot=1 age=400 at=0 notify critical next=-",
				"<root_account> root_signing_certificate/root slot=1 age=300 at=0 notify critical next=-",
				"<root_account> mfa_missing/mfa slot=0 age=900 at=0 notify critical next=-",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := evalUsers(config.Default(), tt.root, func(s *inventory.Snapshot) { s.Summary, s.ReportGeneratedAt = tt.summary, generated })
			if diff := cmp.Diff(tt.want, briefs(fs), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
			for i, want := range tt.reasons {
				if i < len(fs) && fs[i].Reason != want {
					t.Errorf("reason %d = %q; want %q", i, fs[i].Reason, want)
				}
			}
		})
	}
}

// TestEvaluateRootWithoutPassword: a root whose password_enabled is false
// (an organization that manages root access centrally) is still told of
// missing MFA while it holds a key, and no finding says it has a console
// password.
func TestEvaluateRootWithoutPassword(t *testing.T) {
	root := &inventory.User{Name: inventory.RootUserName, CreatedAt: daysAgo(900), PasswordEnabled: false,
		AccessKeys:   []inventory.AccessKey{{Slot: 1, Active: true, CreatedAt: daysAgo(400), LastUsedAt: daysAgo(2)}},
		SigningCerts: []inventory.SigningCert{{Slot: 1, Active: true, CreatedAt: daysAgo(300)}}}
	fs := evalUsers(config.Default(), root, nil)
	want := []string{
		"<root_account> root_access_key/root slot=1 age=400 at=0 notify critical next=-",
		"<root_account> root_signing_certificate/root slot=1 age=300 at=0 notify critical next=-",
		"<root_account> root_recent_use/root slot=0 age=2 at=7 notify high next=-",
		"<root_account> mfa_missing/mfa slot=0 age=900 at=0 notify critical next=-",
	}
	if diff := cmp.Diff(want, briefs(fs)); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	for _, f := range fs {
		if strings.Contains(f.Reason, "password") {
			t.Errorf("%s reason %q mentions a password; root has none", f.Rule, f.Reason)
		}
	}
	if f := findingOf(t, fs, inventory.RootUserName, config.RuleMFAMissing); f.Reason != "root user has no MFA device and holds an active access key (slot 1) (user created 900 days ago, on 2023-12-28)" {
		t.Errorf("mfa_missing reason = %q", f.Reason)
	}

	// Without a key or certificate there is nothing to protect with MFA.
	bare := &inventory.User{Name: inventory.RootUserName, CreatedAt: daysAgo(900)}
	if fs := evalUsers(config.Default(), bare, nil); len(fs) != 0 {
		t.Errorf("root without password, keys or MFA: %v; want nothing", briefs(fs))
	}
}

// TestEvaluateExemptionsByRuleName: an exemption scoped to any rule's name
// exempts that rule's findings and no other's.
func TestEvaluateExemptionsByRuleName(t *testing.T) {
	for _, r := range policy.Rules {
		t.Run(r.Name, func(t *testing.T) {
			cfg := everythingConfig()
			cfg.Exemptions = []config.Exemption{{Users: []string{"*"}, Rules: []string{r.Name}, Reason: "scoped"}}
			fs := policy.Evaluate(everythingSnapshot(), cfg, asOf)
			n := 0
			for _, f := range fs {
				if f.Exempt != (f.Rule == r.Name) {
					t.Errorf("%s of %s: exempt = %v; want %v", f.Rule, f.User, f.Exempt, f.Rule == r.Name)
				}
				if f.Rule == r.Name {
					n++
				}
			}
			if n == 0 {
				t.Errorf("no %s finding to exempt", r.Name)
			}
		})
	}
}

// TestEvaluateControls: every finding carries its rule's controls (root's
// for root) when it breaks the benchmark — everythingSnapshot's keys are
// 100 days old (CIS 1.14) and its password unused for 200 days (1.12) —
// and password_policy only those it fails.
func TestEvaluateControls(t *testing.T) {
	for _, f := range policy.Evaluate(everythingSnapshot(), everythingConfig(), asOf) {
		want := policy.ControlsOf(f.Rule, f.User == inventory.RootUserName)
		if f.Rule == config.RulePasswordPolicy {
			want = []string{"CIS 1.8"} // the snapshot's policy prevents reuse of 24
		}
		if f.Controls == nil || !cmp.Equal(f.Controls, want) {
			t.Errorf("%s of %s: controls %#v; want %v", f.Rule, f.User, f.Controls, want)
		}
	}
}

// TestEvaluateControlsAtBenchmarkThresholds: access_key_age carries CIS
// 1.14 only for an active key older than 90 days, whatever stage it
// reached; access_key_unused and password_unused carry CIS 1.12 only
// when unused for 45 days or more, whatever their own after.
func TestEvaluateControlsAtBenchmarkThresholds(t *testing.T) {
	cfg := config.Default()
	cfg.Rules.AccessKeyAge = map[string][]config.Stage{config.DefaultClass: {
		{At: 30, Action: config.ActionNotify}, {At: 200, Action: config.ActionDelete}}}
	cfg.Rules.AccessKeyUnused = &config.UnusedRule{After: 10}
	cfg.Rules.PasswordUnused = &config.UnusedRule{After: 10}
	key := func(age int, active bool) inventory.User {
		return inventory.User{Name: fmt.Sprintf("key-%d-%v", age, active), CreatedAt: daysAgo(400),
			AccessKeys: []inventory.AccessKey{{Slot: 1, Active: active, CreatedAt: daysAgo(age), LastUsedAt: daysAgo(age)}}}
	}
	password := func(unused int) inventory.User {
		return inventory.User{Name: fmt.Sprintf("password-%d", unused), CreatedAt: daysAgo(400), MFAActive: true,
			PasswordEnabled: true, PasswordLastChanged: daysAgo(400), PasswordLastUsed: daysAgo(unused)}
	}
	fs := evalUsers(cfg, nil, nil, key(90, true), key(91, true), key(250, false), key(44, true), key(45, true),
		password(44), password(45))
	tests := []struct {
		user, rule string
		want       []string
	}{
		{"key-90-true", config.RuleAccessKeyAge, []string{}},
		{"key-91-true", config.RuleAccessKeyAge, []string{"CIS 1.14"}},
		{"key-250-false", config.RuleAccessKeyAge, []string{}}, // inactive: the clean-up stage
		{"key-44-true", config.RuleAccessKeyAge, []string{}},
		{"key-44-true", config.RuleAccessKeyUnused, []string{}},
		{"key-45-true", config.RuleAccessKeyUnused, []string{"CIS 1.12"}},
		{"password-44", config.RulePasswordUnused, []string{}},
		{"password-45", config.RulePasswordUnused, []string{"CIS 1.12"}},
	}
	for _, tt := range tests {
		if f := findingOf(t, fs, tt.user, tt.rule); !cmp.Equal(f.Controls, tt.want) {
			t.Errorf("%s of %s (%d days): controls %#v; want %#v", tt.rule, tt.user, f.AgeDays, f.Controls, tt.want)
		}
	}
}
