package remediate_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/remediate"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/memstore"
	"github.com/keywarden/keywarden/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// truthEnv is a moto account behind the fault-injecting proxy, with a
// client that retries as the SDK's standard mode does (three attempts),
// without the backoff's seconds.
type truthEnv struct {
	m      *testenv.MotoServer
	p      *testenv.Proxy
	client *iam.Client
	store  state.Store
	ids    map[string][]string
	now    time.Time
}

func newTruthEnv(t *testing.T, users ...testenv.SeedUser) *truthEnv {
	t.Helper()
	m := testenv.Moto(t)
	ids := m.Seed(t, users)
	p := m.NewProxy(t)
	cfg := p.Config(t, m)
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 10 * time.Millisecond, nil })
		})
	}
	return &truthEnv{m: m, p: p, client: iam.NewFromConfig(cfg), store: memstore.New(), ids: ids, now: time.Now().UTC()}
}

func (e *truthEnv) executor(run string) *remediate.Executor {
	return &remediate.Executor{
		Clients: func(context.Context, string) (remediate.IAM, error) { return e.client, nil },
		Audit:   e.store, RunID: run, AsOf: e.now, Grace: 10,
	}
}

// keyState is the key's status in moto, "deleted" when it is gone.
func (e *truthEnv) keyState(t *testing.T, user, id string) string {
	t.Helper()
	out, err := iam.NewFromConfig(e.m.Config(t)).ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range out.AccessKeyMetadata {
		if aws.ToString(k.AccessKeyId) == id {
			return string(k.Status)
		}
	}
	return state.KeyDeleted
}

func (e *truthEnv) hasPassword(t *testing.T, user string) bool {
	t.Helper()
	_, err := iam.NewFromConfig(e.m.Config(t)).GetLoginProfile(context.Background(), &iam.GetLoginProfileInput{UserName: aws.String(user)})
	var noSuch *types.NoSuchEntityException
	if err != nil && !errors.As(err, &noSuch) {
		t.Fatal(err)
	}
	return err == nil
}

func (e *truthEnv) record(t *testing.T, id string) state.Action {
	t.Helper()
	recs, err := e.store.Actions(context.Background(), state.ActionFilter{IDs: []string{id}})
	if err != nil || len(recs) != 1 {
		t.Fatalf("record %s: %+v, %v", id, recs, err)
	}
	return recs[0]
}

func (e *truthEnv) inactiveSince(t *testing.T, user, id string) string {
	t.Helper()
	since, err := e.store.InactiveSince(context.Background(), state.KeyRef{Account: acct, User: user, KeyID: id})
	if err != nil {
		t.Fatal(err)
	}
	return since
}

// switchable is a fault's matcher for op that applies while on is set.
func switchable(on *atomic.Bool, op string) func(testenv.Op) bool {
	return func(o testenv.Op) bool { return on.Load() && o.Name() == op }
}

func seedKeyUser(name string, age int, inactive bool) testenv.SeedUser {
	return testenv.SeedUser{Name: name, Keys: []testenv.SeedKey{{AgeDays: age, LastUsedDaysAgo: -1, Inactive: inactive}},
		PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1}
}

func passwordAction() plan.Action {
	return plan.Action{Kind: config.ActionRemovePassword, FindingID: "f-pw", Account: acct, User: "carol",
		Credential: policy.CredentialPassword, Rule: config.RulePasswordUnused, StageAt: 90, Status: plan.ActionPlanned}
}

