package forecast

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	ical "github.com/arran4/golang-ical"
	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/golden"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/policy"
)

var (
	asOf      = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	generated = time.Date(2026, 11, 23, 8, 5, 0, 0, time.UTC)
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// hostileName is a user name with iCalendar and terminal metacharacters.
const hostileName = "mallory, the; \\admin\nEND:VEVENT"

// testConfig is the default policy with ssh_key_age on for "dev", plus
// exemptions that end inside the window: vendor's, and one of the rules
// in account 222222222222 that depend on no time (so they change only
// when it ends).
func testConfig() *config.Config {
	cfg := config.Default()
	cfg.Rules.SSHKeyAge = &config.SSHKeyRule{Users: config.Match{Names: []string{"dev"}}, MaxAge: 90}
	until, _ := config.ParseDate("2026-12-01")
	audit, _ := config.ParseDate("2026-12-10")
	cfg.Exemptions = []config.Exemption{
		{Users: []string{"vendor"}, Reason: "vendor rotates", Until: &until},
		{Accounts: []string{"222222222222"}, Reason: "audit in December", Until: &audit, Rules: []string{
			config.RulePasswordPolicy, config.RuleTwoActiveKeys, config.RuleAccessKeyAtSetup, config.RuleConsoleAndKeys,
			config.RuleRootSigningCert,
		}},
	}
	return cfg
}

// testSnapshots are two accounts with credentials whose stage dates are
// known (see TestForecastKnownKeys).
func testSnapshots() []*inventory.Snapshot {
	a := &inventory.Snapshot{
		AccountID: "111111111111", AccountAlias: "prod",
		Users: []inventory.User{
			{Name: "alice", CreatedAt: at("2026-01-01T00:00:00Z"), AccessKeys: []inventory.AccessKey{
				{Slot: 1, ID: "AKIAALICE00000000001", Active: true, CreatedAt: at("2026-09-20T12:00:00Z"), LastUsedAt: at("2026-11-01T00:00:00Z")},
			}},
			{Name: "bot", CreatedAt: at("2026-01-01T00:00:00Z"), Tags: map[string]string{"UserType": "machine"}, AccessKeys: []inventory.AccessKey{
				// 90 days old exactly at as_of: at its last stage already.
				{Slot: 1, Active: true, CreatedAt: at("2026-08-25T08:00:00Z"), LastUsedAt: at("2026-11-22T00:00:00Z")},
			}},
			{Name: "pat", CreatedAt: at("2026-01-01T00:00:00Z"), PasswordEnabled: true,
				PasswordLastChanged: at("2026-09-10T09:00:00Z"), PasswordLastUsed: at("2026-11-20T00:00:00Z")},
			{Name: "vendor", CreatedAt: at("2025-01-01T00:00:00Z"), AccessKeys: []inventory.AccessKey{
				{Slot: 1, Active: true, CreatedAt: at("2026-08-01T00:00:00Z"), LastUsedAt: at("2026-11-22T00:00:00Z")},
			}},
			{Name: hostileName, CreatedAt: at("2026-01-01T00:00:00Z"), AccessKeys: []inventory.AccessKey{
				{Slot: 1, Active: true, CreatedAt: at("2026-10-01T06:00:00Z"), LastUsedAt: at("2026-11-22T00:00:00Z")},
			}},
			{Name: "fresh", CreatedAt: at("2026-11-01T00:00:00Z"), AccessKeys: []inventory.AccessKey{
				{Slot: 1, Active: true, CreatedAt: at("2026-11-01T00:00:00Z"), LastUsedAt: at("2026-11-22T00:00:00Z")},
			}},
		},
		PasswordPolicyKnown: false,
	}
	// b has the credential kinds and rules of issue 16 (see
	// TestForecastKnownKeys for their dates). Its password policy is weak
	// (password_policy), it has service-specific credentials read, and its
	// account summary reports a root signing certificate the report does
	// not show.
	b := &inventory.Snapshot{
		AccountID: "222222222222", PasswordPolicyKnown: true, PasswordPolicy: &inventory.PasswordPolicy{MaxPasswordAge: 60},
		ServiceCredentialsRead: true,
		Summary:                &inventory.AccountSummary{RootMFAEnabled: true, RootAccessKeysPresent: true, RootSigningCertsPresent: true},
		Users: []inventory.User{
			{Name: "pp", CreatedAt: at("2026-01-01T00:00:00Z"), PasswordEnabled: true, MFAActive: true,
				PasswordLastChanged: at("2026-10-01T00:00:00Z"), PasswordLastUsed: at("2026-11-22T00:00:00Z")},
			{Name: "certs", CreatedAt: at("2026-01-01T00:00:00Z"), SigningCerts: []inventory.SigningCert{
				{Slot: 1, ID: "ASCACERTS00000000001", Active: true, CreatedAt: at("2026-09-20T10:00:00Z")},
				{Slot: 2, Active: false, CreatedAt: at("2026-09-01T00:00:00Z")},
			}, SSHKeysRead: true, SSHKeys: []inventory.SSHKey{
				// Not a user ssh_key_age selects: no finding.
				{ID: "APKACERTS00000000001", Active: true, UploadedAt: at("2025-01-01T00:00:00Z")},
			}},
			{Name: "bedrock", CreatedAt: at("2026-01-01T00:00:00Z"), ServiceCredentials: []inventory.ServiceCredential{
				{ID: "ACCABEDROCK000000001", ServiceName: "bedrock.amazonaws.com", Status: inventory.StatusActive,
					CreatedAt: at("2026-11-01T00:00:00Z"), ExpiresAt: at("2026-12-15T12:00:00Z")},
				{ID: "ACCACODECOMMIT000001", ServiceName: "codecommit.amazonaws.com", Status: inventory.StatusActive,
					CreatedAt: at("2026-09-25T06:00:00Z")},
				{ID: "ACCAKEYSPACES0000001", ServiceName: "cassandra.amazonaws.com", Status: inventory.StatusInactive,
					CreatedAt: at("2026-09-10T00:00:00Z")},
			}},
			{Name: "dev", CreatedAt: at("2026-01-01T00:00:00Z"), SSHKeysRead: true, SSHKeys: []inventory.SSHKey{
				{ID: "APKADEV0000000000001", Active: true, UploadedAt: at("2026-09-01T15:00:00Z")},
				{ID: "APKADEV0000000000002", Active: false, UploadedAt: at("2026-01-01T00:00:00Z")},
			}},
			// idle's key reached every stage before as_of; the user goes
			// dormant 90 days after the key's last use.
			{Name: "idle", CreatedAt: at("2026-01-01T00:00:00Z"), Tags: map[string]string{"UserType": "machine"}, AccessKeys: []inventory.AccessKey{
				{Slot: 1, Active: true, CreatedAt: at("2026-06-01T00:00:00Z"), LastUsedAt: at("2026-09-01T03:00:00Z")},
			}},
			// setup: a console user whose first key was made with it and
			// never used, and a second active key: findings that never change
			// but for the exemption's end.
			{Name: "setup", CreatedAt: at("2026-11-10T09:00:00Z"), PasswordEnabled: true, MFAActive: true,
				PasswordLastChanged: at("2026-11-10T09:00:00Z"), PasswordLastUsed: at("2026-11-20T00:00:00Z"),
				AccessKeys: []inventory.AccessKey{
					{Slot: 1, ID: "AKIASETUP00000000001", Active: true, CreatedAt: at("2026-11-10T10:00:00Z")},
					{Slot: 2, ID: "AKIASETUP00000000002", Active: true, CreatedAt: at("2026-11-12T00:00:00Z"), LastUsedAt: at("2026-11-22T00:00:00Z")},
				}},
		},
		// Root used its password on 2026-11-22: root_recent_use (7 days)
		// ends when that is 8 days ago.
		Root: &inventory.User{Name: inventory.RootUserName, PasswordEnabled: true, MFAActive: true,
			PasswordLastUsed: at("2026-11-22T00:00:00Z"), AccessKeys: []inventory.AccessKey{
				{Slot: 1, Active: true, CreatedAt: at("2025-01-01T00:00:00Z")},
			}},
	}
	return []*inventory.Snapshot{a, b}
}

func testForecast() *Forecast {
	return New(testSnapshots(), testConfig(), generated, asOf, 30)
}

// TestForecastKnownKeys: the exact instants and stages of every event.
func TestForecastKnownKeys(t *testing.T) {
	type ev struct {
		at, account, user, rule  string
		stage                    int
		action, severity, change string
		exempt                   bool
	}
	want := []ev{
		// pat's password (offline: max_age 90, warn 14): warned at 76 days.
		{"2026-11-25T09:00:00Z", "111111111111", "pat", "password_expiry", 76, "notify", "medium", "new", false},
		// certs' active certificate: 70 days after 2026-09-20T10:00.
		{"2026-11-29T10:00:00Z", "222222222222", "certs", "signing_certificate_age", 70, "notify", "medium", "new", false},
		// alice's key: 70 days after 2026-09-20T12:00.
		{"2026-11-29T12:00:00Z", "111111111111", "alice", "access_key_age", 70, "notify", "medium", "new", false},
		// root's password, last used 2026-11-22, is 8 days ago: no longer
		// within 7 days.
		{"2026-11-30T00:00:00Z", "222222222222", inventory.RootUserName, "root_recent_use", 7, "notify", "high", "ends", false},
		// certs' inactive certificate reaches the 90-day delete stage.
		{"2026-11-30T00:00:00Z", "222222222222", "certs", "signing_certificate_age", 90, "delete", "high", "new", false},
		// pp's password: the account policy's 60 days.
		{"2026-11-30T00:00:00Z", "222222222222", "pp", "password_expiry", 60, "notify", "high", "stage", false},
		// idle's only key was last used 2026-09-01T03:00.
		{"2026-11-30T03:00:00Z", "222222222222", "idle", "dormant_user", 90, "notify", "medium", "new", false},
		// dev's active SSH key, uploaded 2026-09-01T15:00 (not certs': not
		// selected; not dev's inactive one).
		{"2026-11-30T15:00:00Z", "222222222222", "dev", "ssh_key_age", 90, "notify", "medium", "new", false},
		// The Bedrock key expires on 2026-12-15: warned from midnight 14
		// days before that day; stage_at its 44-day lifetime less 14.
		{"2026-12-01T00:00:00Z", "222222222222", "bedrock", "service_credential_expiry", 30, "notify", "medium", "new", false},
		// vendor's exemption covers 2026-12-01 and ends at midnight after.
		{"2026-12-02T00:00:00Z", "111111111111", "vendor", "access_key_age", 90, "delete", "high", "exemption_ends", false},
		// The CodeCommit credential, created 2026-09-25T06:00.
		{"2026-12-04T06:00:00Z", "222222222222", "bedrock", "service_credential_age", 70, "notify", "medium", "new", false},
		// The inactive Keyspaces credential: its delete stage only.
		{"2026-12-09T00:00:00Z", "222222222222", "bedrock", "service_credential_age", 90, "delete", "high", "new", false},
		{"2026-12-09T09:00:00Z", "111111111111", "pat", "password_expiry", 90, "notify", "high", "stage", false},
		{"2026-12-09T10:00:00Z", "222222222222", "certs", "signing_certificate_age", 80, "disable", "high", "stage", false},
		{"2026-12-09T12:00:00Z", "111111111111", "alice", "access_key_age", 80, "disable", "high", "stage", false},
		{"2026-12-10T06:00:00Z", "111111111111", hostileName, "access_key_age", 70, "notify", "medium", "new", false},
		// The audit exemption of account 222222222222 covers 2026-12-10:
		// the findings that depend on no time become enforceable after it,
		// the account's own (password_policy, as "<account>") and root's
		// certificate that only the account summary reports included.
		{"2026-12-11T00:00:00Z", "222222222222", policy.AccountUser, "password_policy", 0, "notify", "medium", "exemption_ends", false},
		{"2026-12-11T00:00:00Z", "222222222222", inventory.RootUserName, "root_signing_certificate", 0, "notify", "critical", "exemption_ends", false},
		{"2026-12-11T00:00:00Z", "222222222222", "setup", "access_key_at_setup", 0, "notify", "medium", "exemption_ends", false},
		{"2026-12-11T00:00:00Z", "222222222222", "setup", "console_and_keys", 0, "notify", "info", "exemption_ends", false},
		{"2026-12-11T00:00:00Z", "222222222222", "setup", "two_active_keys", 0, "notify", "medium", "exemption_ends", false},
		{"2026-12-14T06:00:00Z", "222222222222", "bedrock", "service_credential_age", 80, "disable", "high", "stage", false},
		// The Bedrock key expires at 12:00: stage_at its lifetime, severity
		// raised to high.
		{"2026-12-15T12:00:00Z", "222222222222", "bedrock", "service_credential_expiry", 44, "notify", "high", "stage", false},
		// alice's key was last used 2026-11-01: unused for 45 days.
		{"2026-12-16T00:00:00Z", "111111111111", "alice", "access_key_unused", 45, "notify", "medium", "new", false},
		{"2026-12-19T10:00:00Z", "222222222222", "certs", "signing_certificate_age", 90, "delete", "high", "stage", false},
		{"2026-12-19T12:00:00Z", "111111111111", "alice", "access_key_age", 90, "delete", "high", "stage", false},
		{"2026-12-20T06:00:00Z", "111111111111", hostileName, "access_key_age", 80, "disable", "high", "stage", false},
	}
	fc := testForecast()
	var got []ev
	for _, e := range fc.Events {
		got = append(got, ev{e.At.Format(time.RFC3339), e.Account, e.User, e.Rule, e.StageAt, e.Action, e.Severity, e.Change, e.Exempt})
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(ev{})); diff != "" {
		t.Errorf("New() events differ (-want +got):\n%s", diff)
	}
	if fc.Until != at("2026-12-23T08:00:00Z") {
		t.Errorf("Until = %s; want as_of + 30 days", fc.Until)
	}
	for _, e := range fc.Events {
		if e.On.String() != e.At.Format("2006-01-02") {
			t.Errorf("event %s %s: On = %s; want At's UTC day", e.User, e.Rule, e.On)
		}
		if e.User == "alice" && e.KeyID != "AKIAALICE00000000001" {
			t.Errorf("alice's event key ID = %q; want the snapshot's", e.KeyID)
		}
	}
	// Each credential's ID (and a service-specific credential's service)
	// is on its events; the inactive certificate's ID is unknown.
	type id struct{ user, rule, keyID, service string }
	var ids []id
	for _, e := range fc.Events {
		if e.Account == "222222222222" && e.KeyID+e.Service != "" {
			ids = append(ids, id{e.User, e.Rule, e.KeyID, e.Service})
		}
	}
	wantIDs := []id{
		{"certs", "signing_certificate_age", "ASCACERTS00000000001", ""},
		{"dev", "ssh_key_age", "APKADEV0000000000001", ""},
		{"bedrock", "service_credential_expiry", "ACCABEDROCK000000001", "bedrock.amazonaws.com"},
		{"bedrock", "service_credential_age", "ACCACODECOMMIT000001", "codecommit.amazonaws.com"},
		{"bedrock", "service_credential_age", "ACCAKEYSPACES0000001", "cassandra.amazonaws.com"},
		{"certs", "signing_certificate_age", "ASCACERTS00000000001", ""},
		{"setup", "access_key_at_setup", "AKIASETUP00000000001", ""},
		{"bedrock", "service_credential_age", "ACCACODECOMMIT000001", "codecommit.amazonaws.com"},
		{"bedrock", "service_credential_expiry", "ACCABEDROCK000000001", "bedrock.amazonaws.com"},
		{"certs", "signing_certificate_age", "ASCACERTS00000000001", ""},
	}
	if diff := cmp.Diff(wantIDs, ids, cmp.AllowUnexported(id{})); diff != "" {
		t.Errorf("events' credential IDs and services differ (-want +got):\n%s", diff)
	}
}

// TestForecastCoversTheRules: the fixtures give an event of every rule
// whose findings can change with time or an exemption's end, so the tests
// that compare the forecast with Evaluate exercise each of them.
func TestForecastCoversTheRules(t *testing.T) {
	snaps, cfg := exemptThenDue()
	seen := map[string]bool{}
	for _, e := range New(snaps, cfg, generated, asOf, 30).Events {
		seen[e.Rule] = true
		seen["change "+e.Change] = true
	}
	for _, want := range []string{
		config.RuleAccessKeyAge, config.RuleAccessKeyUnused, config.RulePasswordExpiry,
		config.RuleSigningCertAge, config.RuleRootSigningCert, config.RuleServiceCredentialAge,
		config.RuleServiceCredentialExpiry, config.RuleSSHKeyAge, config.RuleRootRecentUse,
		config.RulePasswordPolicy, config.RuleAccessKeyAtSetup, config.RuleTwoActiveKeys,
		config.RuleConsoleAndKeys, config.RuleDormantUser,
		"change " + ChangeNew, "change " + ChangeStage, "change " + ChangeExemptionEnds, "change " + ChangeEnds,
	} {
		if !seen[want] {
			t.Errorf("no event of %s; the fixtures must give one", want)
		}
	}
}

// TestForecastEnds: a finding that stops applying is an "ends" event at
// the first instant Evaluate no longer returns it, carrying the stage it
// had and its last reason.
func TestForecastEnds(t *testing.T) {
	snaps, cfg := testSnapshots(), testConfig()
	var ends []Event
	for _, e := range New(snaps, cfg, generated, asOf, 30).Events {
		if e.Change == ChangeEnds {
			ends = append(ends, e)
		}
	}
	if len(ends) != 1 {
		t.Fatalf("%d ends events; want root_recent_use's alone: %+v", len(ends), ends)
	}
	e := ends[0]
	before, ok := findingsAt(snaps, cfg, e.At.Add(-time.Nanosecond))[e.FindingID]
	if !ok {
		t.Fatalf("Evaluate a nanosecond before %s has no finding %s", e.At, e.FindingID)
	}
	if _, still := findingsAt(snaps, cfg, e.At)[e.FindingID]; still {
		t.Errorf("Evaluate at %s still has finding %s", e.At, e.FindingID)
	}
	if e.StageAt != before.StageAt || e.Action != before.Action || e.Severity != before.Severity || e.NextStageOn != nil {
		t.Errorf("ends event = %+v; want the stage of %+v and no next_stage_on", e, before)
	}
	want := "the finding ends: the rule no longer applies from this instant; until then: " + before.Reason
	if e.Reason != want || !strings.Contains(e.Reason, "last used 7 days ago") {
		t.Errorf("ends reason = %q; want %q (7 days ago)", e.Reason, want)
	}
	if got, want := Summary(&e), "keywarden: ends: root user used within 7 days"; got != want {
		t.Errorf("Summary = %q; want %q", got, want)
	}
	if got := EventUID(&e); got != e.FindingID+"-root_recent_use-7-notify-ends@keywarden" {
		t.Errorf("EventUID = %q", got)
	}
}

// TestForecastNextStageOnAgrees: a stage event's day is the next_stage_on
// that Evaluate gives the finding a second before, for every rule.
func TestForecastNextStageOnAgrees(t *testing.T) {
	fc := testForecast()
	snaps := testSnapshots()
	n := 0
	for _, e := range fc.Events {
		if e.Change != ChangeStage {
			continue
		}
		n++
		before := findingsAt(snaps, testConfig(), e.At.Add(-time.Second))
		f, ok := before[e.FindingID]
		if !ok || f.NextStageOn == nil || f.NextStageOn.String() != e.On.String() {
			t.Errorf("%s %s: Evaluate a second before says next_stage_on %v; want %s", e.User, e.Rule, f.NextStageOn, e.On)
		}
	}
	if n != 9 {
		t.Errorf("compared %d stage events; want the fixtures' 9", n)
	}
}

func findingsAt(snaps []*inventory.Snapshot, cfg *config.Config, t time.Time) map[string]policy.Finding {
	m := map[string]policy.Finding{}
	for _, s := range snaps {
		for _, f := range policy.Evaluate(s, cfg, t) {
			m[f.ID] = f
		}
	}
	return m
}

// TestForecastEqualsSteppingEvaluate replays the events over the stages at
// as_of and compares the result with Evaluate over the whole snapshots,
// every hour of the window and a nanosecond either side of every event.
func TestForecastEqualsSteppingEvaluate(t *testing.T) {
	cfg, snaps := testConfig(), testSnapshots()
	stepsAgree(t, snaps, cfg)
}

// stepsAgree is TestForecastEqualsSteppingEvaluate for snaps under cfg.
func stepsAgree(t *testing.T, snaps []*inventory.Snapshot, cfg *config.Config) {
	t.Helper()
	fc := New(snaps, cfg, generated, asOf, 30)
	stages := func(m map[string]policy.Finding) map[string]stage {
		out := map[string]stage{}
		for id, f := range m {
			out[id] = stageOf(&f)
		}
		return out
	}
	start := stages(findingsAt(snaps, cfg, asOf))
	replay := func(t time.Time) map[string]stage {
		s := maps.Clone(start)
		for _, e := range fc.Events {
			switch {
			case e.At.After(t):
			case e.Change == ChangeEnds:
				delete(s, e.FindingID)
			default:
				s[e.FindingID] = stage{e.StageAt, e.Action, e.Severity, e.Exempt}
			}
		}
		return s
	}
	var instants []time.Time
	for h := 0; h <= 30*24; h++ {
		instants = append(instants, asOf.Add(time.Duration(h)*time.Hour))
	}
	for _, e := range fc.Events {
		instants = append(instants, e.At.Add(-time.Nanosecond), e.At, e.At.Add(time.Nanosecond))
	}
	for _, at := range instants {
		want := stages(findingsAt(snaps, cfg, at))
		if diff := cmp.Diff(want, replay(at), cmp.AllowUnexported(stage{})); diff != "" {
			t.Fatalf("at %s the forecast differs from Evaluate (-evaluate +forecast):\n%s", at.Format(time.RFC3339Nano), diff)
		}
	}
}

// TestForecastUnknownAgeEnds: an active key whose creation date is after
// as_of has an access_key_unknown_age finding until that instant, which
// ends then (and the key's age rules start counting).
func TestForecastUnknownAgeEnds(t *testing.T) {
	snaps := []*inventory.Snapshot{{AccountID: "444444444444", Users: []inventory.User{
		{Name: "skewed", CreatedAt: at("2026-01-01T00:00:00Z"), AccessKeys: []inventory.AccessKey{
			{Slot: 1, Active: true, CreatedAt: at("2026-11-25T06:30:00Z")},
		}},
	}}}
	cfg := config.Default()
	stepsAgree(t, snaps, cfg)
	var got []string
	for _, e := range New(snaps, cfg, generated, asOf, 30).Events {
		got = append(got, e.At.Format(time.RFC3339)+" "+e.Rule+" "+e.Change)
	}
	want := []string{"2026-11-25T06:30:00Z access_key_unknown_age ends"}
	if !slices.Equal(got, want) {
		t.Errorf("events = %q; want %q", got, want)
	}
}

func TestForecastWindow(t *testing.T) {
	for _, tt := range []struct {
		days int
		want int
	}{{0, 0}, {2, 0}, {3, 1}, {7, 7}, {30, 27}} {
		if got := len(New(testSnapshots(), testConfig(), generated, asOf, tt.days).Events); got != tt.want {
			t.Errorf("New(days=%d) = %d events; want %d", tt.days, got, tt.want)
		}
	}
	if fc := New(nil, nil, generated, asOf, 30); fc.Events == nil || len(fc.Events) != 0 {
		t.Errorf("New(no config) = %+v; want no events, not nil", fc.Events)
	}
}

func renderString(t *testing.T, fc *Forecast, format string) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, fc, format, 0); err != nil {
		t.Fatalf("Render(%s) = %v", format, err)
	}
	return b.String()
}

