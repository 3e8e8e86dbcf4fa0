package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	_ "modernc.org/sqlite"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/testenv"
)

// rotateConfig rotates the machine class's keys at 80 days (humans are
// only told), retires the old key after a 7-day overlap and deletes it 3
// days after its disable.
const rotateConfig = `version: 1
classes:
  - name: machine
    match: { tags: { UserType: machine } }
rules:
  access_key_age:
    human: [ {at: 70, action: notify} ]
    machine: [ {at: 70, action: notify}, {at: 80, action: rotate} ]
  signing_certificate_age: { human: [ {at: 70, action: notify} ] }
  service_credential_age: { human: [ {at: 70, action: notify} ] }
notify:
  users: { email_tags: [Email], allowed_domains: [example.com], via: outbox }
  admins: { emails: [sec@example.com] }
  outbox: { dir: OUTBOX }
enforce:
  allowed_accounts: ["123456789012"]
  grace_after_disable: 3
  max_fraction: 1
  audit_file: AUDIT
rotate: { overlap_days: 7 }
state: { url: "sqlite://STATE" }
`

// machine is a machine user with one key age days old whose
// keywarden:secret tag names target.
func machine(name string, age int, target string) testenv.SeedUser {
	return keyUser(name, age, "UserType", "machine", config.TagSecret, target)
}

// putSecret creates the secret name tagged keywarden:user=owner, with the
// KMS key kmsKey ("" for the default key).
func putSecret(t *testing.T, m *testenv.MotoServer, name, owner, kmsKey string) string {
	t.Helper()
	in := &sm.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("{}"),
		Tags: []smtypes.Tag{{Key: aws.String(config.TagSecretUser), Value: aws.String(owner)}}}
	if kmsKey != "" {
		in.KmsKeyId = aws.String(kmsKey)
	}
	out, err := sm.NewFromConfig(m.Config(t)).CreateSecret(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

// credentialJSON is what a rotation writes.
type credentialJSON struct {
	Version         int
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
}

// secretValue reads a secret's current value as the workload does.
func secretValue(t *testing.T, m *testenv.MotoServer, id string) credentialJSON {
	t.Helper()
	out, err := sm.NewFromConfig(m.Config(t)).GetSecretValue(context.Background(), &sm.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	var c credentialJSON
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &c); err != nil {
		t.Fatalf("secret %s: not the credential_process JSON: %v", id, err)
	}
	return c
}

// parameterValue reads an SSM parameter's value, decrypted.
func parameterValue(t *testing.T, m *testenv.MotoServer, name string) credentialJSON {
	t.Helper()
	out, err := ssm.NewFromConfig(m.Config(t)).GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	var c credentialJSON
	if err := json.Unmarshal([]byte(aws.ToString(out.Parameter.Value)), &c); err != nil {
		t.Fatalf("parameter %s: not the credential_process JSON: %v", name, err)
	}
	return c
}

// callerOf signs sts:GetCallerIdentity with the key (moto then records it
// as used) and returns the identity's ARN.
func callerOf(t *testing.T, m *testenv.MotoServer, c credentialJSON) string {
	t.Helper()
	out, err := sts.NewFromConfig(m.ConfigWithKey(t, c.AccessKeyID, c.SecretAccessKey)).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity signed with the rotated key %s: %v", c.AccessKeyID, err)
	}
	return aws.ToString(out.Arn)
}

// rotationsOf are the rotate records of user, newest first.
func rotationsOf(recs []state.Action, user string) []state.Action {
	var out []state.Action
	for _, r := range recs {
		if r.Kind == state.KindRotate && r.User == user {
			out = append(out, r)
		}
	}
	return out
}

// retireOf is the done record of kind (disable, delete) that retires
// rotation, or nil.
func retireOf(recs []state.Action, rotation, kind string) *state.Action {
	for i := range recs {
		if recs[i].RotationOf == rotation && recs[i].Kind == kind && recs[i].Status == state.ActionDone {
			return &recs[i]
		}
	}
	return nil
}