// TestWriteErrorSettledByReRead: a write that reached IAM and answered
// an error (every attempt, or the first one and the SDK's retry then
// answered NoSuchEntity) is recorded done, with a note, when a re-read
// shows the change made; the inactive-since day is written for a disable
// and forgotten for a delete, as for a write that answered.
func TestWriteErrorSettledByReRead(t *testing.T) {
	unavailable := func(op string, times int) testenv.Fault {
		return testenv.Fault{Match: testenv.IsOp(op), Times: times, AfterForward: true, Code: "ServiceUnavailable", Status: 503}
	}
	dropped := func(op string) testenv.Fault {
		return testenv.Fault{Match: testenv.IsOp(op), AfterForward: true, Drop: true}
	}
	for _, tt := range []struct {
		name      string
		fault     testenv.Fault
		inactive  bool   // the seeded key is inactive (since 20 days, as keywarden knows)
		kind      string // the action
		password  bool
		wantNote  string
		wantState string // the key's (or "password"/"no password") in moto after
		wantDone  string
		wantSince bool // inactive-since recorded after
		wantCalls int  // the write's attempts seen by the proxy (0: not checked)
	}{
		{name: "disable, every attempt answers 503", fault: unavailable("iam:UpdateAccessKey", 0), kind: config.ActionDisable,
			wantNote: " (the call answered an error, but a re-read shows the key Inactive)", wantState: state.KeyInactive,
			wantDone: state.KindDisable, wantSince: true, wantCalls: 3},
		{name: "disable, the answer dropped", fault: dropped("iam:UpdateAccessKey"), kind: config.ActionDisable,
			wantNote: " (the call answered an error, but a re-read shows the key Inactive)", wantState: state.KeyInactive,
			wantDone: state.KindDisable, wantSince: true},
		{name: "delete stage of an active key: disabled first, 503", fault: unavailable("iam:UpdateAccessKey", 0), kind: config.ActionDelete,
			wantNote: " (the call answered an error, but a re-read shows the key Inactive)", wantState: state.KeyInactive,
			wantDone: state.KindDisable, wantSince: true},
		{name: "delete, every attempt answers 503", fault: unavailable("iam:DeleteAccessKey", 0), inactive: true, kind: config.ActionDelete,
			wantNote: " (the call answered an error, but a re-read shows the key deleted)", wantState: state.KeyDeleted,
			wantDone: state.KindDelete, wantCalls: 3},
		{name: "delete, the retry answers NoSuchEntity", fault: unavailable("iam:DeleteAccessKey", 1), inactive: true, kind: config.ActionDelete,
			wantNote:  " (already deleted: IAM answered NoSuchEntity, as it does to a retry whose first attempt made the change)",
			wantState: state.KeyDeleted, wantDone: state.KindDelete, wantCalls: 2},
		{name: "delete, the answer dropped", fault: dropped("iam:DeleteAccessKey"), inactive: true, kind: config.ActionDelete,
			wantState: state.KeyDeleted, wantDone: state.KindDelete},
		{name: "password, every attempt answers 503", fault: unavailable("iam:DeleteLoginProfile", 0), password: true,
			wantNote: " (the call answered an error, but a re-read shows no console password)", wantState: state.PasswordNone,
			wantDone: state.KindRemovePassword, wantCalls: 3},
		{name: "password, the retry answers NoSuchEntity", fault: unavailable("iam:DeleteLoginProfile", 1), password: true,
			wantNote:  " (already removed: IAM answered NoSuchEntity, as it does to a retry whose first attempt made the change)",
			wantState: state.PasswordNone, wantDone: state.KindRemovePassword, wantCalls: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			users := []testenv.SeedUser{seedKeyUser("alice", 95, tt.inactive)}
			if tt.password {
				users = []testenv.SeedUser{{Name: "carol", PasswordAgeDays: 120, PasswordLastUsedDaysAgo: -1}}
			}
			e := newTruthEnv(t, users...)
			var action plan.Action
			var key string
			if tt.password {
				action = passwordAction()
			} else {
				key = e.ids["alice"][0]
				action = keyAction(tt.kind, "alice", key, time.Time{}, !tt.inactive)
				if tt.inactive {
					if err := e.store.RecordInactive(context.Background(), state.KeyRef{Account: acct, User: "alice", KeyID: key},
						state.Day(e.now.AddDate(0, 0, -20)), true); err != nil {
						t.Fatal(err)
					}
				}
			}
			e.p.Inject(tt.fault)
			got := e.executor("run-1").Execute(context.Background(), []plan.Action{action})[0]
			if got.Status != plan.ActionDone || got.Done != tt.wantDone || !strings.HasSuffix(got.Reason, tt.wantNote) ||
				!strings.Contains(got.Reason, "answered") {
				t.Errorf("Execute() = %s done=%q: %s\nwant done %s, its reason ending %q", got.Status, got.Done, got.Reason, tt.wantDone, tt.wantNote)
			}
			if tt.password {
				if e.hasPassword(t, "carol") {
					t.Error("carol still has a console password in moto")
				}
			} else if st := e.keyState(t, "alice", key); st != tt.wantState {
				t.Errorf("key in moto: %s; want %s", st, tt.wantState)
			}
			r := e.record(t, "run-1.1")
			if r.Status != state.ActionDone || r.Kind != tt.wantDone || r.Reason != got.Reason || r.After != tt.wantState {
				t.Errorf("record = %s %s →%s: %s; want done %s →%s with the run's reason", r.Status, r.Kind, r.After, r.Reason, tt.wantDone, tt.wantState)
			}
			if !tt.password {
				since := e.inactiveSince(t, "alice", key)
				if tt.wantSince && since != state.Day(e.now) || !tt.wantSince && since != "" {
					t.Errorf("inactive since %q; want %v (recorded today for a disable, forgotten for a delete)", since, tt.wantSince)
				}
			}
			if tt.wantCalls > 0 {
				if n := e.p.Count(testenv.Op{Service: "iam", Operation: opOf(tt.fault)}.Name()); n != tt.wantCalls {
					t.Errorf("%d attempts of the write; want %d", n, tt.wantCalls)
				}
			}
		})
	}
}

