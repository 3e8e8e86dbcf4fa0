package main

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/run"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/sqlite"
	"github.com/keywarden/keywarden/internal/testenv"
)

// truthConfig is enforceConfig with three attempts per AWS call, so that
// a write every attempt of which fails is given up in seconds.
var truthConfig = strings.Replace(enforceConfig, "state:", "accounts: { max_attempts: 3 }\nstate:", 1)

// onKey is a fault matcher for op on one access key, while on is set.
func onKey(on *atomic.Bool, op, keyID string) func(testenv.Op) bool {
	return func(o testenv.Op) bool { return on.Load() && o.Name() == op && o.Params.Get("AccessKeyId") == keyID }
}

// keyWrites counts the IAM writes on access keys the proxy saw.
func keyWrites(p *testenv.Proxy) int {
	return p.Count("iam:UpdateAccessKey") + p.Count("iam:DeleteAccessKey")
}

// told checks that user's last outbox message says the key was done
// (disabled, deleted) on day by keywarden.
func told(t *testing.T, dir, user, key, done, day string) {
	t.Helper()
	mail := outboxMail(t, dir, user)
	if len(mail) == 0 {
		t.Errorf("%s was told nothing", user)
		return
	}
	if last := mail[len(mail)-1]; !strings.Contains(last.Text, "It was "+done+" on "+day+" by keywarden (action ") || !strings.Contains(last.Text, key) {
		t.Errorf("%s's last message:\n%s\nwant it to say %s was %s on %s by keywarden", user, last.Text, key, done, day)
	}
}

// toldOnce checks that the disabling of key was told once to its owner
// and listed once in the digests, and that another run tells it again to
// no one.
func toldOnce(t *testing.T, env []string, dir, key string) {
	t.Helper()
	if owners, digests := doneMentions(t, dir, key); owners != 1 || digests != 1 {
		t.Errorf("key %s: told %d times to its owner and listed %d times as disabled in digests; want once each", key, owners, digests)
	}
	r := keywarden(t, env, dir, "run", "--apply", "--format", "json")
	if owners, digests := doneMentions(t, dir, key); r.code != 0 || owners != 1 || digests != 1 {
		t.Errorf("another run (exit %d): key %s told %d times to its owner and %d times in digests; want once each, as before", r.code, key, owners, digests)
	}
}

// TestTruthDisableAnsweredAnError: the disable of alice's key reaches IAM
// and every attempt answers 503; the answer to dan's is lost (the
// connection dropped). A re-read shows both keys inactive: both actions
// are done, with a note, the owners are told, the run exits 0, and a
// clean rerun makes no write.
func TestTruthDisableAnsweredAnError(t *testing.T) {
	m := testenv.Moto(t)
	dir, ids := enforceSetup(t, m, withFresh(keyUser("alice", 85), keyUser("dan", 85)), truthConfig)
	p := m.NewProxy(t)
	env := p.Env(m)
	alice, dan := ids["alice"][0], ids["dan"][0]
	var on atomic.Bool
	on.Store(true)
	p.Inject(testenv.Fault{Match: onKey(&on, "iam:UpdateAccessKey", alice), AfterForward: true, Code: "ServiceUnavailable", Status: 503})
	p.Inject(testenv.Fault{Match: onKey(&on, "iam:UpdateAccessKey", dan), AfterForward: true, Drop: true})

	r := keywarden(t, env, dir, "run", "--apply", "--format", "json")
	res := decodeRun(t, r)
	if r.code != 0 || res.ActionsDone != 2 || res.ActionsFailed != 0 {
		t.Fatalf("run: exit %d, %d done, %d failed; want 0, 2, 0\n%s", r.code, res.ActionsDone, res.ActionsFailed, r.stderr)
	}
	if n := p.Count("iam:UpdateAccessKey"); n < 4 {
		t.Errorf("%d UpdateAccessKey attempts; want every attempt of both faulted (3 for alice, at least 1 for dan)", n)
	}
	for user, key := range map[string]string{"alice": alice, "dan": dan} {
		if st := keyStatus(t, m, user); st[key] != "Inactive" {
			t.Errorf("%s's key in moto: %v; want Inactive", user, st)
		}
	}
	recs := history(t, env, dir, "--status", "done")
	if len(recs) != 2 {
		t.Fatalf("done records: %+v; want alice's and dan's disables", recs)
	}
	for _, rec := range recs {
		if rec.Kind != state.KindDisable || rec.After != state.KeyInactive ||
			!strings.HasSuffix(rec.Reason, "(the call answered an error, but a re-read shows the key Inactive)") {
			t.Errorf("record %s: %s →%s: %q; want a disable to Inactive, with the re-read's note", rec.ID, rec.Kind, rec.After, rec.Reason)
		}
	}
	day := time.Now().UTC().Format("2006-01-02")
	told(t, dir, "alice", alice, "disabled", day)
	told(t, dir, "dan", dan, "disabled", day)

	on.Store(false)
	p.Reset()
	r = keywarden(t, env, dir, "run", "--apply", "--format", "json")
	if r.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", r.code, r.stderr)
	}
	if n := keyWrites(p); n != 0 {
		t.Errorf("the clean rerun made %d IAM writes on keys (%v); want none", n, iamWritesBy(p))
	}
}