// noSecretAnywhere fails the test when any secret access key appears in
// the texts, the files under dir (outbox mail, audit file, SQLite state),
// or keywarden's history.
func noSecretAnywhere(t *testing.T, env []string, dir string, texts []string, secrets ...string) {
	t.Helper()
	texts = append(texts, keywarden(t, env, dir, "history", "--format", "json").stdout,
		keywarden(t, env, dir, "history", "--runs", "--format", "json").stdout)
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || filepath.Ext(path) == ".yaml" {
			return err
		}
		b, err := os.ReadFile(path)
		texts = append(texts, path+"\n"+string(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if s == "" {
			t.Fatal("an empty secret: the test read no key")
		}
		for _, text := range texts {
			if strings.Contains(text, s) {
				where, _, _ := strings.Cut(text, "\n")
				t.Errorf("a rotated key's secret access key appears in keywarden's output or files (%.80s)", where)
			}
		}
	}
}

// ageRecord moves the time the action id was recorded at back by d in
// the SQLite state at path (as the store writes times): the next run
// then comes that much later, for the lease.
func ageRecord(t *testing.T, path, id string, d time.Duration) {
	t.Helper()
	const layout = "2006-01-02T15:04:05.000000000Z"
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var at string
	if err := db.QueryRow("SELECT at FROM actions WHERE id = ?", id).Scan(&at); err != nil {
		t.Fatal(err)
	}
	when, err := time.Parse(layout, at)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE actions SET at = ? WHERE id = ?", when.Add(-d).UTC().Format(layout), id); err != nil {
		t.Fatal(err)
	}
}