func TestRenderGolden(t *testing.T) {
	empty := New(nil, testConfig(), generated, asOf, 30)
	for _, tt := range []struct {
		file   string
		fc     *Forecast
		format string
	}{
		{"forecast.table.golden", testForecast(), FormatTable},
		{"forecast.json.golden", testForecast(), FormatJSON},
		{"forecast.ics.golden", testForecast(), FormatICS},
		{"empty.table.golden", empty, FormatTable},
		{"empty.json.golden", empty, FormatJSON},
		{"empty.ics.golden", empty, FormatICS},
	} {
		t.Run(tt.file, func(t *testing.T) {
			golden.Assert(t, renderString(t, tt.fc, tt.format), filepath.Join("testdata", tt.file))
		})
	}
}

// TestRenderTableWidths: the table at 80 and 200 columns (a terminal) and
// piped (no width: every row one whole line); at 80 names wrap and STAGE
// and ACTION give way, no line is wider than the terminal and no name is
// cut.
func TestRenderTableWidths(t *testing.T) {
	for _, tt := range []struct {
		file  string
		width int
	}{{"forecast.table80.golden", 80}, {"forecast.table200.golden", 200}, {"forecast.table.golden", 0}} {
		t.Run(tt.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := Render(&b, testForecast(), FormatTable, tt.width); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			golden.Assert(t, out, filepath.Join("testdata", tt.file))
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			for i, l := range lines[2:] { // the heading is one line, as a log line is
				if n := utf8.RuneCountInString(l); tt.width > 0 && n > tt.width {
					t.Errorf("line %d is %d runes, wider than %d: %q", i+3, n, tt.width, l)
				}
			}
			if tt.width == 0 && len(lines) != 3+len(testForecast().Events) {
				t.Errorf("piped table is %d lines; want a heading, a blank, the header and one line per event (%d):\n%s",
					len(lines), len(testForecast().Events), out)
			}
			if strings.Contains(out, "…") {
				t.Errorf("table truncates:\n%s", out)
			}
		})
	}
}

