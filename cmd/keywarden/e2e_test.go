package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/golden"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/testenv"
)

// binary is the keywarden binary built once for these tests.
var binary string

func TestMain(m *testing.M) { os.Exit(testenv.MainWithBinary(m, ".", &binary)) }

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// keywarden runs the binary with args in env (plus PATH/HOME) and dir.
func keywarden(t *testing.T, env []string, dir string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run keywarden %v: %v", args, err)
	}
	return result{code, stdout.String(), stderr.String()}
}

const e2eConfig = `version: 1
classes:
  - name: machine
    match: { tags: { UserType: machine } }
  - name: contractor
    match: { path_prefix: /contractors/ }
rules:
  access_key_age:
    human:
      - { at: 70, action: notify }
      - { at: 80, action: disable }
      - { at: 90, action: delete }
    contractor:
      - { at: 30, action: notify }
      - { at: 45, action: disable }
  access_key_unused: { after: 45 }
  password_expiry: { warn_before: 14, max_age: 90 }
  password_unused: { after: 90 }
exemptions:
  - { users: ["ci-legacy"], reason: "vendor rotates on 2099-01-31", until: 2099-01-31 }
  - { tags: { "keywarden:exempt": "true" }, reason: "managed elsewhere" }
  - { groups: ["breakglass"], reason: "break-glass users are audited separately" }
  - { users: ["old-exempt"], reason: "was being rotated", until: 2020-01-01 }
notify:
  users: { email_tags: [Email, OwnerEmail], username_is_email: true, allowed_domains: [example.com] }
`

// e2eUsers seeds every rule. Keys are used a day ago unless said otherwise.
func e2eUsers() []testenv.SeedUser {
	key := func(age int) testenv.SeedKey { return testenv.SeedKey{AgeDays: age, LastUsedDaysAgo: 1} }
	user := func(name string, keys ...testenv.SeedKey) testenv.SeedUser {
		return testenv.SeedUser{Name: name, Tags: map[string]string{"Email": name + "@example.com"}, Keys: keys,
			PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1}
	}
	withPassword := func(u testenv.SeedUser, age, lastUsed int, mfa bool) testenv.SeedUser {
		u.PasswordAgeDays, u.PasswordLastUsedDaysAgo, u.MFA = age, lastUsed, mfa
		return u
	}
	tagged := func(u testenv.SeedUser, k, v string) testenv.SeedUser {
		u.Tags[k] = v
		return u
	}
	machine := func(name string, age int) testenv.SeedUser {
		return tagged(user(name, key(age)), "UserType", "machine")
	}
	contractor := user("contractor50", key(50))
	contractor.Path = "/contractors/"
	breakglass := user("breakglass", key(100))
	breakglass.Groups = []string{"breakglass"}
	dana := user("dana@example.com", key(75))
	dana.Tags = nil
	foreign := user("foreign", key(75))
	foreign.Tags = map[string]string{"Email": "eve@evil.test"}
	badTag := user("badtag", key(75))
	badTag.Tags = map[string]string{"Email": "not an address", "OwnerEmail": "frank@example.com"}
	return []testenv.SeedUser{
		user("fresh", key(10)),
		user("age69", key(69)),
		user("age70", key(70)),
		user("age79", key(79)),
		user("age80", key(80)),
		user("age89", key(89)),
		user("age90", key(90)),
		user("twokeys", key(95), key(10)),
		user("inactive100", testenv.SeedKey{AgeDays: 100, LastUsedDaysAgo: 98, Inactive: true}),
		user("inactive85", testenv.SeedKey{AgeDays: 85, LastUsedDaysAgo: 84, Inactive: true}),
		user("neverused50", testenv.SeedKey{AgeDays: 50, LastUsedDaysAgo: -1}),
		user("unused44", testenv.SeedKey{AgeDays: 60, LastUsedDaysAgo: 44}),
		user("unused45", testenv.SeedKey{AgeDays: 60, LastUsedDaysAgo: 45}),
		machine("machine75", 75),
		machine("machine85", 85),
		machine("machine95", 95),
		contractor,
		user("ci-legacy", key(120)),
		tagged(user("tagexempt", key(100)), "keywarden:exempt", "true"),
		breakglass,
		user("old-exempt", key(100)),
		withPassword(user("pw-ok"), 10, 1, true),
		withPassword(user("pw-warn"), 50, 1, true),
		withPassword(user("pw-expired"), 70, 1, true),
		withPassword(user("pw-unused"), 100, -1, true),
		withPassword(user("pw-unused-used"), 120, 95, true),
		withPassword(user("nomfa"), 5, 1, false),
		withPassword(user("nomfa-key", key(72)), 72, 1, false),
		dana,
		foreign,
		badTag,
		user("nocreds"),
		withPassword(user("compliant", key(20)), 20, 1, true),
	}
}