// TestTruthDeleteAnsweredAnError: alice's and dan's keys, disabled by
// keywarden 15 days ago, are deleted. alice's delete takes effect and
// answers 503; the SDK retries and IAM answers NoSuchEntity. Every
// attempt of dan's answers 503 after it took effect. Both deletes are
// done ("already deleted"; the re-read's note), the owners are told, the
// run exits 0, and a clean rerun makes no write.
func TestTruthDeleteAnsweredAnError(t *testing.T) {
	m := testenv.Moto(t)
	dir, ids := enforceSetup(t, m, withFresh(keyUser("alice", 65), keyUser("dan", 65)), truthConfig)
	p := m.NewProxy(t)
	env := p.Env(m)
	now := clock(time.Now().UTC())
	alice, dan := ids["alice"][0], ids["dan"][0]
	runAt := func(offset int) (result, run.Result) {
		t.Helper()
		r := keywarden(t, env, dir, "run", "--apply", "--force-as-of", "--format", "json", "--as-of", now.at(offset))
		return r, decodeRun(t, r)
	}
	if r, res := runAt(15); r.code != 0 || res.ActionsDone != 2 {
		t.Fatalf("day 80: exit %d, %d done; want 0, 2 (both disabled)\n%s", r.code, res.ActionsDone, r.stderr)
	}

	var on atomic.Bool
	on.Store(true)
	p.Inject(testenv.Fault{Match: onKey(&on, "iam:DeleteAccessKey", alice), Times: 1, AfterForward: true, Code: "ServiceUnavailable", Status: 503})
	p.Inject(testenv.Fault{Match: onKey(&on, "iam:DeleteAccessKey", dan), AfterForward: true, Code: "ServiceUnavailable", Status: 503})
	p.Reset()
	r, res := runAt(30)
	if r.code != 0 || res.ActionsDone != 2 || res.ActionsFailed != 0 {
		t.Fatalf("day 95: exit %d, %d done, %d failed; want 0, 2, 0\n%s", r.code, res.ActionsDone, res.ActionsFailed, r.stderr)
	}
	if w := iamWritesBy(p); w["DeleteAccessKey "+alice] != 2 || w["DeleteAccessKey "+dan] != 3 {
		t.Errorf("IAM writes = %v; want alice's delete retried once, dan's attempted 3 times", w)
	}
	for _, user := range []string{"alice", "dan"} {
		if st := keyStatus(t, m, user); len(st) != 0 {
			t.Errorf("%s's keys in moto: %v; want none (deleted)", user, st)
		}
	}
	notes := map[string]string{
		alice: "(already deleted: IAM answered NoSuchEntity, as it does to a retry whose first attempt made the change)",
		dan:   "(the call answered an error, but a re-read shows the key deleted)",
	}
	for key, note := range notes {
		recs := history(t, env, dir, "--key-id", key)
		if len(recs) != 2 || recs[0].Kind != state.KindDelete || recs[0].Status != state.ActionDone || !strings.HasSuffix(recs[0].Reason, note) {
			t.Errorf("history of %s: %+v; want the delete on top, done, ending %q", key, recs, note)
		}
	}
	told(t, dir, "alice", alice, "deleted", now.day(30))
	told(t, dir, "dan", dan, "deleted", now.day(30))

	on.Store(false)
	p.Reset()
	if r, _ := runAt(30); r.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", r.code, r.stderr)
	}
	if n := keyWrites(p); n != 0 {
		t.Errorf("the clean rerun made %d IAM writes on keys (%v); want none", n, iamWritesBy(p))
	}
}