// TestICSParsesBack: the calendar parses with an iCalendar parser into one
// all-day event per forecast event, with stable UIDs, the right days and
// the hostile user name intact.
func TestICSParsesBack(t *testing.T) {
	fc := testForecast()
	out := renderString(t, fc, FormatICS)
	for i, line := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
		if strings.Contains(line, "\n") || len(line) > 75 {
			t.Errorf("line %d is %d octets or has a bare LF: %q; want CRLF lines of at most 75 octets", i+1, len(line), line)
		}
	}
	cal, err := ical.ParseCalendar(strings.NewReader(out))
	if err != nil {
		t.Fatalf("ParseCalendar = %v", err)
	}
	events := cal.Events()
	if len(events) != len(fc.Events) {
		t.Fatalf("parsed %d events; want %d", len(events), len(fc.Events))
	}
	seen := map[string]bool{}
	for i, ev := range events {
		e := fc.Events[i]
		if got := ev.Id(); got != EventUID(&e) || seen[got] {
			t.Errorf("event %d UID = %q; want unique %q", i, got, EventUID(&e))
		}
		seen[ev.Id()] = true
		start, err := ev.GetAllDayStartAt()
		if err != nil || start.Format("2006-01-02") != e.On.String() {
			t.Errorf("event %d DTSTART = %v (%v); want %s", i, start, err, e.On)
		}
		end, err := ev.GetAllDayEndAt()
		if err != nil || end.Format("2006-01-02") != e.On.AddDate(0, 0, 1).Format("2006-01-02") {
			t.Errorf("event %d DTEND = %v (%v); want the day after", i, end, err)
		}
		if got := ev.GetProperty(ical.ComponentPropertySummary).Value; got != Summary(&e) {
			t.Errorf("event %d SUMMARY = %q; want %q", i, got, Summary(&e))
		}
		var cats []string
		for _, p := range ev.GetProperties(ical.ComponentPropertyCategories) {
			cats = append(cats, p.Value)
		}
		if want := []string{"keywarden", e.Rule, e.Severity}; !slices.Equal(cats, want) {
			t.Errorf("event %d CATEGORIES = %q; want %q", i, cats, want)
		}
	}
	hostile := fc.Events[slices.IndexFunc(fc.Events, func(e Event) bool { return e.User == hostileName })]
	want := "keywarden: notify access key 1 of mallory, the; \\admin\uFFFDEND:VEVENT (70 days old)"
	if got := Summary(&hostile); got != want {
		t.Errorf("Summary(hostile) = %q; want %q", got, want)
	}
	if strings.Count(out, "\r\nEND:VEVENT\r\n") != len(fc.Events) {
		t.Errorf("the calendar has %d END:VEVENT lines; want %d (a user name must not end an event)", strings.Count(out, "\r\nEND:VEVENT\r\n"), len(fc.Events))
	}
}