// want is the projection of a finding this test checks. nextStage is the
// number of days after the credential was created or set (-1: none).
type want struct {
	User, Class, Credential string
	Slot                    int
	Rule                    string
	AgeDays, StageAt        int
	DaysLeft                *int
	Action, Severity        string
	NextStage               int
	Exempt                  bool
	Recipients              []string
}

func intp(n int) *int { return &n }

// e2eWant lists every finding the seeded account must produce, and no other.
func e2eWant() []want {
	k := func(user string, slot, age, at int, action, sev string, next int) want {
		return want{User: user, Class: "human", Credential: "access_key", Slot: slot, Rule: "access_key_age",
			AgeDays: age, StageAt: at, Action: action, Severity: sev, NextStage: next, Recipients: []string{user + "@example.com"}}
	}
	unused := func(user string, age int) want {
		return want{User: user, Class: "human", Credential: "access_key", Slot: 1, Rule: "access_key_unused",
			AgeDays: age, StageAt: 45, Action: "notify", Severity: "medium", NextStage: -1, Recipients: []string{user + "@example.com"}}
	}
	pw := func(user, rule string, age, at int, left *int, sev string, next int) want {
		return want{User: user, Class: "human", Credential: "password", Rule: rule, AgeDays: age, StageAt: at,
			DaysLeft: left, Action: "notify", Severity: sev, NextStage: next, Recipients: []string{user + "@example.com"}}
	}
	class := func(w want, c string) want { w.Class = c; return w }
	exempt := func(w want) want { w.Exempt = true; return w }
	to := func(w want, r ...string) want { w.Recipients = append([]string{}, r...); return w }
	// The rules about the user as a whole (dormant_user, console_and_keys,
	// two_active_keys).
	user := func(name, rule string, age, at int, sev string) want {
		return want{User: name, Class: "human", Credential: "user", Rule: rule, AgeDays: age, StageAt: at,
			Action: "notify", Severity: sev, NextStage: -1, Recipients: []string{name + "@example.com"}}
	}
	return []want{
		// The test's password policy (length 14, MaxPasswordAge 60) does
		// not prevent password reuse (CIS 1.9).
		{User: "<account>", Credential: "account", Rule: "password_policy", Action: "notify", Severity: "medium",
			NextStage: -1, Recipients: []string{}},
		k("age70", 1, 70, 70, "notify", "medium", 80),
		k("age79", 1, 79, 70, "notify", "medium", 80),
		k("age80", 1, 80, 80, "disable", "high", 90),
		k("age89", 1, 89, 80, "disable", "high", 90),
		k("age90", 1, 90, 90, "delete", "high", -1),
		to(k("badtag", 1, 75, 70, "notify", "medium", 80), "frank@example.com"),
		exempt(k("breakglass", 1, 100, 90, "delete", "high", -1)),
		exempt(k("ci-legacy", 1, 120, 90, "delete", "high", -1)),
		user("compliant", "console_and_keys", 0, 0, "info"),
		class(k("contractor50", 1, 50, 45, "disable", "high", -1), "contractor"),
		to(k("dana@example.com", 1, 75, 70, "notify", "medium", 80), "dana@example.com"),
		to(k("foreign", 1, 75, 70, "notify", "medium", 80)),
		// An inactive key gets only the clean-up (delete) stage.
		k("inactive100", 1, 100, 90, "delete", "high", -1),
		class(k("machine75", 1, 75, 70, "notify", "medium", 80), "machine"),
		class(k("machine85", 1, 85, 80, "notify", "high", 90), "machine"),
		class(k("machine95", 1, 95, 90, "notify", "critical", -1), "machine"),
		unused("neverused50", 50),
		{User: "nomfa", Class: "human", Credential: "mfa", Rule: "mfa_missing", AgeDays: 5, Action: "notify",
			Severity: "high", NextStage: -1, Recipients: []string{"nomfa@example.com"}},
		k("nomfa-key", 1, 72, 70, "notify", "medium", 80),
		{User: "nomfa-key", Class: "human", Credential: "mfa", Rule: "mfa_missing", AgeDays: 72, Action: "notify",
			Severity: "high", NextStage: -1, Recipients: []string{"nomfa-key@example.com"}},
		pw("nomfa-key", "password_expiry", 72, 60, intp(-12), "high", -1),
		user("nomfa-key", "console_and_keys", 0, 0, "info"),
		k("old-exempt", 1, 100, 90, "delete", "high", -1),
		// The account password policy (MaxPasswordAge 60) wins over max_age 90.
		pw("pw-expired", "password_expiry", 70, 60, intp(-10), "high", -1),
		pw("pw-unused", "password_expiry", 100, 60, intp(-40), "high", -1),
		pw("pw-unused", "password_unused", 100, 90, nil, "medium", -1),
		user("pw-unused", "dormant_user", 100, 90, "medium"),
		pw("pw-unused-used", "password_expiry", 120, 60, intp(-60), "high", -1),
		pw("pw-unused-used", "password_unused", 95, 90, nil, "medium", -1),
		user("pw-unused-used", "dormant_user", 95, 90, "medium"),
		pw("pw-warn", "password_expiry", 50, 46, intp(10), "medium", 60),
		exempt(k("tagexempt", 1, 100, 90, "delete", "high", -1)),
		k("twokeys", 1, 95, 90, "delete", "high", -1),
		user("twokeys", "two_active_keys", 10, 0, "medium"),
		unused("unused45", 45),
	}
}