// TestTruthFailedIsRetried: every attempt of the disable of alice's key
// is refused before it reaches IAM: the action fails (exit 1), with what
// the re-read shows. The next run plans it again and makes it.
func TestTruthFailedIsRetried(t *testing.T) {
	m := testenv.Moto(t)
	dir, ids := enforceSetup(t, m, withFresh(keyUser("alice", 85)), truthConfig)
	p := m.NewProxy(t)
	env := p.Env(m)
	alice := ids["alice"][0]
	var on atomic.Bool
	on.Store(true)
	p.Inject(testenv.Fault{Match: onKey(&on, "iam:UpdateAccessKey", alice), Code: "ServiceUnavailable", Status: 503})

	r := keywarden(t, env, dir, "run", "--apply", "--format", "json")
	res := decodeRun(t, r)
	if r.code != 1 || res.ActionsFailed != 1 {
		t.Fatalf("run: exit %d, %d failed; want 1, 1\n%s", r.code, res.ActionsFailed, r.stderr)
	}
	failed := history(t, env, dir, "--status", "failed")
	if len(failed) != 1 || !strings.HasSuffix(failed[0].Reason, "(a re-read shows the key Active: not made)") {
		t.Fatalf("failed records: %+v; want alice's disable, not made", failed)
	}

	on.Store(false)
	p.Reset()
	r = keywarden(t, env, dir, "run", "--apply", "--format", "json")
	res = decodeRun(t, r)
	if r.code != 0 || res.ActionsDone != 1 {
		t.Fatalf("next run: exit %d, %d done; want 0, 1\n%s", r.code, res.ActionsDone, r.stderr)
	}
	if w := iamWritesBy(p); w["UpdateAccessKey "+alice] != 1 {
		t.Errorf("IAM writes of the next run = %v; want alice's disable", w)
	}
	if st := keyStatus(t, m, "alice"); st[alice] != "Inactive" {
		t.Errorf("alice's key: %v; want Inactive", st)
	}
	// The disable is told once, to alice and in the digest.
	toldOnce(t, env, dir, alice)
}

// TestTruthStaleRecordSuperseded: a killed run left a planned disable of
// alice's key two hours ago and never made it. This run closes that record
// as failed, superseded by its own disable, which is done: the run does
// not fail (exit 0, no failed action) and alice is told.
func TestTruthStaleRecordSuperseded(t *testing.T) {
	m := testenv.Moto(t)
	dir, ids := enforceSetup(t, m, withFresh(keyUser("alice", 85)), truthConfig)
	p := m.NewProxy(t)
	env := p.Env(m)
	alice := ids["alice"][0]
	// The stale record is of the same finding as this run's action.
	var finding string
	for _, f := range decodeReport(t, keywarden(t, env, dir, "scan", "--format", "json")).Findings {
		if f.KeyID == alice {
			finding = f.ID
		}
	}
	if finding == "" {
		t.Fatalf("no finding on alice's key %s", alice)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "state.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stale := state.Action{ID: "killed.1", Run: "killed", Account: testenv.AccountID, User: "alice", Credential: "access_key", KeyID: alice,
		Kind: state.KindDisable, Rule: "access_key_age", Stage: 80, FindingID: finding, Status: state.ActionPlanned, Before: state.KeyActive,
		At: time.Now().UTC().Add(-2 * time.Hour)}
	if err := st.RecordAction(ctx, stale); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	r := keywarden(t, env, dir, "run", "--apply", "--format", "json")
	res := decodeRun(t, r)
	if r.code != 0 || res.ActionsDone != 1 || res.ActionsFailed != 0 {
		t.Fatalf("run: exit %d, %d done, %d failed; want 0, 1, 0\n%s", r.code, res.ActionsDone, res.ActionsFailed, r.stderr)
	}
	var done plan.Action
	for _, a := range res.Plan.Actions {
		if a.Status == plan.ActionDone {
			done = a
		}
		if a.ID == stale.ID {
			t.Errorf("the run reports the superseded record: %+v", a)
		}
	}
	if done.KeyID != alice {
		t.Fatalf("actions %+v; want alice's disable done", res.Plan.Actions)
	}
	recs := history(t, env, dir, "--key-id", alice)
	var got state.Action
	for _, rec := range recs {
		if rec.ID == stale.ID {
			got = rec
		}
	}
	if want := "superseded by action " + done.ID + " of run " + res.RunID; got.Status != state.ActionFailed || !strings.Contains(got.Reason, want) {
		t.Errorf("the stale record: %s %q; want failed, %q", got.Status, got.Reason, want)
	}
	if st := keyStatus(t, m, "alice"); st[alice] != "Inactive" {
		t.Errorf("alice's key: %v; want Inactive", st)
	}
	// The disable is told once, to alice and in the digest.
	toldOnce(t, env, dir, alice)
}