// exemptThenDue is testSnapshots plus a key that reaches its delete stage
// while exempt (90 days on 2026-11-30) and whose exemption ends inside the
// window (after 2026-12-05): two events of one finding at one stage and
// action, first exempt, then not.
func exemptThenDue() ([]*inventory.Snapshot, *config.Config) {
	cfg := testConfig()
	until, _ := config.ParseDate("2026-12-05")
	cfg.Exemptions = append(cfg.Exemptions, config.Exemption{Users: []string{"contractor"}, Reason: "leaves in December", Until: &until})
	snap := &inventory.Snapshot{AccountID: "333333333333", Users: []inventory.User{
		{Name: "contractor", CreatedAt: at("2026-01-01T00:00:00Z"), AccessKeys: []inventory.AccessKey{
			{Slot: 1, Active: true, CreatedAt: at("2026-09-01T00:00:00Z"), LastUsedAt: at("2026-11-22T00:00:00Z")},
		}},
	}}
	return append(testSnapshots(), snap), cfg
}

// TestICSUIDsUnique: every event of a forecast has its own UID, also when
// a key reaches a stage while exempt and the exemption ends later in the
// window (calendar clients keep one event per UID).
func TestICSUIDsUnique(t *testing.T) {
	snaps, cfg := exemptThenDue()
	fc := New(snaps, cfg, generated, asOf, 30)
	var contractor []string
	for _, e := range fc.Events {
		if e.User == "contractor" {
			contractor = append(contractor, fmt.Sprintf("%s %s %d %s exempt=%v %s", e.On, e.Rule, e.StageAt, e.Action, e.Exempt, EventUID(&e)))
		}
	}
	i := slices.IndexFunc(fc.Events, func(e Event) bool { return e.User == "contractor" })
	if i < 0 {
		t.Fatal("the forecast has no event of contractor; want two")
	}
	id := fc.Events[i].FindingID
	want := []string{
		"2026-11-30 access_key_age 90 delete exempt=true " + id + "-access_key_age-90-delete-exempt@keywarden",
		"2026-12-06 access_key_age 90 delete exempt=false " + id + "-access_key_age-90-delete@keywarden",
	}
	if !slices.Equal(contractor, want) {
		t.Errorf("contractor's events = %q; want %q", contractor, want)
	}

	cal, err := ical.ParseCalendar(strings.NewReader(renderString(t, fc, FormatICS)))
	if err != nil {
		t.Fatalf("ParseCalendar = %v", err)
	}
	seen := map[string]int{}
	for _, ev := range cal.Events() {
		seen[ev.Id()]++
	}
	for uid, n := range seen {
		if n > 1 {
			t.Errorf("UID %s is on %d events; want each UID once", uid, n)
		}
	}
	if len(seen) != len(fc.Events) {
		t.Errorf("the calendar has %d distinct UIDs; want %d, one per event", len(seen), len(fc.Events))
	}
}