// opOf is the IAM operation a fault of this test matches.
func opOf(f testenv.Fault) string {
	for _, op := range []string{"UpdateAccessKey", "DeleteAccessKey", "DeleteLoginProfile"} {
		if f.Match(testenv.Op{Service: "iam", Operation: op}) {
			return op
		}
	}
	return ""
}

// TestWriteNotMadeFailsAndIsRetried: a write that never reached IAM
// (every attempt refused) is failed, with what the re-read shows; nothing
// in state — no lock, no inactive-since day — keeps the next run from
// planning it again and making it.
func TestWriteNotMadeFailsAndIsRetried(t *testing.T) {
	for _, tt := range []struct {
		name, kind, op string
		inactive       bool
		wantState      string
	}{
		{"disable", config.ActionDisable, "iam:UpdateAccessKey", false, state.KeyInactive},
		{"delete", config.ActionDelete, "iam:DeleteAccessKey", true, state.KeyDeleted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newTruthEnv(t, seedKeyUser("alice", 95, tt.inactive))
			key := e.ids["alice"][0]
			ref := state.KeyRef{Account: acct, User: "alice", KeyID: key}
			before := state.KeyActive
			if tt.inactive {
				before = state.KeyInactive
				if err := e.store.RecordInactive(context.Background(), ref, state.Day(e.now.AddDate(0, 0, -20)), true); err != nil {
					t.Fatal(err)
				}
			}
			var on atomic.Bool
			on.Store(true)
			e.p.Inject(testenv.Fault{Match: switchable(&on, tt.op), Code: "ServiceUnavailable", Status: 503})
			action := keyAction(tt.kind, "alice", key, time.Time{}, !tt.inactive)
			got := e.executor("run-1").Execute(context.Background(), []plan.Action{action})[0]
			wantEnd := "(a re-read shows the key " + before + ": not made)"
			if got.Status != plan.ActionFailed || !strings.HasSuffix(got.Reason, wantEnd) || !strings.Contains(got.Reason, "ServiceUnavailable") {
				t.Errorf("Execute() = %s: %s\nwant failed with the error, ending %q", got.Status, got.Reason, wantEnd)
			}
			if r := e.record(t, "run-1.1"); r.Status != state.ActionFailed || r.Reason != got.Reason {
				t.Errorf("record = %s: %s; want failed with the run's reason", r.Status, r.Reason)
			}
			if st := e.keyState(t, "alice", key); st != before {
				t.Fatalf("key in moto after the refused write: %s; want %s", st, before)
			}

			// The next run: the same action, planned again from the same
			// finding, is made.
			on.Store(false)
			again := e.executor("run-2").Execute(context.Background(), []plan.Action{action})[0]
			if again.Status != plan.ActionDone || strings.Contains(again.Reason, "answered") {
				t.Errorf("next run: %s: %s; want done, with no note", again.Status, again.Reason)
			}
			if st := e.keyState(t, "alice", key); st != tt.wantState {
				t.Errorf("key in moto after the next run: %s; want %s", st, tt.wantState)
			}
			since := e.inactiveSince(t, "alice", key)
			if tt.inactive && since != "" || !tt.inactive && since != state.Day(e.now) {
				t.Errorf("inactive since %q after the next run; want it forgotten after a delete, today after a disable", since)
			}
		})
	}
}

