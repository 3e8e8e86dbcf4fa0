package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/run"
	"github.com/keywarden/keywarden/internal/state"
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
	// applyAt runs --apply at the wall clock plus offset days (a run that
	// acts days from the wall clock must be forced to).
	applyAt := func(offset int) plan.Action {
		t.Helper()
		args := []string{"run", "--apply", "--format", "json"}
		if offset != 0 {
			args = append(args, "--as-of", now.at(offset), "--force-as-of")
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

// putStopParameter sets the SSM parameter name to value in moto.
func putStopParameter(t *testing.T, m *testenv.MotoServer, name, value string) {
	t.Helper()
	if _, err := ssm.NewFromConfig(m.Config(t)).PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String(name),
		Value: aws.String(value), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
}

// stopConfig acts at once (no grace period, no fraction guard) and has an
// emergency stop parameter.
var stopConfig = strings.Replace(enforceConfig, "  grace_after_disable: 14\n",
	"  grace_after_disable: 0\n  max_fraction: 1\n  stop_parameter: /keywarden/stop\n", 1)

// stopUsers: an inactive key to delete (a-old) and four keys to disable,
// acted on in this order.
func stopUsers() []testenv.SeedUser {
	old := keyUser("a-old", 100)
	old.Keys[0].Inactive, old.Keys[0].LastUsedDaysAgo = true, 60
	return []testenv.SeedUser{old, keyUser("b", 85), keyUser("c", 85), keyUser("d", 85), keyUser("e", 85)}
}

// TestEnforceEmergencyStop: the stop parameter is set to stop while a run
// is acting (after its second disable): the remaining actions are skipped
// with the reason, in the output, the audit trail and the digest, and the
// run exits 5 saying why. Then
// undo --run re-enables every key the run disabled, says per action that
// the deleted key cannot be restored, and — like undo of one action —
// changes nothing where the config does not allow it.
func TestEnforceEmergencyStop(t *testing.T) {
	m := testenv.Moto(t)
	dir, ids := enforceSetup(t, m, stopUsers(), stopConfig)
	putStopParameter(t, m, "/keywarden/stop", "go")
	p := m.NewProxy(t)
	env := p.Env(m)
	disables := 0
	p.Inject(testenv.Fault{
		Match: func(op testenv.Op) bool {
			if op.Name() != "iam:UpdateAccessKey" {
				return false
			}
			disables++ // under the proxy's lock
			return disables == 2
		},
		After: func(testenv.Op) { putStopParameter(t, m, "/keywarden/stop", " STOP ") },
	})
	r := keywarden(t, env, dir, "run", "--apply", "--format", "json")
	reason := run.ReasonStop("/keywarden/stop")
	if r.code != 5 || !strings.Contains(r.stderr, "the emergency stop kept this run from acting: "+reason) {
		t.Fatalf("run --apply: exit %d\n%s\nwant exit 5, naming the emergency stop", r.code, r.stderr)
	}
	res := decodeRun(t, r)
	if res.Stopped != reason {
		t.Errorf("run JSON stopped = %q; want %q", res.Stopped, reason)
	}
	got := map[string]string{}
	for _, a := range res.Plan.Actions {
		got[a.User] = a.Status + " " + a.Reason
	}
	for _, user := range []string{"a-old", "b", "c"} {
		if !strings.HasPrefix(got[user], plan.ActionDone+" ") {
			t.Errorf("%s's action: %s; want done (before the stop)", user, got[user])
		}
	}
	for _, user := range []string{"d", "e"} {
		if got[user] != plan.ActionSkipped+" "+reason {
			t.Errorf("%s's action: %s; want skipped: %s", user, got[user], reason)
		}
		if st := keyStatus(t, m, user); st[ids[user][0]] != "Active" {
			t.Errorf("%s's key after the stop: %v; want Active", user, st)
		}
	}
	if n := p.Count("ssm:GetParameter"); n != 4 {
		t.Errorf("the stop parameter was read %d times; want 4 (before each action up to the one it stopped)", n)
	}
	stopped := 0
	for _, a := range history(t, env, dir, "--status", "skipped") {
		if a.Reason == reason {
			stopped++
		}
	}
	if stopped != 2 {
		t.Errorf("%d skips recorded with the stop's reason; want 2", stopped)
	}
	if d := outboxMail(t, dir, "digest"); len(d) == 0 || !strings.Contains(d[len(d)-1].Text, reason) {
		t.Errorf("the digest does not give the stop's reason %q", reason)
	}

	// undo --run where the config does not allow the account: nothing.
	cfgText, err := os.ReadFile(filepath.Join(dir, "keywarden.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	notAllowed := filepath.Join(dir, "not-allowed.yaml")
	if err := os.WriteFile(notAllowed, []byte(strings.Replace(string(cfgText), `allowed_accounts: ["123456789012"]`, "allowed_accounts: []", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	p.Reset()
	u := keywarden(t, env, dir, "undo", "--run", res.RunID, "--config", notAllowed, "--format", "json")
	if u.code != 1 || !strings.Contains(u.stderr, "is not in enforce.allowed_accounts") {
		t.Errorf("undo --run in an account not allowed: exit %d\n%s\nwant exit 1 naming enforce.allowed_accounts", u.code, u.stderr)
	}
	if w := iamWritesBy(p); len(w) != 0 {
		t.Errorf("undo --run where nothing is allowed wrote to IAM: %v", w)
	}

	u = keywarden(t, env, dir, "undo", "--run", res.RunID, "--format", "json")
	deleteID := ""
	for _, a := range res.Plan.Actions {
		if a.User == "a-old" {
			deleteID = a.ID
		}
	}
	if u.code != 1 || !strings.Contains(u.stderr, "action "+deleteID+": cannot be undone: it deleted access key "+ids["a-old"][0]) {
		t.Errorf("undo --run: exit %d\n%s\nwant exit 1, saying the deleted key (action %s) cannot be undone", u.code, u.stderr, deleteID)
	}
	var enabled []state.Action
	if err := json.Unmarshal([]byte(u.stdout), &enabled); err != nil {
		t.Fatalf("undo --run output: %v\n%s", err, u.stdout)
	}
	var restored []string
	for _, e := range enabled {
		if e.Kind == state.KindEnable && e.Status == state.ActionDone {
			restored = append(restored, e.User)
		}
	}
	if !slicesEqualSorted(restored, []string{"b", "c"}) {
		t.Errorf("undo --run re-enabled %v; want b and c, every key the run disabled", restored)
	}
	for _, user := range []string{"b", "c", "d", "e"} {
		if st := keyStatus(t, m, user); st[ids[user][0]] != "Active" {
			t.Errorf("%s's key after undo --run: %v; want Active", user, st)
		}
	}
	audited := 0
	for _, l := range readLines(t, filepath.Join(dir, "audit.jsonl")) {
		var a state.Action
		if err := json.Unmarshal([]byte(l), &a); err == nil && a.Kind == state.KindEnable && a.Status == state.ActionDone {
			audited++
		}
	}
	if audited != 2 {
		t.Errorf("the audit file has %d done enables; want 2", audited)
	}
}

// TestEnforceStopUnreadable: a stop parameter that cannot be read — it
// does not exist, or reading it is denied — counts as stop: no action is
// taken, each says why, and the run reports the error (exit 1).
func TestEnforceStopUnreadable(t *testing.T) {
	for name, tc := range map[string]struct {
		create bool
		fault  *testenv.Fault
		code   string
	}{
		"missing": {code: "ParameterNotFound"},
		"denied": {create: true, code: "AccessDeniedException",
			fault: &testenv.Fault{Match: testenv.IsOp("ssm:GetParameter"), Code: "AccessDeniedException", Message: "not allowed"}},
	} {
		t.Run(name, func(t *testing.T) {
			m := testenv.Moto(t)
			dir, ids := enforceSetup(t, m, stopUsers(), stopConfig)
			if tc.create {
				putStopParameter(t, m, "/keywarden/stop", "go")
			}
			p := m.NewProxy(t)
			if tc.fault != nil {
				p.Inject(*tc.fault)
			}
			r := keywarden(t, p.Env(m), dir, "run", "--apply", "--format", "json")
			if r.code != 1 || !strings.Contains(r.stderr, "enforce.stop_parameter /keywarden/stop cannot be read, so no action was taken") {
				t.Fatalf("run --apply: exit %d\n%s\nwant exit 1 saying the stop parameter cannot be read", r.code, r.stderr)
			}
			reason := run.ReasonStopUnreadable("/keywarden/stop", tc.code)
			for _, a := range decodeRun(t, r).Plan.Actions {
				if a.Status != plan.ActionSkipped || a.Reason != reason {
					t.Errorf("%s's action: %s %q; want skipped: %q", a.User, a.Status, a.Reason, reason)
				}
			}
			if w := iamWritesBy(p); len(w) != 0 {
				t.Errorf("IAM writes with an unreadable stop parameter: %v", w)
			}
			if n := p.Count("ssm:GetParameter"); n != 1 {
				t.Errorf("the stop parameter was read %d times; want once (a failed read stops every action)", n)
			}
			if st := keyStatus(t, m, "b"); st[ids["b"][0]] != "Active" {
				t.Errorf("b's key: %v; want Active", st)
			}
		})
	}
}