func TestScanEndToEnd(t *testing.T) {
	m := testenv.Moto(t)
	users := e2eUsers()
	seedStart := time.Now().UTC()
	keyIDs := m.Seed(t, users)
	seedEnd := time.Now().UTC()
	_, err := iam.NewFromConfig(m.Config(t)).UpdateAccountPasswordPolicy(context.Background(),
		&iam.UpdateAccountPasswordPolicyInput{MaxPasswordAge: aws.Int32(60), MinimumPasswordLength: aws.Int32(14)})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keywarden.yaml"), []byte(e2eConfig), 0o644); err != nil {
		t.Fatal(err)
	}

	// keywarden.yaml in the working directory is read without --config.
	r := keywarden(t, m.Env(), dir, "scan", "--format", "json")
	if r.code != 0 {
		t.Fatalf("keywarden scan exit %d\nstderr: %s", r.code, r.stderr)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, r.stdout)
	}
	checkReportKeys(t, r.stdout)

	// Every finding, and nothing else.
	var got []want
	byUser := map[string]testenv.SeedUser{}
	for _, u := range users {
		byUser[u.Name] = u
	}
	for _, f := range rep.Findings {
		w := want{User: f.User, Class: f.Class, Credential: f.Credential, Slot: f.Slot, Rule: f.Rule,
			AgeDays: f.AgeDays, StageAt: f.StageAt, DaysLeft: f.DaysLeft, Action: f.Action, Severity: f.Severity,
			NextStage: -1, Exempt: f.Exempt, Recipients: f.Recipients}
		if f.NextStageOn != nil {
			// Days from creation to the next stage, checked against both ends
			// of the seeding window (a run across midnight shifts the day).
			created := daysBefore(byUser[f.User], f)
			w.NextStage = -2
			for _, at := range []time.Time{seedStart, seedEnd} {
				base := at.AddDate(0, 0, -created)
				if d := int(f.NextStageOn.Sub(time.Date(base.Year(), base.Month(), base.Day(), 0, 0, 0, 0, time.UTC)).Hours() / 24); d > 0 {
					w.NextStage = d
					break
				}
			}
		}
		got = append(got, w)
		// Key IDs: the very keys seeded, resolved through ListAccessKeys.
		if f.Credential == "access_key" {
			if ids := keyIDs[f.User]; f.Slot < 1 || f.Slot > len(ids) || f.KeyID != ids[f.Slot-1] {
				t.Errorf("%s slot %d: key_id = %q; want %q (seeded %v)", f.User, f.Slot, f.KeyID, ids, ids)
			}
		}
		if f.Reason == "" || len(f.ID) != 16 {
			t.Errorf("%s %s: id %q, reason %q; want a 16-digit id and a reason", f.User, f.Rule, f.ID, f.Reason)
		}
		if f.Exempt != (f.ExemptReason != "") {
			t.Errorf("%s %s: exempt %v with reason %q", f.User, f.Rule, f.Exempt, f.ExemptReason)
		}
	}
	if diff := cmp.Diff(e2eWant(), got); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
	for _, f := range rep.Findings {
		if f.User == "old-exempt" && !strings.Contains(f.Reason, "exemption expired on 2020-01-01") {
			t.Errorf("old-exempt reason = %q; want it to say the exemption expired", f.Reason)
		}
	}

	// The account line, and the API-call budget: 6 + max(1,
	// ceil(N/1000)) + F + S, with 2 report calls among the 6 (moto's
	// report is ready when first looked at), F the users whose access
	// keys or signing certificates need IDs (one call per user and kind)
	// and S the pages of service-specific credentials.
	if len(rep.Accounts) != 1 {
		t.Fatalf("accounts = %+v; want one", rep.Accounts)
	}
	a := rep.Accounts[0]
	keys := 0
	for _, u := range users {
		keys += len(u.Keys)
	}
	if a.ID != "123456789012" || a.Status != "ok" || a.Users != len(users) || a.AccessKeys != keys {
		t.Errorf("account = %+v; want 123456789012, ok, %d users, %d keys", a, len(users), keys)
	}
	flagged := map[[2]string]bool{} // user, credential kind
	for _, f := range rep.Findings {
		if f.Credential == "access_key" || f.Credential == "signing_certificate" {
			flagged[[2]string{f.User, f.Credential}] = true
		}
	}
	creds := 0
	for _, u := range users {
		creds += len(u.ServiceCredentials)
	}
	pages := max(1, (creds+999)/1000)
	budget := 6 + max(1, (len(users)+999)/1000) + len(flagged) + pages
	if a.APICalls != budget {
		t.Errorf("api_calls = %d; want 6 + max(1, ceil(%d/1000)) + %d flagged users + %d pages of service credentials = %d",
			a.APICalls, len(users), len(flagged), pages, budget)
	}
	t.Logf("%d users, %d findings, %d API calls (budget %d)", len(users), len(rep.Findings), a.APICalls, budget)
	if rep.Summary.Exempt != 3 || rep.Summary.Findings != len(rep.Findings)-3 {
		t.Errorf("summary = %+v; want 3 exempt and %d findings", rep.Summary, len(rep.Findings)-3)
	}

	// --fail-on: critical (machine95) → exit 3, report still written.
	r = keywarden(t, m.Env(), dir, "scan", "--format", "csv", "--fail-on", "critical")
	if r.code != 3 || !strings.HasPrefix(r.stdout, "id,account,") {
		t.Errorf("scan --fail-on critical = exit %d, stdout %.40q; want 3 and the CSV report", r.code, r.stdout)
	}
}