// TestRotateEndToEnd is rotation over a simulated timeline, through the
// binary against moto (IAM, Secrets Manager, SSM, KMS): three machine
// users rotated into a Secrets Manager secret (one under a customer
// managed KMS key) and an SSM SecureString parameter; the new key in
// each works; the old keys stay active until the new one is used (two of
// them) or the overlap ends (the third), then are deleted after the grace
// period; a tag that points at a secret provisioned for another user is
// refused; no secret access key is ever in a log line, a report, a mail,
// the audit file or the state.
func TestRotateEndToEnd(t *testing.T) {
	m := testenv.Moto(t)
	ctx := context.Background()
	key, err := kms.NewFromConfig(m.Config(t)).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("ci secrets")})
	if err != nil {
		t.Fatal(err)
	}
	users := withFresh(machine("bot1", 85, "keywarden/bot1"), machine("bot2", 85, "keywarden/bot2"),
		machine("bot4", 85, "ssm:/keywarden/bot4"), machine("mallory", 85, "keywarden/mallory"))
	dir, ids := enforceSetup(t, m, users, rotateConfig)
	arn1 := putSecret(t, m, "keywarden/bot1", "bot1", "")
	arn2 := putSecret(t, m, "keywarden/bot2", "bot2", aws.ToString(key.KeyMetadata.Arn))
	// mallory may tag herself, but the secret her tag names was provisioned
	// for bot1.
	putSecret(t, m, "keywarden/mallory", "bot1", "")
	if _, err := ssm.NewFromConfig(m.Config(t)).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/keywarden/bot4"),
		Value: aws.String("{}"), Type: ssmtypes.ParameterTypeSecureString, KeyId: key.KeyMetadata.Arn,
		Tags: []ssmtypes.Tag{{Key: aws.String(config.TagSecretUser), Value: aws.String("bot4")}}}); err != nil {
		t.Fatal(err)
	}
	now := clock(time.Now())
	p := m.NewProxy(t)
	env := p.Env(m)
	var texts []string
	apply := func(args ...string) []plan.Action {
		t.Helper()
		r := keywarden(t, env, dir, append([]string{"run", "--apply", "--format", "json"}, args...)...)
		texts = append(texts, r.stdout, r.stderr)
		if r.code != 0 {
			t.Fatalf("run --apply %v: exit %d\n%s", args, r.code, r.stderr)
		}
		return decodeRun(t, r).Plan.Actions
	}

	// Day 0: rotated; the old keys stay active.
	acts := apply()
	recs := history(t, env, dir)
	creds := map[string]credentialJSON{}
	for user, read := range map[string]func() credentialJSON{
		"bot1": func() credentialJSON { return secretValue(t, m, "keywarden/bot1") },
		"bot2": func() credentialJSON { return secretValue(t, m, "keywarden/bot2") },
		"bot4": func() credentialJSON { return parameterValue(t, m, "/keywarden/bot4") },
	} {
		rots := rotationsOf(recs, user)
		if len(rots) != 1 || rots[0].Status != state.ActionDone || rots[0].NewKeyID == "" {
			t.Fatalf("%s: rotate records %+v; want one done, with the new key", user, rots)
		}
		c := read()
		creds[user] = c
		if c.Version != 1 || c.AccessKeyID != rots[0].NewKeyID || c.SecretAccessKey == "" {
			t.Errorf("%s: the target holds key %s (version %d); want the rotation's new key %s", user, c.AccessKeyID, c.Version, rots[0].NewKeyID)
		}
		st := keyStatus(t, m, user)
		if st[ids[user][0]] != "Active" || st[c.AccessKeyID] != "Active" || len(st) != 2 {
			t.Errorf("%s after the rotation: keys %v; want the old %s and the new %s, both Active", user, st, ids[user][0], c.AccessKeyID)
		}
	}
	if got, want := rotationsOf(recs, "bot1")[0].SecretTarget, arn1; got != want {
		t.Errorf("bot1's rotation wrote to %q; want the secret's ARN %s", got, want)
	}
	if got, want := rotationsOf(recs, "bot2")[0].SecretTarget, arn2; got != want {
		t.Errorf("bot2's rotation wrote to %q; want the secret's ARN %s", got, want)
	}
	if got := rotationsOf(recs, "bot4")[0].SecretTarget; got != "ssm:/keywarden/bot4" {
		t.Errorf("bot4's rotation wrote to %q; want ssm:/keywarden/bot4", got)
	}
	// The CMK-encrypted parameter stays under its key.
	if d, err := ssm.NewFromConfig(m.Config(t)).DescribeParameters(ctx, &ssm.DescribeParametersInput{ParameterFilters: []ssmtypes.ParameterStringFilter{
		{Key: aws.String("Name"), Values: []string{"/keywarden/bot4"}}}}); err != nil || len(d.Parameters) != 1 ||
		aws.ToString(d.Parameters[0].KeyId) != aws.ToString(key.KeyMetadata.Arn) {
		t.Errorf("/keywarden/bot4 after the rotation: %+v, %v; want it under the customer managed key %s", d, err, aws.ToString(key.KeyMetadata.Arn))
	}
	// mallory: refused, nothing created.
	refused := false
	for _, a := range acts {
		if a.User == "mallory" && a.Kind == config.ActionRotate {
			refused = a.Status != plan.ActionDone && strings.Contains(a.Reason, "tagged keywarden:user=bot1, not mallory")
			if !refused {
				t.Errorf("mallory's rotation: %s %q; want it refused for the secret's keywarden:user tag", a.Status, a.Reason)
			}
		}
	}
	if !refused {
		t.Errorf("no rotate action for mallory in %+v", acts)
	}
	if st := keyStatus(t, m, "mallory"); len(st) != 1 || p.Count("iam:CreateAccessKey") != 3 {
		t.Errorf("mallory's keys %v, %d keys created in all; want her one key, and 3 created (bot1, bot2, bot4)", st, p.Count("iam:CreateAccessKey"))
	}
	if v := secretValue(t, m, "keywarden/mallory"); v.AccessKeyID != "" {
		t.Errorf("keywarden/mallory was written (%s)", v.AccessKeyID)
	}

	// The workloads of bot1 and bot2 pick up their new keys; bot4's does
	// not yet.
	for _, user := range []string{"bot1", "bot2"} {
		if got := callerOf(t, m, creds[user]); got != "arn:aws:iam::123456789012:user/"+user {
			t.Errorf("the key in %s's secret signs as %s; want user %s", user, got, user)
		}
	}
	apply()
	recs = history(t, env, dir)
	for user, retired := range map[string]bool{"bot1": true, "bot2": true, "bot4": false} {
		rot := rotationsOf(recs, user)[0]
		old := ids[user][0]
		st := keyStatus(t, m, user)
		if retired != (retireOf(recs, rot.ID, state.KindDisable) != nil) || (retired && st[old] != "Inactive") || (!retired && st[old] != "Active") ||
			st[rot.NewKeyID] != "Active" {
			t.Errorf("%s after its new key was used (%v): keys %v; want the old key %s disabled only if the new one was used", user, retired, st, old)
		}
	}

	// Day 8: the overlap is over for bot4 (never used): disabled. bot1's
	// and bot2's old keys, inactive for 3 days, are deleted.
	apply("--as-of", now.at(8), "--force-as-of")
	recs = history(t, env, dir)
	for user, want := range map[string]string{"bot1": "", "bot2": "", "bot4": "Inactive"} {
		rot := rotationsOf(recs, user)[0]
		if st := keyStatus(t, m, user); st[ids[user][0]] != want || st[rot.NewKeyID] != "Active" {
			t.Errorf("%s on day 8: keys %v; want the old key %s %q and the new one Active", user, st, ids[user][0], cmpOr(want, "deleted"))
		}
	}
	if retireOf(recs, rotationsOf(recs, "bot1")[0].ID, state.KindDelete) == nil {
		t.Errorf("no done delete retires bot1's rotation: %+v", recs)
	}
	// Day 12: bot4's old key, inactive for 4 days, is deleted.
	apply("--as-of", now.at(12), "--force-as-of")
	if st := keyStatus(t, m, "bot4"); len(st) != 1 || st[creds["bot4"].AccessKeyID] != "Active" {
		t.Errorf("bot4 on day 12: keys %v; want only the new key %s", st, creds["bot4"].AccessKeyID)
	}
	// Nothing else was created: each user holds one key.
	for _, user := range []string{"bot1", "bot2", "bot4", "mallory"} {
		if st := keyStatus(t, m, user); len(st) != 1 {
			t.Errorf("%s holds %d keys at the end: %v", user, len(st), st)
		}
	}
	if len(outboxMail(t, dir, "")) == 0 {
		t.Error("no mail in the outbox: the rotation's owners and admins were not told")
	}
	noSecretAnywhere(t, env, dir, texts, creds["bot1"].SecretAccessKey, creds["bot2"].SecretAccessKey, creds["bot4"].SecretAccessKey)
}