// TestReReadFailsLeavesItToTheNextRun: the write answered an error and
// the re-read failed too: the run reports the action failed, saying
// whether it was made is not known, and leaves its record planned; the
// next run, once this one recorded its end, re-reads the key at once (no
// lease wait) and records what it finds: done, with the inactive-since
// day.
func TestReReadFailsLeavesItToTheNextRun(t *testing.T) {
	e := newTruthEnv(t, seedKeyUser("alice", 85, false))
	key := e.ids["alice"][0]
	var reads atomic.Bool
	e.p.Inject(testenv.Fault{Match: testenv.IsOp("iam:UpdateAccessKey"), AfterForward: true, Code: "ServiceUnavailable", Status: 503,
		After: func(testenv.Op) { reads.Store(true) }})
	e.p.Inject(testenv.Fault{Match: switchable(&reads, "iam:ListAccessKeys"), Code: "ServiceUnavailable", Status: 503})
	got := e.executor("run-1").Execute(context.Background(), []plan.Action{keyAction(config.ActionDisable, "alice", key, time.Time{}, true)})[0]
	if got.Status != plan.ActionFailed || !strings.HasPrefix(got.Reason, "the change may or may not have been made; the next run re-reads it (") ||
		!strings.Contains(got.Reason, "re-reading it failed too: ") {
		t.Errorf("Execute() = %s: %s\nwant failed: may or may not have been made", got.Status, got.Reason)
	}
	if r := e.record(t, "run-1.1"); r.Status != state.ActionPlanned {
		t.Errorf("record = %s; want still planned, for the next run to re-read", r.Status)
	}
	if err := e.store.RecordRun(context.Background(), state.Run{ID: "run-1", Mode: "apply", StartedAt: e.now, FinishedAt: e.now}); err != nil {
		t.Fatal(err)
	}

	reads.Store(false)
	next := e.executor("run-2")
	next.Now = func() time.Time { return e.now.Add(time.Minute) } // well inside the lease
	done, err := next.Reconcile(context.Background(), []string{acct}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 1 || done[0].ID != "run-1.1" || done[0].Status != plan.ActionDone ||
		!strings.HasPrefix(done[0].Reason, "made by run run-1, which could not confirm it") {
		t.Errorf("Reconcile() = %+v; want run-1.1 done, made by run-1, which could not confirm it", done)
	}
	if r := e.record(t, "run-1.1"); r.Status != state.ActionDone {
		t.Errorf("record = %s; want done", r.Status)
	}
	if since := e.inactiveSince(t, "alice", key); since != state.Day(e.now) {
		t.Errorf("inactive since %q; want %s", since, state.Day(e.now))
	}
}

// TestReReadOutlivesTheCancel: the run's context is cancelled while the
// write is in flight (it reached IAM); the re-read runs on a context of
// its own and the action is recorded done.
func TestReReadOutlivesTheCancel(t *testing.T) {
	e := newTruthEnv(t, seedKeyUser("alice", 85, false))
	key := e.ids["alice"][0]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.p.Inject(testenv.Fault{Match: testenv.IsOp("iam:UpdateAccessKey"), AfterForward: true, Drop: true, After: func(testenv.Op) { cancel() }})
	got := e.executor("run-1").Execute(ctx, []plan.Action{keyAction(config.ActionDisable, "alice", key, time.Time{}, true)})[0]
	if got.Status != plan.ActionDone || !strings.HasSuffix(got.Reason, "(the call answered an error, but a re-read shows the key Inactive)") {
		t.Errorf("Execute() = %s: %s; want done, confirmed by the re-read", got.Status, got.Reason)
	}
}

// TestStaleFailureSupersededByThisRun: a killed run's planned record on a
// key it never changed, past the lease, and this run plans the key again:
// the stale record is closed as failed, superseded by this run's action,
// and is not among Reconcile's outcomes (the new action carries the
// credential's); a stale record on a key this run does not act on is
// failed as before.
func TestStaleFailureSupersededByThisRun(t *testing.T) {
	e := newTruthEnv(t, seedKeyUser("alice", 85, false), seedKeyUser("bob", 85, false))
	alice, bob := e.ids["alice"][0], e.ids["bob"][0]
	for _, r := range []state.Action{
		{ID: "run-0.1", Run: "run-0", Account: acct, User: "alice", Credential: policy.CredentialAccessKey, KeyID: alice, Kind: "disable"},
		{ID: "run-0.2", Run: "run-0", Account: acct, User: "bob", Credential: policy.CredentialAccessKey, KeyID: bob, Kind: "disable"},
	} {
		r.Status, r.Before, r.At = state.ActionPlanned, state.KeyActive, e.now.Add(-2*time.Hour)
		if err := e.store.RecordAction(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	x := e.executor("run-1")
	actions := []plan.Action{keyAction(config.ActionDisable, "alice", alice, time.Time{}, true)}
	reconciled, err := x.Reconcile(context.Background(), []string{acct}, actions)
	if err != nil {
		t.Fatal(err)
	}
	if len(reconciled) != 1 || reconciled[0].ID != "run-0.2" || reconciled[0].Status != plan.ActionFailed ||
		!strings.HasSuffix(reconciled[0].Reason, "; it is planned again when due") {
		t.Errorf("Reconcile() = %+v; want only run-0.2, failed and planned again", reconciled)
	}
	got := x.Execute(context.Background(), actions)[0]
	if got.ID != "run-1.1" || got.Status != plan.ActionDone {
		t.Errorf("Execute() = %s %s: %s; want run-1.1 done", got.ID, got.Status, got.Reason)
	}
	r := e.record(t, "run-0.1")
	if want := "run run-0 stopped before making it (the credential is still Active); superseded by action run-1.1 of run run-1, which acts on it again"; r.Status != state.ActionFailed || r.Reason != want {
		t.Errorf("run-0.1 = %s: %s\nwant failed: %s", r.Status, r.Reason, want)
	}
	if st := e.keyState(t, "alice", alice); st != state.KeyInactive {
		t.Errorf("alice's key: %s; want Inactive", st)
	}
}

// TestUndoAnsweredAnError: every attempt of the re-enable takes effect
// and answers 503: the undo is done, with the re-read's note, and the
// inactive-since day is forgotten.
func TestUndoAnsweredAnError(t *testing.T) {
	e := newTruthEnv(t, seedKeyUser("alice", 85, true))
	key := e.ids["alice"][0]
	ctx := context.Background()
	ref := state.KeyRef{Account: acct, User: "alice", KeyID: key}
	if err := e.store.RecordAction(ctx, state.Action{ID: "r.1", Run: "r", Account: acct, User: "alice", Credential: policy.CredentialAccessKey,
		KeyID: key, Kind: state.KindDisable, Status: state.ActionDone, At: e.now}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.RecordInactive(ctx, ref, state.Day(e.now), true); err != nil {
		t.Fatal(err)
	}
	e.p.Inject(testenv.Fault{Match: testenv.IsOp("iam:UpdateAccessKey"), AfterForward: true, Code: "ServiceUnavailable", Status: 503})
	x := e.executor("undo-1")
	got, err := x.Undo(ctx, []string{"r.1"})
	want := "re-enabled: undo of r.1 (the call answered an error, but a re-read shows the key Active)"
	if err != nil || len(got) != 1 || got[0].Status != state.ActionDone || got[0].Reason != want {
		t.Fatalf("Undo() = %+v, %v; want done: %s", got, err, want)
	}
	if st := e.keyState(t, "alice", key); st != state.KeyActive {
		t.Errorf("key in moto: %s; want Active", st)
	}
	if since := e.inactiveSince(t, "alice", key); since != "" {
		t.Errorf("inactive since %q; want forgotten", since)
	}
}
