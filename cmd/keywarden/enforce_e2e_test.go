package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/run"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/testenv"
)

// iamReads are the only IAM operations a run without --apply may make.
var iamReads = []string{"iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:GetAccountAuthorizationDetails",
	"iam:GetAccountPasswordPolicy", "iam:ListAccountAliases", "iam:ListAccessKeys", "iam:GetAccessKeyLastUsed",
	"iam:GetAccountSummary", "iam:ListServiceSpecificCredentials", "iam:ListSigningCertificates", "iam:ListSSHPublicKeys"}

// iamWritesBy counts the proxy's IAM operations outside iamReads, by
// "operation key-or-user".
func iamWritesBy(p *testenv.Proxy) map[string]int {
	out := map[string]int{}
	for _, op := range p.Ops() {
		if op.Service != "iam" || slices.Contains(iamReads, op.Name()) {
			continue
		}
		out[op.Operation+" "+cmpOr(op.Params.Get("AccessKeyId"), op.Params.Get("UserName"))]++
	}
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// enforceSetup seeds users, writes a config (OUTBOX, STATE, AUDIT
// replaced) and returns the directory and key IDs.
func enforceSetup(t *testing.T, m *testenv.MotoServer, users []testenv.SeedUser, config string) (string, map[string][]string) {
	t.Helper()
	ids := m.Seed(t, users)
	dir := t.TempDir()
	cfg := strings.NewReplacer("OUTBOX", filepath.Join(dir, "outbox"), "STATE", filepath.Join(dir, "state.db"),
		"AUDIT", filepath.Join(dir, "audit.jsonl")).Replace(config)
	if err := os.WriteFile(filepath.Join(dir, "keywarden.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, ids
}

// enforceVariant writes dir/name: enforceSetup's config with one more
// enforce key (KEY: VALUE), and returns its path.
func enforceVariant(t *testing.T, dir, name, key string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "keywarden.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), "enforce:\n", "enforce:\n  "+key+"\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// keyUser is a user with an Email tag and one key age days old (used
// yesterday); tags are added.
func keyUser(name string, age int, tags ...string) testenv.SeedUser {
	u := testenv.SeedUser{Name: name, Tags: map[string]string{"Email": name + "@example.com"},
		Keys: []testenv.SeedKey{{AgeDays: age, LastUsedDaysAgo: 1}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1}
	for i := 0; i+1 < len(tags); i += 2 {
		u.Tags[tags[i]] = tags[i+1]
	}
	return u
}

// withFresh is users and eight users with a fresh key, so that the stale
// keys of users stay under enforce.max_fraction.
func withFresh(users ...testenv.SeedUser) []testenv.SeedUser {
	for i := range 8 {
		users = append(users, keyUser(fmt.Sprintf("fresh%d", i), 5))
	}
	return users
}

// keyStatus is the status of each access key of user in moto ("" for none).
func keyStatus(t *testing.T, m *testenv.MotoServer, user string) map[string]string {
	t.Helper()
	out, err := iam.NewFromConfig(m.Config(t)).ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	st := map[string]string{}
	for _, k := range out.AccessKeyMetadata {
		st[aws.ToString(k.AccessKeyId)] = string(k.Status)
	}
	return st
}

// history is `keywarden history --format json` with args: the actions.
func history(t *testing.T, env []string, dir string, args ...string) []state.Action {
	t.Helper()
	return historyOf[state.Action](t, env, dir, args...)
}

// runsOf is `keywarden history --runs --format json`: the runs.
func runsOf(t *testing.T, env []string, dir string) []state.Run {
	t.Helper()
	return historyOf[state.Run](t, env, dir, "--runs")
}

// historyOf is `keywarden history --format json` with args, decoded.
func historyOf[T any](t *testing.T, env []string, dir string, args ...string) []T {
	t.Helper()
	r := keywarden(t, env, dir, append([]string{"history", "--format", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("history %v: exit %d\n%s", args, r.code, r.stderr)
	}
	var recs []T
	if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil {
		t.Fatalf("history %v output: %v\n%s", args, err, r.stdout)
	}
	return recs
}

// clock is a test's "now", taken after seeding (so that a key seeded N
// days ago is at least N days old at it): at(d) is d days later, as an
// --as-of, and day(d) its date.
type clock time.Time

func (c clock) at(d int) string  { return time.Time(c).AddDate(0, 0, d).Format(time.RFC3339) }
func (c clock) day(d int) string { return time.Time(c).AddDate(0, 0, d).Format("2006-01-02") }

// outboxMail returns the parsed .eml files in dir/outbox whose names
// contain part, oldest first (by the time they were written: two runs in
// one second give names that sort by their random run IDs).
func outboxMail(t *testing.T, dir, part string) []testenv.Mail {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
	written := map[string]time.Time{}
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			written[f] = st.ModTime()
		}
	}
	slices.SortStableFunc(files, func(a, b string) int { return written[a].Compare(written[b]) })
	var out []testenv.Mail
	for _, f := range files {
		if strings.Contains(filepath.Base(f), part) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, testenv.ParseMail(t, string(b)))
		}
	}
	return out
}

const enforceConfig = `version: 1
exemptions:
  - { users: [erin], reason: "vendor key, rotated by contract" }
notify:
  users: { email_tags: [Email], allowed_domains: [example.com], via: outbox }
  admins: { emails: [sec@example.com] }
  outbox: { dir: OUTBOX }
enforce:
  allowed_accounts: ["123456789012"]
  grace_after_disable: 14
  audit_file: AUDIT
state: { url: "sqlite://STATE" }
`

// TestEnforceTimeline: keys created 65 days ago, runs on later days. Notify
// at 70; without --apply nothing changes (no IAM write at all); disabled at
// 80 with --apply; not deleted at 90 (inside the 14-day grace period);
// deleted at 95. The machine user and the exempt user are never touched;
// undo restores Active. The runs that act are days ahead of the wall clock:
// they need --force-as-of, and every record they write says so.
func TestEnforceTimeline(t *testing.T) {
	m := testenv.Moto(t)
	users := withFresh(keyUser("alice", 65), keyUser("dan", 65), keyUser("bot", 65, "UserType", "machine"), keyUser("erin", 65))
	dir, ids := enforceSetup(t, m, users, enforceConfig)
	p := m.NewProxy(t)
	env := p.Env(m)
	now := clock(time.Now().UTC())
	day := now.day
	runAt := func(offset int, args ...string) result {
		t.Helper()
		r := keywarden(t, env, dir, append([]string{"run", "--format", "json", "--as-of", now.at(offset)}, args...)...)
		if r.code != 0 {
			t.Fatalf("run at +%d %v: exit %d\n%s", offset, args, r.code, r.stderr)
		}
		return r
	}
	alice, dan, bot, erin := ids["alice"][0], ids["dan"][0], ids["bot"][0], ids["erin"][0]

	// Day 70 and day 80 without --apply: told, listed, no IAM write.
	runAt(5)
	res := decodeRun(t, runAt(15))
	if w := iamWritesBy(p); len(w) != 0 {
		t.Fatalf("runs without --apply made IAM writes: %v", w)
	}
	var listed []string
	for _, a := range res.Plan.Actions {
		listed = append(listed, a.Verb()+" "+a.KeyID)
	}
	if want := []string{"would disable " + alice, "would disable " + dan}; !slicesEqualSorted(listed, want) {
		t.Errorf("day 80 without --apply: actions %v; want %v", listed, want)
	}
	if st := keyStatus(t, m, "alice"); st[alice] != "Active" {
		t.Fatalf("alice's key without --apply: %v; want Active", st)
	}

	// Day 80 with --apply: alice's and dan's keys are disabled.
	p.Reset()
	res = decodeRun(t, runAt(15, "--apply", "--force-as-of"))
	if res.Mode != plan.ModeApply || res.ActionsDone != 2 || res.ActionsFailed != 0 {
		t.Errorf("day 80 --apply: mode %s, %d done, %d failed; want apply, 2, 0", res.Mode, res.ActionsDone, res.ActionsFailed)
	}
	for user, key := range map[string]string{"alice": alice, "dan": dan} {
		if st := keyStatus(t, m, user); st[key] != "Inactive" {
			t.Errorf("%s's 80-day key after --apply: %v; want Inactive (verified with ListAccessKeys)", user, st)
		}
	}
	for user, key := range map[string]string{"bot": bot, "erin": erin} {
		if st := keyStatus(t, m, user); st[key] != "Active" {
			t.Errorf("%s's key: %v; want Active (machine and exempt users are never changed)", user, st)
		}
	}
	if w := iamWritesBy(p); !mapsEqual(w, map[string]int{"UpdateAccessKey " + alice: 1, "UpdateAccessKey " + dan: 1}) {
		t.Errorf("IAM writes at day 80 = %v; want one UpdateAccessKey each for alice and dan", w)
	}
	// The re-check before each write.
	for _, op := range []string{"iam:ListAccessKeys", "iam:GetAccessKeyLastUsed"} {
		if p.Count(op) < 2 {
			t.Errorf("%s called %d times; want a re-check of each key", op, p.Count(op))
		}
	}
	aliceMail := outboxMail(t, dir, "alice")
	if last := aliceMail[len(aliceMail)-1]; !strings.Contains(last.Text, "It was disabled on "+day(15)+" by keywarden (action ") || !strings.Contains(last.Text, alice) {
		t.Errorf("alice's mail after the disable:\n%s\nwant it to say %s was disabled on %s by keywarden", last.Text, alice, day(15))
	}
	digests := outboxMail(t, dir, "digest")
	if last := digests[len(digests)-1]; !strings.Contains(last.Text, "disabled access key "+alice) || !strings.Contains(last.Text, "disabled access key "+dan) {
		t.Errorf("digest after the disables:\n%s\nwant both actions listed", last.Text)
	}
	recs := history(t, env, dir, "--status", "done")
	var danAction string
	for _, r := range recs {
		if r.KeyID == dan {
			danAction = r.ID
		}
		if r.Kind != state.KindDisable || r.Before != state.KeyActive || r.After != state.KeyInactive || r.Rule != "access_key_age" || r.Stage != 80 {
			t.Errorf("history record %+v; want disable Active→Inactive at the 80-day stage", r)
		}
		if want := now.at(15); r.ForcedAsOf.Format(time.RFC3339) != want {
			t.Errorf("history record %s: forced_as_of %s; want %s (the run's --as-of, forced)", r.ID, r.ForcedAsOf, want)
		}
	}
	if len(recs) != 2 || danAction == "" {
		t.Fatalf("history --status done = %+v; want alice's and dan's disables", recs)
	}

	// Undo dan's disable: Active again, recorded.
	r := keywarden(t, env, dir, "undo", danAction, "--format", "json")
	if r.code != 0 {
		t.Fatalf("undo: exit %d\n%s", r.code, r.stderr)
	}
	if st := keyStatus(t, m, "dan"); st[dan] != "Active" {
		t.Errorf("dan's key after undo: %v; want Active", st)
	}
	if !strings.Contains(r.stderr, "the next keywarden run disables a re-enabled key again") {
		t.Errorf("undo does not warn that the next run disables the key again:\n%s", r.stderr)
	}
	if u := history(t, env, dir, "--key-id", dan); len(u) != 2 || u[0].Kind != state.KindEnable || u[0].UndoOf != danAction || u[0].Status != state.ActionDone {
		t.Errorf("dan's history = %+v; want the enable (undo of %s) on top", u, danAction)
	}

	// Day 90: alice's inactive key is inside the grace period (10 of 14
	// days): not deleted. dan's re-enabled key is at its delete stage while
	// active: disabled first.
	p.Reset()
	res = decodeRun(t, runAt(25, "--apply", "--force-as-of"))
	if st := keyStatus(t, m, "alice"); st[alice] != "Inactive" {
		t.Errorf("alice's key at day 90: %v; want still there, Inactive", st)
	}
	got := map[string]plan.Action{}
	for _, a := range res.Plan.Actions {
		got[a.KeyID] = a
	}
	if a := got[alice]; a.Status != plan.ActionSkipped ||
		a.Reason != fmt.Sprintf("inactive since %s (10 of the 14 days of enforce.grace_after_disable): it will be deleted on %s", day(15), day(29)) {
		t.Errorf("alice at day 90: %s %q; want skipped inside the grace period", a.Status, a.Reason)
	}
	if a := got[dan]; a.Status != plan.ActionDone || a.Done != "disable" {
		t.Errorf("dan at day 90: %s done=%q (%s); want disabled first", a.Status, a.Done, a.Reason)
	}
	if w := iamWritesBy(p); !mapsEqual(w, map[string]int{"UpdateAccessKey " + dan: 1}) {
		t.Errorf("IAM writes at day 90 = %v; want only dan's disable", w)
	}

	// Day 95: alice's key has been inactive 15 days: deleted.
	p.Reset()
	runAt(30, "--apply", "--force-as-of")
	if st := keyStatus(t, m, "alice"); len(st) != 0 {
		t.Errorf("alice's keys at day 95: %v; want none (deleted)", st)
	}
	if w := iamWritesBy(p); !mapsEqual(w, map[string]int{"DeleteAccessKey " + alice: 1}) {
		t.Errorf("IAM writes at day 95 = %v; want alice's delete only (dan waits out his grace period)", w)
	}
	for user, key := range map[string]string{"bot": bot, "erin": erin} {
		if st := keyStatus(t, m, user); st[key] != "Active" {
			t.Errorf("%s's key at the end: %v; want Active", user, st)
		}
	}
	if recs := history(t, env, dir, "--user", "bot"); len(recs) != 0 {
		t.Errorf("the machine user has actions: %+v", recs)
	}

	// The JSON-lines audit file has every record as it was written.
	lines := readLines(t, filepath.Join(dir, "audit.jsonl"))
	var deleted bool
	for _, l := range lines {
		var a state.Action
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		deleted = deleted || a.KeyID == alice && a.Kind == state.KindDelete && a.Status == state.ActionDone
		if undo := a.Kind == state.KindEnable; undo != a.ForcedAsOf.IsZero() {
			t.Errorf("audit line %s: forced_as_of %s; want it on every record of the forced runs (not on the undo)", l, a.ForcedAsOf)
		}
	}
	forcedRuns := 0
	for _, r := range runsOf(t, env, dir) {
		if r.Mode == "apply" && r.ForcedAsOf.IsZero() || r.Mode != "apply" && !r.ForcedAsOf.IsZero() || !r.ForcedAsOf.IsZero() && !r.ForcedAsOf.Equal(r.AsOf) {
			t.Errorf("run record %+v; want forced_as_of = as_of on the runs that acted, none on the others", r)
		}
		if !r.ForcedAsOf.IsZero() {
			forcedRuns++
		}
	}
	if forcedRuns != 3 {
		t.Errorf("%d run records with forced_as_of; want 3 (the runs with --apply)", forcedRuns)
	}
	if !deleted || len(lines) < 6 {
		t.Errorf("audit file has %d lines, alice's delete %v; want every record, the delete among them", len(lines), deleted)
	}
	r = keywarden(t, env, dir, "undo", recsOf(history(t, env, dir, "--key-id", alice), state.KindDelete))
	if r.code != 1 || !strings.Contains(r.stderr, "a deleted key cannot be restored") {
		t.Errorf("undo of a delete: exit %d\n%s\nwant exit 1 saying a deleted key cannot be restored", r.code, r.stderr)
	}
}

func recsOf(recs []state.Action, kind string) string {
	for _, r := range recs {
		if r.Kind == kind {
			return r.ID
		}
	}
	return "none"
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func slicesEqualSorted(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestEnforceGuard: more planned actions than max_actions_per_run: nothing
// changes in the account, the admins are told, exit 5.
func TestEnforceGuard(t *testing.T) {
	m := testenv.Moto(t)
	users := []testenv.SeedUser{keyUser("a1", 85), keyUser("a2", 85), keyUser("a3", 85)}
	for i := range 12 {
		users = append(users, keyUser(fmt.Sprintf("fresh%d", i), 5))
	}
	dir, _ := enforceSetup(t, m, users, strings.Replace(enforceConfig, "  grace_after_disable: 14\n", "  grace_after_disable: 14\n  max_actions_per_run: 2\n", 1))
	p := m.NewProxy(t)
	env := p.Env(m)
	r := keywarden(t, env, dir, "run", "--apply", "--format", "json")
	want := "account 123456789012: 3 actions planned, more than enforce.max_actions_per_run (2): nothing is changed in this account; " +
		"check the plan with keywarden run --apply --dry-run, then raise the limit if it is right"
	if r.code != 5 || !strings.Contains(r.stderr, want) {
		t.Fatalf("run --apply over the guard: exit %d\n%s\n%s\nwant exit 5 and %q", r.code, r.stderr, r.stdout, want)
	}
	if w := iamWritesBy(p); len(w) != 0 {
		t.Errorf("a guard breach made IAM writes: %v", w)
	}
	for _, u := range []string{"a1", "a2", "a3"} {
		for id, st := range keyStatus(t, m, u) {
			if st != "Active" {
				t.Errorf("%s's key %s: %s; want Active", u, id, st)
			}
		}
	}
	digests := outboxMail(t, dir, "digest")
	if len(digests) != 1 || !strings.Contains(digests[0].Text, want) {
		t.Fatalf("digest does not tell the admins about the guard:\n%v", digests)
	}
	// The messages tell the truth: the digest opens with the guard and its
	// numbers, and its subject counts no action; no owner is told that a
	// key will be (or was) disabled.
	d := digests[0]
	if !strings.Contains(d.Text, "STOPPED BY A GUARD: nothing was changed in 1 account.\n- "+want+"\n") ||
		strings.Index(d.Text, "STOPPED BY A GUARD") > strings.Index(d.Text, "AT A GLANCE") {
		t.Errorf("the digest does not open with the guard:\n%s", d.Text)
	}
	if wantSubject := "a guard stopped every change in 1 account; "; !strings.Contains(d.Subject, wantSubject) || strings.Contains(d.Subject, "action") {
		t.Errorf("digest subject %q; want %q and no count of actions (none was taken)", d.Subject, wantSubject)
	}
	for _, u := range []string{"a1", "a2", "a3"} {
		mails := outboxMail(t, dir, u+"@")
		if len(mails) != 1 {
			t.Fatalf("%s got %d messages; want 1", u, len(mails))
		}
		text := mails[0].Text
		if !strings.Contains(text, "keywarden did not disable it: a safety guard stopped every change in account 123456789012 in this run") ||
			strings.Contains(text, "will be disabled") || strings.Contains(text, "was disabled") {
			t.Errorf("%s's message:\n%s\nwant it to say a guard stopped the disable, and no date of one", u, text)
		}
	}
	recs := history(t, env, dir)
	if len(recs) != 3 {
		t.Fatalf("history = %+v; want the three blocked actions recorded", recs)
	}
	for _, a := range recs {
		if a.Status != state.ActionSkipped || a.Reason != want {
			t.Errorf("record %s: %s %q; want skipped with the guard's message", a.ID, a.Status, a.Reason)
		}
	}
}

// TestEnforceRecheckSkipsRotatedKey: the owner rotates the key between
// the report and the action (after keywarden resolved its ID, before the
// re-check): the action is skipped with its reason and nothing changes.
func TestEnforceRecheckSkipsRotatedKey(t *testing.T) {
	m := testenv.Moto(t)
	users := withFresh(keyUser("alice", 85))
	dir, ids := enforceSetup(t, m, users, enforceConfig)
	p := m.NewProxy(t)
	direct := iam.NewFromConfig(m.Config(t))
	ctx := context.Background()
	var mu sync.Mutex
	lists, newKey := 0, ""
	p.Inject(testenv.Fault{
		Match: func(op testenv.Op) bool {
			if op.Name() != "iam:ListAccessKeys" || op.Params.Get("UserName") != "alice" {
				return false
			}
			lists++ // under the proxy's lock
			return lists == 2
		},
		Before: func(testenv.Op) { // the owner rotates: new key, old one deleted
			out, err := direct.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := direct.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(ids["alice"][0])}); err != nil {
				t.Error(err)
			}
			mu.Lock()
			newKey = aws.ToString(out.AccessKey.AccessKeyId)
			mu.Unlock()
		},
	})
	r := keywarden(t, p.Env(m), dir, "run", "--apply", "--format", "json")
	if r.code != 0 {
		t.Fatalf("run --apply: exit %d\n%s", r.code, r.stderr)
	}
	res := decodeRun(t, r)
	if len(res.Plan.Actions) != 1 {
		t.Fatalf("actions = %+v; want alice's one", res.Plan.Actions)
	}
	a := res.Plan.Actions[0]
	if a.KeyID != ids["alice"][0] || a.Status != plan.ActionSkipped ||
		a.Reason != "the key no longer exists (rotated or deleted since the credential report); nothing was changed" {
		t.Errorf("action on the rotated key: %s %s %q; want skipped because it is gone", a.KeyID, a.Status, a.Reason)
	}
	mu.Lock()
	defer mu.Unlock()
	if st := keyStatus(t, m, "alice"); st[newKey] != "Active" || len(st) != 1 {
		t.Errorf("alice's keys after the run: %v; want only the new key %s, Active", st, newKey)
	}
	if w := iamWritesBy(p); len(w) != 0 {
		t.Errorf("IAM writes: %v; want none", w)
	}
	if recs := history(t, p.Env(m), dir); len(recs) != 1 || recs[0].Status != state.ActionSkipped || recs[0].Reason != a.Reason {
		t.Errorf("history = %+v; want the skip recorded with its reason", recs)
	}
}

// TestEnforceCrashSafety: the process is killed right after its first
// IAM write reached AWS, before it could record it. The next run finishes
// that record from the key's state, acts on the rest, and every key is
// acted on exactly once.
func TestEnforceCrashSafety(t *testing.T) {
	m := testenv.Moto(t)
	var users []testenv.SeedUser
	for i := range 4 {
		users = append(users, keyUser(fmt.Sprintf("stale%d", i), 85))
	}
	for i := range 12 {
		users = append(users, keyUser(fmt.Sprintf("fresh%d", i), 5))
	}
	dir, ids := enforceSetup(t, m, users, strings.Replace(enforceConfig, "  grace_after_disable: 14\n", "  grace_after_disable: 14\n  max_fraction: 0.5\n", 1))
	p := m.NewProxy(t)
	env := p.Env(m)

	cmd := exec.Command(binary, "run", "--apply", "--format", "json")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	var killed sync.WaitGroup
	killed.Add(1)
	p.Inject(testenv.Fault{Match: testenv.IsOp("iam:UpdateAccessKey"), Times: 1, After: func(testenv.Op) {
		defer killed.Done()
		_ = cmd.Process.Kill() // the write reached moto; its answer never reaches keywarden
	}})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	killed.Wait()
	if err == nil || cmd.ProcessState.Success() {
		t.Fatalf("the first run was not killed (err %v)\n%s", err, stderr.String())
	}
	if pending := history(t, env, dir, "--status", "planned"); len(pending) != 1 {
		t.Fatalf("after the kill: planned records %+v; want the one being made", pending)
	}

	// A run whose config no longer allows the account neither re-reads nor
	// finishes the record there: keywarden's policy grants no re-check in
	// an account it may not act in.
	cfgText, err := os.ReadFile(filepath.Join(dir, "keywarden.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	notAllowed := filepath.Join(dir, "not-allowed.yaml")
	if err := os.WriteFile(notAllowed, bytes.Replace(cfgText, []byte(`allowed_accounts: ["123456789012"]`), []byte("allowed_accounts: []"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	before := p.Count("iam:GetAccessKeyLastUsed")
	if r := keywarden(t, env, dir, "run", "--apply", "--config", notAllowed, "--format", "json"); r.code != 0 {
		t.Fatalf("run in no allowed account: exit %d\n%s", r.code, r.stderr)
	}
	if n := p.Count("iam:GetAccessKeyLastUsed") - before; n != 0 {
		t.Errorf("a run in no allowed account re-checked %d keys; want none", n)
	}
	if pending := history(t, env, dir, "--status", "planned"); len(pending) != 1 {
		t.Fatalf("after a run in no allowed account: planned records %+v; want the killed run's, untouched", pending)
	}

	r := keywarden(t, env, dir, "run", "--apply", "--format", "json")
	if r.code != 0 {
		t.Fatalf("second run: exit %d\n%s", r.code, r.stderr)
	}
	writes := iamWritesBy(p)
	done := map[string]int{}
	reconciled := 0
	for _, a := range history(t, env, dir) {
		if a.Status == state.ActionPlanned {
			t.Errorf("record %s still planned after the second run", a.ID)
		}
		if a.Status == state.ActionDone {
			done[a.KeyID]++
		}
		if a.Status == state.ActionDone && strings.Contains(a.Reason, "which stopped before recording it; confirmed by run") {
			reconciled++
		}
	}
	if reconciled != 1 {
		t.Errorf("%d records were finished by the second run from the key's state; want 1 (the killed run's)", reconciled)
	}
	for i := range 4 {
		user := fmt.Sprintf("stale%d", i)
		key := ids[user][0]
		if writes["UpdateAccessKey "+key] != 1 {
			t.Errorf("%s's key %s: %d UpdateAccessKey calls over both runs; want exactly 1", user, key, writes["UpdateAccessKey "+key])
		}
		if done[key] != 1 {
			t.Errorf("%s's key %s: %d done records; want exactly 1", user, key, done[key])
		}
		if st := keyStatus(t, m, user); st[key] != "Inactive" {
			t.Errorf("%s's key: %v; want Inactive", user, st)
		}
	}
}

// TestEnforceNeverItsOwnKey: keywarden runs with an IAM user's access key
// that is itself past its disable stage: it is skipped with the exact
// reason, the other stale key is disabled.
func TestEnforceNeverItsOwnKey(t *testing.T) {
	m := testenv.Moto(t)
	users := withFresh(keyUser("keywarden-bot", 85), keyUser("alice", 85))
	dir, ids := enforceSetup(t, m, users, enforceConfig)
	own := ids["keywarden-bot"][0]
	env := append(m.Env(), "AWS_ACCESS_KEY_ID="+own) // moto does not check the secret
	r := keywarden(t, env, dir, "run", "--apply", "--format", "json")
	if r.code != 0 {
		t.Fatalf("run --apply: exit %d\n%s", r.code, r.stderr)
	}
	checkSkippedOthersDone(t, m, r, map[string]string{"keywarden-bot": own}, map[string]string{"keywarden-bot": plan.ReasonSelf}, "alice")
}

// TestEnforceDryRunWithApplyConfig: enforce.mode: apply and --dry-run:
// every credential is re-checked and the plan says what a real run would
// do, but nothing is written to IAM and no state is created.
func TestEnforceDryRunWithApplyConfig(t *testing.T) {
	m := testenv.Moto(t)
	users := withFresh(keyUser("alice", 85))
	dir, ids := enforceSetup(t, m, users, strings.Replace(enforceConfig, "enforce:\n", "enforce:\n  mode: apply\n", 1))
	p := m.NewProxy(t)
	r := keywarden(t, p.Env(m), dir, "run", "--dry-run", "--format", "json")
	if r.code != 0 {
		t.Fatalf("run --dry-run: exit %d\n%s", r.code, r.stderr)
	}
	res := decodeRun(t, r)
	if len(res.Plan.Actions) != 1 {
		t.Fatalf("actions = %+v; want alice's", res.Plan.Actions)
	}
	a := res.Plan.Actions[0]
	if a.Status != plan.ActionPlanned || !strings.HasPrefix(a.Reason, run.DryRunPrefix) || res.ActionsDone != 1 {
		t.Errorf("dry run action: %s %q (%d would be done); want planned, saying what a real run does", a.Status, a.Reason, res.ActionsDone)
	}
	if p.Count("iam:ListAccessKeys") < 2 || p.Count("iam:GetAccessKeyLastUsed") != 1 {
		t.Errorf("the dry run did not re-check the key (ListAccessKeys %d, GetAccessKeyLastUsed %d)", p.Count("iam:ListAccessKeys"), p.Count("iam:GetAccessKeyLastUsed"))
	}
	if w := iamWritesBy(p); len(w) != 0 {
		t.Errorf("a dry run wrote to IAM: %v", w)
	}
	if st := keyStatus(t, m, "alice"); st[ids["alice"][0]] != "Active" {
		t.Errorf("alice's key after a dry run: %v; want Active", st)
	}
	if _, err := os.Stat(filepath.Join(dir, "state.db")); !os.IsNotExist(err) {
		t.Errorf("a dry run created the state (stat: %v)", err)
	}
}