// reportV1 are the keys of keywarden.report/v1 (docs/architecture.md), and its
// findings' keys: every finding carries all of them.
var (
	reportV1Keys = []string{"schema", "generated_at", "as_of", "accounts", "findings", "summary",
		// Additions.
		"compliance"}
	accountV1Keys = []string{"id", "alias", "status", "error", "users", "access_keys", "api_calls", "ssh_key_calls"}
	findingV1Keys = []string{"id", "account", "user", "class", "credential", "key_id", "slot", "rule", "age_days", "days_left",
		"stage_at", "action", "severity", "next_stage_on", "exempt", "exempt_reason", "recipients", "reason",
		// Additions.
		"class_from_tag", "exempt_from_tag", "service", "controls"}
)

// checkReportKeys checks the raw JSON against the report/v1 contract: the
// schema, every required key at the top, on each account and on each
// finding, and no finding key outside the contract.
func checkReportKeys(t *testing.T, raw string) {
	t.Helper()
	var doc struct {
		Schema   string                       `json:"schema"`
		Accounts []map[string]json.RawMessage `json:"accounts"`
		Findings []map[string]json.RawMessage `json:"findings"`
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &top); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != "keywarden.report/v1" {
		t.Errorf("schema = %q; want keywarden.report/v1", doc.Schema)
	}
	has := func(what string, m map[string]json.RawMessage, keys []string) {
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				t.Errorf("%s lacks %q", what, k)
			}
		}
	}
	has("report", top, reportV1Keys)
	for _, a := range doc.Accounts {
		has("account", a, accountV1Keys)
	}
	for i, f := range doc.Findings {
		has(fmt.Sprintf("finding %d", i), f, findingV1Keys)
		for k := range f {
			if !slices.Contains(findingV1Keys, k) {
				t.Errorf("finding %d has %q, which is not in keywarden.report/v1", i, k)
			}
		}
	}
}