// TestTruthUnconfirmedSettledByNextRun: the disable of alice's key takes
// effect and answers 503, and the re-read that follows fails too: the run
// reports it failed (exit 1), "may or may not have been made", and leaves
// the record planned. The next run, at once (the first recorded its end,
// so there is no lease to wait out), re-reads the key and records the
// disable done, reports it, and makes no write again.
func TestTruthUnconfirmedSettledByNextRun(t *testing.T) {
	m := testenv.Moto(t)
	dir, ids := enforceSetup(t, m, withFresh(keyUser("alice", 85)), truthConfig)
	p := m.NewProxy(t)
	env := p.Env(m)
	alice := ids["alice"][0]
	var on, reads atomic.Bool
	on.Store(true)
	p.Inject(testenv.Fault{Match: onKey(&on, "iam:UpdateAccessKey", alice), AfterForward: true, Code: "ServiceUnavailable", Status: 503,
		After: func(testenv.Op) { reads.Store(true) }})
	p.Inject(testenv.Fault{Match: func(o testenv.Op) bool { return reads.Load() && o.Name() == "iam:ListAccessKeys" },
		Code: "ServiceUnavailable", Status: 503})

	r := keywarden(t, env, dir, "run", "--apply", "--format", "json")
	res := decodeRun(t, r)
	if r.code != 1 || res.ActionsFailed != 1 {
		t.Fatalf("run: exit %d, %d failed; want 1, 1\n%s", r.code, res.ActionsFailed, r.stderr)
	}
	if !strings.Contains(r.stderr, "the change may or may not have been made; the next run re-reads it") {
		t.Errorf("stderr does not say the change may or may not have been made:\n%s", r.stderr)
	}
	planned := history(t, env, dir, "--status", "planned")
	if len(planned) != 1 || planned[0].KeyID != alice {
		t.Fatalf("planned records: %+v; want alice's disable, left for the next run", planned)
	}

	on.Store(false)
	reads.Store(false)
	p.Reset()
	r = keywarden(t, env, dir, "run", "--apply", "--format", "json")
	if r.code != 0 {
		t.Fatalf("next run: exit %d\n%s", r.code, r.stderr)
	}
	var reported bool
	for _, a := range decodeRun(t, r).Plan.Actions {
		reported = reported || a.ID == planned[0].ID && a.Status == plan.ActionDone
	}
	if !reported {
		t.Errorf("the next run does not report %s done", planned[0].ID)
	}
	recs := history(t, env, dir, "--key-id", alice, "--status", "done")
	if len(recs) != 1 || recs[0].ID != planned[0].ID || !strings.HasPrefix(recs[0].Reason, "made by run "+planned[0].Run+", which could not confirm it") {
		t.Errorf("done records of alice's key: %+v; want %s, made by run %s, which could not confirm it", recs, planned[0].ID, planned[0].Run)
	}
	if n := keyWrites(p); n != 0 {
		t.Errorf("the next run made %d IAM writes on keys (%v); want none", n, iamWritesBy(p))
	}
	if st := keyStatus(t, m, "alice"); st[alice] != "Inactive" {
		t.Errorf("alice's key: %v; want Inactive", st)
	}
	// The disable is told once it is settled, to alice and in the digest,
	// although the first run's digest listed the action as failed: the
	// outcome it reported was not final, so it claimed no notice of it.
	toldOnce(t, env, dir, alice)
}