// TestRotateWriteFailureLeavesNoKey: Secrets Manager refuses every
// PutSecretValue: the new key is deleted at once and the rotation is
// recorded as failed; the old key is untouched.
func TestRotateWriteFailureLeavesNoKey(t *testing.T) {
	m := testenv.Moto(t)
	dir, ids := enforceSetup(t, m, withFresh(machine("bot1", 85, "keywarden/bot1")), rotateConfig)
	putSecret(t, m, "keywarden/bot1", "bot1", "")
	p := m.NewProxy(t)
	env := p.Env(m)
	p.Inject(testenv.Fault{Match: testenv.IsOp("secretsmanager:PutSecretValue"), Status: 500, Code: "InternalServiceError"})
	r := keywarden(t, env, dir, "run", "--apply", "--format", "json")
	if r.code != 1 {
		t.Errorf("run --apply with the write failing: exit %d; want 1 (an action failed)\n%s", r.code, r.stderr)
	}
	rots := rotationsOf(history(t, env, dir), "bot1")
	if len(rots) != 1 || rots[0].Status != state.ActionFailed {
		t.Fatalf("rotate records %+v; want one failed", rots)
	}
	if st := keyStatus(t, m, "bot1"); len(st) != 1 || st[ids["bot1"][0]] != "Active" {
		t.Errorf("keys after the failed write: %v; want only the old key %s, Active", st, ids["bot1"][0])
	}
	if p.Count("iam:CreateAccessKey") != 1 || p.Count("iam:DeleteAccessKey") != 1 {
		t.Errorf("%d CreateAccessKey, %d DeleteAccessKey; want the new key created once and deleted once", p.Count("iam:CreateAccessKey"), p.Count("iam:DeleteAccessKey"))
	}
	if v := secretValue(t, m, "keywarden/bot1"); v.AccessKeyID != "" {
		t.Errorf("the secret holds %s after a failed write", v.AccessKeyID)
	}
}