// TestScanExampleReport runs the README's main command (the sample report
// in examples/, which has a root row: the only way to see root_access_key
// end to end, moto's report has none) and compares the findings with a
// golden file (-update rewrites it).
func TestScanExampleReport(t *testing.T) {
	r := keywarden(t, nil, "../..", "scan", "--credential-report", "examples/credential-report.csv", "--as-of", "2026-11-23", "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	checkReportKeys(t, r.stdout)
	var rep struct {
		Findings   json.RawMessage        `json:"findings"`
		Compliance []report.ControlStatus `json:"compliance"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	// Offline, the password policy is not read: CIS 1.8 and 1.9 are not
	// checked, and say so; root's row is there, so 1.5 and 1.7 are.
	for _, c := range rep.Compliance {
		want := map[string]string{"CIS 1.5": report.ControlPassed, "CIS 1.7": report.ControlPassed,
			"CIS 1.8": report.ControlNotChecked, "CIS 1.9": report.ControlNotChecked}[c.ID]
		if want != "" && c.Status != want || want == report.ControlNotChecked && !strings.Contains(c.Why, "password policy was not read") {
			t.Errorf("compliance %s = %s (%q); want %s", c.ID, c.Status, c.Why, want)
		}
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, rep.Findings, "", "  "); err != nil {
		t.Fatal(err)
	}
	buf.WriteByte('\n')
	golden.Assert(t, buf.Bytes(), filepath.Join("testdata", "example-findings.golden.json"))
	if !strings.Contains(buf.String(), `"rule": "root_access_key"`) {
		t.Error("the example's root access key is not reported")
	}
}

// daysBefore is how many days before seeding the finding's credential was
// created (keys) or set (passwords).
func daysBefore(u testenv.SeedUser, f policy.Finding) int {
	if f.Credential == "access_key" {
		return u.Keys[f.Slot-1].AgeDays
	}
	return u.PasswordAgeDays
}

func TestScanEmptyAccount(t *testing.T) {
	m := testenv.Moto(t)
	r := keywarden(t, m.Env(), t.TempDir(), "scan", "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	// An account without users has no user findings; moto's account has no
	// password policy, so IAM's defaults apply, which fail CIS 1.8 and 1.9:
	// the account's one finding, addressed to no owner.
	if len(rep.Accounts) != 1 || rep.Accounts[0].Users != 0 {
		t.Errorf("empty account: accounts %+v; want one account with 0 users", rep.Accounts)
	}
	if len(rep.Findings) != 1 {
		t.Fatalf("empty account: findings %+v; want exactly one, password_policy", rep.Findings)
	}
	f := rep.Findings[0]
	if f.Rule != "password_policy" || f.User != "<account>" || f.Credential != "account" || len(f.Recipients) != 0 {
		t.Errorf("empty account: finding %+v; want the account's password_policy finding with no recipients", f)
	}
}

func TestScanWithoutCredentials(t *testing.T) {
	m := testenv.Moto(t)
	env := []string{}
	for _, kv := range m.Env() {
		if !strings.HasPrefix(kv, "AWS_ACCESS_KEY_ID=") && !strings.HasPrefix(kv, "AWS_SECRET_ACCESS_KEY=") {
			env = append(env, kv)
		}
	}
	r := keywarden(t, env, t.TempDir(), "scan")
	if r.code != 1 {
		t.Errorf("exit %d; want 1", r.code)
	}
	// The SDK's own words (it found no credentials anywhere), then what to do.
	for _, s := range []string{"get identity: get credentials: failed to refresh cached credentials", "AWS_PROFILE", "aws sso login", "--credential-report"} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr = %q; want it to contain %q (the SDK's message and what to do next)", r.stderr, s)
		}
	}
}
