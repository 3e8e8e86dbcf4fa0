package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/testenv"
)

// TestApplyActsOnTheWallClock: a run that would act refuses an --as-of
// more than a day from the wall clock (exit 2, naming --force-as-of)
// before it reads or writes anything — with --apply or with
// enforce.mode: apply; a dry run of it may look there (and says a real run
// would refuse); --force-as-of needs --as-of and a run that acts; within a
// day --as-of is taken, and nothing is recorded as forced.
func TestApplyActsOnTheWallClock(t *testing.T) {
	m := testenv.Moto(t)
	dir, ids := enforceSetup(t, m, withFresh(keyUser("alice", 85)), enforceConfig)
	applyMode := enforceVariant(t, dir, "apply.yaml", "mode: apply")
	p := m.NewProxy(t)
	env := p.Env(m)
	now := clock(time.Now().UTC())

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"--apply, 55 days ahead", []string{"--apply", "--as-of", now.at(55)}, "is 55 days from the wall clock"},
		{"--apply, 30 days back", []string{"--apply", "--as-of", now.at(-30)}, "is 30 days from the wall clock"},
		{"enforce.mode: apply, 55 days ahead", []string{"--config", applyMode, "--as-of", now.at(55)}, "is 55 days from the wall clock"},
	} {
		r := keywarden(t, env, dir, append([]string{"run", "--format", "json"}, tt.args...)...)
		for _, want := range []string{tt.want, "a run that acts (--apply, or enforce.mode: apply) acts on the wall clock", "add --force-as-of"} {
			if r.code != 2 || !strings.Contains(r.stderr, want) {
				t.Errorf("%s: exit %d\n%s\nwant exit 2 and %q", tt.name, r.code, r.stderr, want)
			}
		}
	}
	if ops := p.Ops(); len(ops) != 0 {
		t.Errorf("the refused runs made %d AWS requests (first %s); want none", len(ops), ops[0].Name())
	}
	for _, f := range []string{"state.db", "outbox", "audit.jsonl"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("a refused run created %s", f)
		}
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--apply", "--force-as-of"}, "--force-as-of needs --as-of"},
		{[]string{"--as-of", now.at(55), "--force-as-of"}, "--force-as-of is for a run that acts (--apply, or enforce.mode: apply)"},
	} {
		if r := keywarden(t, env, dir, append([]string{"run"}, tt.args...)...); r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("run %v: exit %d\n%s\nwant exit 2 and %q", tt.args, r.code, r.stderr, tt.want)
		}
	}

	// A dry run of the apply config may look 55 days ahead: it says what a
	// real run would do then, and that a real run refuses the date.
	r := keywarden(t, env, dir, "run", "--config", applyMode, "--dry-run", "--as-of", now.at(55), "--format", "json")
	if r.code != 0 {
		t.Fatalf("dry run 55 days ahead: exit %d\n%s", r.code, r.stderr)
	}
	res := decodeRun(t, r)
	if notes := strings.Join(res.Notes, "\n"); !strings.Contains(notes, "a run that acts refuses it without --force-as-of; this dry run acts at it") {
		t.Errorf("dry run notes %q; want the note that a real run refuses the date", notes)
	}
	if w := iamWritesBy(p); len(w) != 0 {
		t.Errorf("the dry run wrote to IAM: %v", w)
	}

	// Within a day: taken, on the wall clock, nothing forced.
	r = keywarden(t, env, dir, "run", "--apply", "--as-of", time.Time(now).Add(23*time.Hour).Format(time.RFC3339), "--format", "json")
	if r.code != 0 {
		t.Fatalf("--apply 23 hours ahead: exit %d\n%s", r.code, r.stderr)
	}
	if res := decodeRun(t, r); !res.ForcedAsOf.IsZero() || res.ActionsDone != 1 {
		t.Errorf("--apply 23 hours ahead: forced_as_of %s, %d actions done; want none and alice's disable", res.ForcedAsOf, res.ActionsDone)
	}
	if st := keyStatus(t, m, "alice"); st[ids["alice"][0]] != "Inactive" {
		t.Errorf("alice's key: %v; want Inactive", st)
	}
	for _, a := range history(t, env, dir) {
		if !a.ForcedAsOf.IsZero() {
			t.Errorf("record %s: forced_as_of %s; want none", a.ID, a.ForcedAsOf)
		}
	}
}