// TestRotateKilledBeforeTheSecretIsRepaired: keywarden is killed after
// creating the new key, while its PutSecretValue hangs (never written).
// The next run deletes that orphan key, records the rotation as failed,
// and rotates again: in the end the secret holds a working key and the
// user has no key beyond the old one and that one.
func TestRotateKilledBeforeTheSecretIsRepaired(t *testing.T) {
	m := testenv.Moto(t)
	dir, ids := enforceSetup(t, m, withFresh(machine("bot1", 85, "keywarden/bot1")), rotateConfig)
	putSecret(t, m, "keywarden/bot1", "bot1", "")
	p := m.NewProxy(t)
	env := p.Env(m)

	cmd := exec.Command(binary, "run", "--apply", "--format", "json")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	var killed sync.WaitGroup
	killed.Add(1)
	p.Inject(testenv.Fault{Match: testenv.IsOp("secretsmanager:PutSecretValue"), Times: 1, Hang: true, Before: func(testenv.Op) {
		defer killed.Done()
		_ = cmd.Process.Kill()
	}})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	killed.Wait()
	if err == nil || cmd.ProcessState.Success() {
		t.Fatalf("the run was not killed (err %v)\n%s", err, stderr.String())
	}
	pending := history(t, env, dir, "--status", "planned")
	if len(pending) != 1 || pending[0].Kind != state.KindRotate || pending[0].NewKeyID == "" {
		t.Fatalf("after the kill: planned records %+v; want the rotation, with its new key recorded", pending)
	}
	orphan := pending[0].NewKeyID
	if st := keyStatus(t, m, "bot1"); len(st) != 2 || st[orphan] != "Active" {
		t.Fatalf("after the kill: keys %v; want the old key and the orphan %s", st, orphan)
	}

	// Within the lease (an hour) the killed run may still be at it; the
	// next run comes later.
	ageRecord(t, filepath.Join(dir, "state.db"), pending[0].ID, 2*time.Hour)
	r := keywarden(t, env, dir, "run", "--apply", "--format", "json")
	texts := []string{stdout.String(), stderr.String(), r.stdout, r.stderr}
	if r.code != 0 && r.code != 1 {
		t.Fatalf("the next run: exit %d\n%s", r.code, r.stderr)
	}
	recs := history(t, env, dir)
	var first *state.Action
	for i := range recs {
		if recs[i].ID == pending[0].ID {
			first = &recs[i]
		}
	}
	if first == nil || first.Status != state.ActionFailed || !strings.Contains(first.Reason, "killed before the secret was written; the new key "+orphan+" was deleted") {
		t.Errorf("the killed rotation after the next run: %+v; want failed, its new key deleted", first)
	}
	st := keyStatus(t, m, "bot1")
	if _, ok := st[orphan]; ok {
		t.Errorf("the orphan key %s survived the next run: %v", orphan, st)
	}
	if st[ids["bot1"][0]] != "Active" {
		t.Errorf("the old key after the repair: %v; want Active", st)
	}
	// The rotation is made again, by that run or the one after.
	if rots := rotationsOf(recs, "bot1"); len(rots) < 2 || rots[0].Status != state.ActionDone {
		r = keywarden(t, env, dir, "run", "--apply", "--format", "json")
		texts = append(texts, r.stdout, r.stderr)
		if r.code != 0 {
			t.Fatalf("the run after the repair: exit %d\n%s", r.code, r.stderr)
		}
		recs = history(t, env, dir)
	}
	rots := rotationsOf(recs, "bot1")
	if len(rots) != 2 || rots[0].Status != state.ActionDone {
		t.Fatalf("rotate records %+v; want the failed one and a done one", rots)
	}
	c := secretValue(t, m, "keywarden/bot1")
	if c.AccessKeyID != rots[0].NewKeyID {
		t.Errorf("the secret holds %s; want the new rotation's key %s", c.AccessKeyID, rots[0].NewKeyID)
	}
	if got := callerOf(t, m, c); got != "arn:aws:iam::123456789012:user/bot1" {
		t.Errorf("the key in the secret signs as %s; want bot1", got)
	}
	if st := keyStatus(t, m, "bot1"); len(st) != 2 || st[c.AccessKeyID] != "Active" || st[ids["bot1"][0]] != "Active" {
		t.Errorf("bot1's keys at the end: %v; want the old and the new key, both Active (no orphan)", st)
	}
	noSecretAnywhere(t, env, dir, texts, c.SecretAccessKey)
}
