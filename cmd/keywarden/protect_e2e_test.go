package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/testenv"
)

// roleProfileEnv is env with no credentials of its own: the SDK reads
// them from a shared config file whose profile keywarden assumes
// roleARN with the static key of a source profile (base), as an operator's
// ~/.aws/config does.
func roleProfileEnv(t *testing.T, env []string, sourceKey, roleARN string) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "aws-config")
	text := "[profile base]\naws_access_key_id = " + sourceKey + "\naws_secret_access_key = any\n\n" +
		"[profile keywarden]\nrole_arn = " + roleARN + "\nsource_profile = base\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return append(env, "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_CONFIG_FILE="+path, "AWS_PROFILE=keywarden")
}

// TestEnforceNeverItsSourceUsersKey: keywarden runs with a role_arn +
// source_profile profile whose source user (ops) has a key past its
// disable stage. The calls are signed with the role's session key, yet the
// source user's key is not touched, and the skip says why — in the run's
// output, the audit trail and the digest. A user and a key named in
// enforce.protect are skipped with that entry; the other stale key is
// disabled.
func TestEnforceNeverItsSourceUsersKey(t *testing.T) {
	m := testenv.Moto(t)
	users := withFresh(keyUser("ops", 85), keyUser("alice", 85), keyUser("break-glass-1", 85), keyUser("ci", 85))
	const protect = `  protect:
    - { users: ["break-glass-*"], reason: "emergency access" }
    - { key_ids: [CIKEY], accounts: ["123456789012"] }
`
	dir, ids := enforceSetup(t, m, users, enforceConfig)
	cfgPath := filepath.Join(dir, "keywarden.yaml")
	cfgText, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	withProtect := strings.Replace(string(cfgText), "  audit_file:", strings.Replace(protect, "CIKEY", ids["ci"][0], 1)+"  audit_file:", 1)
	if err := os.WriteFile(cfgPath, []byte(withProtect), 0o644); err != nil {
		t.Fatal(err)
	}
	p := m.NewProxy(t)
	role := "arn:aws:iam::" + testenv.AccountID + ":role/keywarden"
	opsKey := ids["ops"][0]
	env := roleProfileEnv(t, p.Env(m), opsKey, role)

	r := keywarden(t, env, dir, "run", "--apply", "--format", "json")
	if r.code != 0 {
		t.Fatalf("run --apply: exit %d\n%s", r.code, r.stderr)
	}
	// The run assumed the role with the source user's key, and signed its
	// IAM calls with the role's session, not with that key.
	assumed := false
	for _, op := range p.Ops() {
		switch {
		case op.Name() == "sts:AssumeRole" && op.AccessKeyID == opsKey && op.Params.Get("RoleArn") == role:
			assumed = true
		case op.Service == "iam" && op.AccessKeyID == opsKey:
			t.Fatalf("%s was signed with the source user's key; want the role's session key", op.Name())
		}
	}
	if !assumed {
		t.Fatalf("no sts:AssumeRole of %s signed with %s reached moto: the profile was not used", role, opsKey)
	}

	wantSkip := map[string]string{
		"ops":           plan.ReasonSource(role),
		"break-glass-1": `protected by enforce.protect[0] (user break-glass-1 matches "break-glass-*"): emergency access; keywarden never acts on it`,
		"ci":            "protected by enforce.protect[1] (access key " + ids["ci"][0] + "); keywarden never acts on it",
	}
	keys := map[string]string{}
	for user := range wantSkip {
		keys[user] = ids[user][0]
	}
	checkSkippedOthersDone(t, m, r, keys, wantSkip, "alice")
	if w := iamWritesBy(p); !mapsEqual(w, map[string]int{"UpdateAccessKey " + ids["alice"][0]: 1}) {
		t.Errorf("IAM writes = %v; want alice's disable only", w)
	}

	// The audit trail and the digest carry each skip with its reason.
	recorded := map[string]string{}
	for _, a := range history(t, env, dir, "--status", "skipped") {
		recorded[a.User] = a.Reason
	}
	for user, reason := range wantSkip {
		if recorded[user] != reason {
			t.Errorf("history of %s's skip: %q; want %q", user, recorded[user], reason)
		}
	}
	digests := outboxMail(t, dir, "digest")
	if len(digests) == 0 {
		t.Fatal("no digest")
	}
	for user, reason := range wantSkip {
		if !strings.Contains(digests[len(digests)-1].Text, reason) {
			t.Errorf("the digest does not give %s's skip: %q\n%s", user, reason, digests[len(digests)-1].Text)
		}
	}
}