// TestForcedPastClockContradictsTheAccount: --force-as-of three days back,
// with a key the account says was used yesterday and a credential report
// generated now: the account's own data contradicts the clock, so nothing
// is changed there (exit 5); the skip is recorded with the reason and the
// forced as-of.
func TestForcedPastClockContradictsTheAccount(t *testing.T) {
	m := testenv.Moto(t)
	dir, ids := enforceSetup(t, m, withFresh(keyUser("alice", 90)), enforceConfig)
	p := m.NewProxy(t)
	env := p.Env(m)
	now := clock(time.Now().UTC())
	r := keywarden(t, env, dir, "run", "--apply", "--as-of", now.at(-3), "--force-as-of", "--format", "json")
	want := fmt.Sprintf("account %s: its own data contradicts the run's clock: the credential report was generated at ", testenv.AccountID)
	if r.code != 5 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "after the run's as-of time ("+now.at(-3)+"); "+
		"nothing is changed in this account; check --as-of and this machine's clock") {
		t.Fatalf("run --apply forced 3 days back: exit %d\n%s\nwant exit 5 and %q", r.code, r.stderr, want)
	}
	res := decodeRun(t, r)
	if len(res.Plan.Actions) != 1 || res.Plan.Actions[0].Status != plan.ActionBlocked || !strings.HasPrefix(res.Plan.Actions[0].Reason, want) {
		t.Errorf("actions %+v; want alice's blocked by the clock", res.Plan.Actions)
	}
	if w := iamWritesBy(p); len(w) != 0 {
		t.Errorf("IAM writes: %v; want none", w)
	}
	if st := keyStatus(t, m, "alice"); st[ids["alice"][0]] != "Active" {
		t.Errorf("alice's key: %v; want Active", st)
	}
	recs := history(t, env, dir)
	if len(recs) != 1 || recs[0].Status != state.ActionSkipped || !strings.HasPrefix(recs[0].Reason, want) ||
		recs[0].ForcedAsOf.Format(time.RFC3339) != now.at(-3) {
		t.Errorf("history = %+v; want alice's action skipped with the reason and forced_as_of %s", recs, now.at(-3))
	}
}

// TestStaleReportLeavesOnlyThatAccountAlone: in an organization of five
// accounts, one member's credential report was generated three days ago
// by AWS's clock — as this machine's clock would see it if it were three
// days ahead. A run that acts leaves that account unchanged, says so
// (exit 5), and acts in the other four.
func TestStaleReportLeavesOnlyThatAccountAlone(t *testing.T) {
	e := newOrgE2E(t)
	stale := e.members[1]
	member := iam.NewFromConfig(e.m.AssumeRoleConfig(t, "arn:aws:iam::"+stale+":role/OrganizationAccountAccessRole"))
	ctx := context.Background()
	if _, err := member.ListAccountAliases(ctx, &iam.ListAccountAliasesInput{}); err != nil { // credentials of now
		t.Fatal(err)
	}
	e.m.SetClock(t, testenv.DaysAgo(3))
	if _, err := member.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}); err != nil {
		t.Fatal(err)
	}
	e.m.SetClock(t, "+0")

	dir := t.TempDir()
	cfg := fmt.Sprintf(`version: 1
accounts:
  organization: { role_name: OrganizationAccountAccessRole }
notify:
  outbox: { dir: %s }
enforce:
  allowed_accounts: [%s]
  max_fraction: 1
state: { url: "sqlite://%s" }
`, filepath.Join(dir, "outbox"), `"`+strings.Join(e.accounts, `", "`)+`"`, filepath.Join(dir, "state.db"))
	if err := os.WriteFile(filepath.Join(dir, "keywarden.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := e.m.NewProxy(t)
	r := keywarden(t, p.Env(e.m), dir, "run", "--apply", "--format", "json")
	want := fmt.Sprintf("account %s: its own data contradicts the run's clock: the credential report was generated at ", stale)
	if r.code != 5 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr,
		"3 days before this machine's clock") || !strings.Contains(r.stderr, "and IAM serves no report older than 4 hours; "+
		"nothing is changed in this account; check this machine's clock") {
		t.Fatalf("run --apply: exit %d\n%s\nwant exit 5 and %q", r.code, r.stderr, want)
	}
	res := decodeRun(t, r)
	if len(res.Plan.Guards) != 1 || res.Plan.Guards[0].Account != stale {
		t.Errorf("guards %+v; want %s's only", res.Plan.Guards, stale)
	}
	status := map[string]string{}
	for _, a := range res.Plan.Actions {
		status[a.Account] = a.Status
	}
	for _, id := range e.accounts {
		want := plan.ActionDone
		if id == stale {
			want = plan.ActionBlocked
		}
		if status[id] != want {
			t.Errorf("account %s: old key's action %q; want %s", id, status[id], want)
		}
	}
	writes := 0
	for _, op := range p.Ops() {
		if op.Name() == "iam:UpdateAccessKey" {
			writes++
			if op.Account == stale {
				t.Errorf("UpdateAccessKey in %s, whose clock check failed", stale)
			}
		}
	}
	if writes != len(e.accounts)-1 {
		t.Errorf("%d keys disabled; want %d (every account's old key but %s's)", writes, len(e.accounts)-1, stale)
	}
	out, err := member.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("old-" + stale)})
	if err != nil || len(out.AccessKeyMetadata) != 1 || out.AccessKeyMetadata[0].Status != "Active" {
		t.Errorf("%s's old key: %+v, %v; want Active", stale, out, err)
	}
}