// TestICSUIDsStableAcrossRuns: an event keeps its UID when the forecast is
// made again days later (a subscribed calendar updates it in place).
func TestICSUIDsStableAcrossRuns(t *testing.T) {
	snaps, cfg := exemptThenDue()
	first := New(snaps, cfg, generated, asOf, 30)
	later := New(snaps, cfg, generated, asOf.Add(3*24*time.Hour), 30)
	compared, exempt := 0, 0
	for _, e := range later.Events {
		i := slices.IndexFunc(first.Events, func(f Event) bool { return f.FindingID == e.FindingID && f.At.Equal(e.At) })
		if i < 0 {
			continue
		}
		compared++
		if e.Exempt {
			exempt++
		}
		if a, b := EventUID(&first.Events[i]), EventUID(&e); a != b {
			t.Errorf("%s %s on %s: UID %s, three days later %s; want the same", e.User, e.Rule, e.On, a, b)
		}
	}
	if compared < 5 || exempt == 0 {
		t.Errorf("compared %d events (%d exempt); want at least 5, one of them exempt", compared, exempt)
	}
}

func TestJSONDecodes(t *testing.T) {
	fc := testForecast()
	var got Forecast
	dec := json.NewDecoder(strings.NewReader(renderString(t, fc, FormatJSON)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decode the JSON forecast: %v", err)
	}
	if diff := cmp.Diff(fc, &got); diff != "" {
		t.Errorf("JSON forecast decoded differs (-want +got):\n%s", diff)
	}
	if got.Schema != "keywarden.forecast/v1" {
		t.Errorf("schema = %q", got.Schema)
	}
}

func TestTableCleansText(t *testing.T) {
	out := renderString(t, testForecast(), FormatTable)
	if strings.Contains(out, "\\admin\nEND") {
		t.Error("the table prints a user name's line break")
	}
	if !strings.HasPrefix(out, "Forecast from 2026-11-23T08:00:00Z to 2026-12-23T08:00:00Z (30 days): 27 stage changes\n") {
		t.Errorf("table heading = %q", strings.SplitN(out, "\n", 2)[0])
	}
}

func TestRenderUnknownFormat(t *testing.T) {
	err := Render(&bytes.Buffer{}, testForecast(), "xml", 0)
	if err == nil || err.Error() != `unknown forecast format "xml": want one of table, json, ics` {
		t.Errorf("Render(xml) = %v", err)
	}
}

// BenchmarkForecast: 5000 users with two keys and a password each, 90 days.
func BenchmarkForecast(b *testing.B) {
	snap := &inventory.Snapshot{AccountID: "111111111111"}
	for i := range 5000 {
		created := asOf.Add(-time.Duration(i%120)*24*time.Hour - time.Duration(i)*time.Minute)
		snap.Users = append(snap.Users, inventory.User{
			Name: fmt.Sprintf("user%05d", i), CreatedAt: created, PasswordEnabled: i%3 == 0, PasswordLastChanged: created,
			AccessKeys: []inventory.AccessKey{
				{Slot: 1, Active: true, CreatedAt: created, LastUsedAt: created.Add(24 * time.Hour)},
				{Slot: 2, Active: true, CreatedAt: created.Add(10 * 24 * time.Hour)},
			},
		})
	}
	cfg := config.Default()
	b.ReportAllocs()
	for b.Loop() {
		New([]*inventory.Snapshot{snap}, cfg, generated, asOf, 90)
	}
}