// TestEnforceNeverTheCallersKeyBehindAListedRole: the account is listed
// with a role_arn, so its calls are signed with the role's session; the
// caller's own key — a user's in that very account, which signs the
// AssumeRole — is still never acted on.
func TestEnforceNeverTheCallersKeyBehindAListedRole(t *testing.T) {
	m := testenv.Moto(t)
	users := withFresh(keyUser("keywarden-bot", 85), keyUser("alice", 85))
	role := "arn:aws:iam::" + testenv.AccountID + ":role/keywarden-audit"
	cfg := strings.Replace(enforceConfig, "version: 1\n", "version: 1\naccounts:\n  list: [{ id: \""+testenv.AccountID+"\", role_arn: \""+role+"\" }]\n", 1)
	dir, ids := enforceSetup(t, m, users, cfg)
	own := ids["keywarden-bot"][0]
	p := m.NewProxy(t)
	env := append(p.Env(m), "AWS_ACCESS_KEY_ID="+own) // moto does not check the secret
	r := keywarden(t, env, dir, "run", "--apply", "--format", "json")
	if r.code != 0 {
		t.Fatalf("run --apply: exit %d\n%s", r.code, r.stderr)
	}
	if p.Count("sts:AssumeRole") == 0 {
		t.Fatal("the run assumed no role")
	}
	for _, op := range p.Ops() {
		if op.Service == "iam" && op.AccessKeyID == own {
			t.Fatalf("%s was signed with the caller's key; want the role's session key", op.Name())
		}
	}
	checkSkippedOthersDone(t, m, r, map[string]string{"keywarden-bot": own}, map[string]string{"keywarden-bot": plan.ReasonSelf}, "alice")
}

// checkSkippedOthersDone: the run r skipped the action on each user's key
// of keys with its reason of reasons, left the key Active in IAM, and did
// the action of each of done.
func checkSkippedOthersDone(t *testing.T, m *testenv.MotoServer, r result, keys, reasons map[string]string, done ...string) {
	t.Helper()
	got := map[string]plan.Action{}
	for _, a := range decodeRun(t, r).Plan.Actions {
		got[a.User] = a
	}
	for user, reason := range reasons {
		if a := got[user]; a.Status != plan.ActionSkipped || a.Reason != reason {
			t.Errorf("%s's key: %s %q; want skipped: %q", user, a.Status, a.Reason, reason)
		}
		if st := keyStatus(t, m, user); st[keys[user]] != "Active" {
			t.Errorf("%s's key in IAM: %v; want Active", user, st)
		}
	}
	for _, user := range done {
		if a := got[user]; a.Status != plan.ActionDone {
			t.Errorf("%s's key: %s %q; want done", user, a.Status, a.Reason)
		}
	}
}

// TestEnforceNoticeBeforeAction: with enforce.notice_before_action 3, a
// key that reaches its disable stage on the day its owner is first told
// waits: the owner is told now, with the day from which a run may disable
// it; two days later it still waits; three days later it is disabled.
func TestEnforceNoticeBeforeAction(t *testing.T) {
	m := testenv.Moto(t)
	users := withFresh(keyUser("alice", 85))
	dir, ids := enforceSetup(t, m, users, strings.Replace(enforceConfig, "enforce:\n", "enforce:\n  notice_before_action: 3\n", 1))
	alice := ids["alice"][0]
	p := m.NewProxy(t)
	env := p.Env(m)
	now := clock(time.Now().UTC())
	// applyAt runs --apply at the wall clock plus offset days.
	applyAt := func(offset int) plan.Action {
		t.Helper()
		args := []string{"run", "--apply", "--format", "json"}
		if offset != 0 {
			args = append(args, "--as-of", now.at(offset))
		}
		r := keywarden(t, env, dir, args...)
		if r.code != 0 {
			t.Fatalf("run --apply at +%d: exit %d\n%s", offset, r.code, r.stderr)
		}
		res := decodeRun(t, r)
		if len(res.Plan.Actions) != 1 {
			t.Fatalf("run at +%d: actions %+v; want alice's", offset, res.Plan.Actions)
		}
		return res.Plan.Actions[0]
	}

	a := applyAt(0)
	want := "its owner is told of the 80-day stage in this run, and enforce.notice_before_action gives 3 days' notice: the first run from " + now.day(3) + " acts"
	if a.Status != plan.ActionWaiting || a.Reason != want || a.ActOn != now.day(3) {
		t.Errorf("the day alice is first told: %s %q (act_on %s); want waiting %q", a.Status, a.Reason, a.ActOn, want)
	}
	mail := outboxMail(t, dir, "alice")
	if len(mail) != 1 || !strings.Contains(mail[0].Text, "a keywarden run may disable it from "+now.day(3)) || !strings.Contains(mail[0].Text, alice) {
		t.Fatalf("alice's mail: %+v\nwant one telling her from which day her key %s may be disabled", mail, alice)
	}

	a = applyAt(2)
	want = "its owner was told of the 80-day stage on " + now.day(0) + ", and enforce.notice_before_action gives 3 days' notice: the first run from " + now.day(3) + " acts"
	if a.Status != plan.ActionWaiting || a.Reason != want {
		t.Errorf("two days later: %s %q; want waiting %q", a.Status, a.Reason, want)
	}
	if st := keyStatus(t, m, "alice"); st[alice] != "Active" {
		t.Fatalf("alice's key before the notice period ended: %v; want Active", st)
	}
	if w := iamWritesBy(p); len(w) != 0 {
		t.Fatalf("IAM writes during the notice period: %v", w)
	}

	if a = applyAt(3); a.Status != plan.ActionDone {
		t.Errorf("three days later: %s %q; want done", a.Status, a.Reason)
	}
	if st := keyStatus(t, m, "alice"); st[alice] != "Inactive" {
		t.Errorf("alice's key after the notice period: %v; want Inactive", st)
	}
}
