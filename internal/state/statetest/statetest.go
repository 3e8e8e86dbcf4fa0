// Package statetest is the conformance suite every state.Store passes:
// the cadence (state.Due) applied by Claim, claims and their leases,
// delivery and release, resolution, runs, the audit trail of actions and
// its in-flight lock, when keys became inactive, several stores on the
// same backing data racing for one notice or one key, and faults (faults.go,
// through the Faulty wrapper): calls that fail before or after their write,
// and other writers between a caller's read and its write.
//
// An implementation's test calls
//
//	statetest.Run(t, func(t *testing.T) statetest.Opener { … })
//
// where the function creates fresh, empty backing storage and returns an
// Opener that opens a new handle on it (a second process, as far as the
// store can tell).
package statetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keywarden/keywarden/internal/state"
)

// Opener opens a new handle on one backing store.
type Opener func(t *testing.T) state.Store

// Backend creates fresh, empty backing storage for one test.
type Backend func(t *testing.T) Opener

// t0 is the suite's wall clock.
var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

var keyA = state.NoticeKey{Finding: "f-alice-1", Audience: "alice@example.com"}

func claim(key state.NoticeKey, stage int, day, run string, now time.Time) state.Claim {
	return state.Claim{Key: key, Account: "123456789012", User: "alice", KeyID: "AKIAEXAMPLE", Rule: "access_key_age",
		Stage: stage, Day: day, RemindEvery: 3, Run: run, Now: now}
}

// Run runs the whole suite.
func Run(t *testing.T, backend Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"EmptyStoreHasNoNotices", testEmpty},
		{"ClaimSendRecord", testClaimSendRecord},
		{"Cadence", testCadence},
		{"ClaimHeldByAnotherRun", testClaimHeld},
		{"ExpiredClaimIsTakenOver", testLease},
		{"ReleaseLetsTheNextRunRetry", testRelease},
		{"SentWithoutClaimIsLost", testSentWithoutClaim},
		{"ResolveClosesEveryAudience", testResolve},
		{"NoticesFilterByAccount", testFilter},
		{"Runs", testRuns},
		{"DataOutlivesTheHandle", testReopen},
		{"ConcurrentClaimsOneWinner", testRace},
		{"InvalidClaimIsRejected", testInvalidClaim},
		{"ActionPlannedThenFinished", testActionLifecycle},
		{"ActionInFlightLock", testActionInFlight},
		{"ConcurrentActionsOneWinner", testActionRace},
		{"ActionsFilter", testActionsFilter},
		{"InactiveSince", testInactiveSince},
		{"InvalidActionIsRejected", testInvalidAction},
		{"OutcomeRecordsOwedNotices", testOwed},
		{"OwedNoticeIsToldOnce", testOwedToldOnce},
		{"OutcomeLeavesExistingNotices", testOwedLeavesExisting},
		{"ConcurrentClaimsOfAnOwedNoticeOneWinner", testOwedRace},
		{"RotationRecord", testRotationRecord},
		{"ProgressActionUnderFaults", testProgressFaults},
		{"TransientFaultsChangeNothing", testTransientFaults},
		{"ErrorsAfterTheWrite", testErrorsAfterWrite},
		{"RacesBetweenReadAndWrite", testRacesBetweenReadAndWrite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, backend(t)) })
	}
}

func mustClaim(t *testing.T, s state.Store, c state.Claim, want bool) {
	t.Helper()
	got, err := s.Claim(context.Background(), c)
	if err != nil {
		t.Fatalf("Claim(%v stage %d day %s run %s) error: %v", c.Key, c.Stage, c.Day, c.Run, err)
	}
	if got != want {
		t.Fatalf("Claim(%v stage %d day %s run %s) = %v; want %v", c.Key, c.Stage, c.Day, c.Run, got, want)
	}
}

func mustSent(t *testing.T, s state.Store, key state.NoticeKey, run, day string, now time.Time) {
	t.Helper()
	if err := s.Sent(context.Background(), key, run, day, now); err != nil {
		t.Fatalf("Sent(%v, %s, %s) error: %v", key, run, day, err)
	}
}

func notices(t *testing.T, s state.Store, accounts ...string) []state.Notice {
	t.Helper()
	ns, err := s.Notices(context.Background(), accounts)
	if err != nil {
		t.Fatalf("Notices(%v) error: %v", accounts, err)
	}
	return ns
}

func one(t *testing.T, s state.Store, key state.NoticeKey) state.Notice {
	t.Helper()
	for _, n := range notices(t, s) {
		if n.NoticeKey == key {
			return n
		}
	}
	t.Fatalf("Notices() has no open %v", key)
	return state.Notice{}
}

var ignoreTimes = cmpopts.IgnoreFields(state.Notice{}, "UpdatedAt", "ClaimedAt")

func testEmpty(t *testing.T, open Opener) {
	s := open(t)
	if ns := notices(t, s); len(ns) != 0 {
		t.Errorf("Notices() of an empty store = %v; want none", ns)
	}
	if rs, err := s.Runs(context.Background(), 0); err != nil || len(rs) != 0 {
		t.Errorf("Runs() of an empty store = %v, %v; want none", rs, err)
	}
}

func testClaimSendRecord(t *testing.T, open Opener) {
	s := open(t)
	mustClaim(t, s, claim(keyA, 70, "2026-11-23", "run-1", t0), true)
	got := one(t, s, keyA)
	want := state.Notice{NoticeKey: keyA, Account: "123456789012", User: "alice", KeyID: "AKIAEXAMPLE", Rule: "access_key_age",
		ClaimRun: "run-1", ClaimStage: 70}
	if diff := cmp.Diff(want, got, ignoreTimes); diff != "" {
		t.Errorf("notice after Claim (-want +got):\n%s", diff)
	}
	if !got.ClaimedAt.Equal(t0) {
		t.Errorf("ClaimedAt = %v; want %v", got.ClaimedAt, t0)
	}
	if st := state.Due(&got, 70, "2026-11-23", 3); st != state.StatusNew {
		t.Errorf("Due(claimed, never sent) = %s; want new", st)
	}
	mustSent(t, s, keyA, "run-1", "2026-11-23", t0.Add(time.Minute))
	got = one(t, s, keyA)
	want = state.Notice{NoticeKey: keyA, Account: "123456789012", User: "alice", KeyID: "AKIAEXAMPLE", Rule: "access_key_age",
		Stage: 70, FirstDay: "2026-11-23", LastDay: "2026-11-23", Count: 1}
	if diff := cmp.Diff(want, got, ignoreTimes); diff != "" {
		t.Errorf("notice after Sent (-want +got):\n%s", diff)
	}
	if !got.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("UpdatedAt = %v; want %v", got.UpdatedAt, t0.Add(time.Minute))
	}
}

// testCadence walks one notice through stage entry, same-day repeats,
// reminders, a stage change and a missed day.
func testCadence(t *testing.T, open Opener) {
	s := open(t)
	steps := []struct {
		day   string
		stage int
		want  bool
		first string
		count int
	}{
		{"2026-11-01", 70, true, "2026-11-01", 1},  // stage entry: told now
		{"2026-11-01", 70, false, "2026-11-01", 1}, // same day: nothing new
		{"2026-11-02", 70, false, "2026-11-01", 1},
		{"2026-11-03", 70, false, "2026-11-01", 1},
		{"2026-11-04", 70, true, "2026-11-01", 2},  // remind_every 3 days later
		{"2026-11-05", 80, true, "2026-11-05", 1},  // a later stage: at once
		{"2026-11-07", 80, false, "2026-11-05", 1}, // (11-06 missed)
		{"2026-11-09", 80, true, "2026-11-05", 2},  // 11-08 missed: caught up on 11-09
		{"2026-11-09", 80, false, "2026-11-05", 2},
	}
	for i, st := range steps {
		run := fmt.Sprintf("run-%d", i)
		mustClaim(t, s, claim(keyA, st.stage, st.day, run, t0.AddDate(0, 0, i)), st.want)
		if st.want {
			mustSent(t, s, keyA, run, st.day, t0.AddDate(0, 0, i))
		}
		n := one(t, s, keyA)
		if n.Stage != st.stage || n.FirstDay != st.first || n.Count != st.count || n.ClaimRun != "" {
			t.Errorf("step %d (%s, stage %d): notice stage %d first %s count %d claim %q; want stage %d first %s count %d, no claim",
				i, st.day, st.stage, n.Stage, n.FirstDay, n.Count, n.ClaimRun, st.stage, st.first, st.count)
		}
	}
}

func testClaimHeld(t *testing.T, open Opener) {
	s := open(t)
	mustClaim(t, s, claim(keyA, 70, "2026-11-23", "run-1", t0), true)
	mustClaim(t, s, claim(keyA, 70, "2026-11-23", "run-1", t0.Add(time.Second)), true) // the holder may claim again
	mustClaim(t, s, claim(keyA, 70, "2026-11-23", "run-2", t0.Add(59*time.Minute)), false)
	mustClaim(t, s, claim(keyA, 80, "2026-11-24", "run-2", t0.Add(59*time.Minute)), false) // even for a later stage
	if n := one(t, s, keyA); n.ClaimRun != "run-1" {
		t.Errorf("ClaimRun = %q after run-2's failed claims; want run-1", n.ClaimRun)
	}
}

func testLease(t *testing.T, open Opener) {
	s := open(t)
	mustClaim(t, s, claim(keyA, 70, "2026-11-23", "run-1", t0), true)
	c := claim(keyA, 70, "2026-11-23", "run-2", t0.Add(10*time.Minute))
	c.Lease = 5 * time.Minute
	mustClaim(t, s, c, true)
	if n := one(t, s, keyA); n.ClaimRun != "run-2" {
		t.Errorf("ClaimRun = %q; want run-2 (run-1's claim expired)", n.ClaimRun)
	}
	err := s.Sent(context.Background(), keyA, "run-1", "2026-11-23", t0.Add(11*time.Minute))
	if !errors.Is(err, state.ErrClaimLost) {
		t.Errorf("Sent by run-1 after the takeover = %v; want ErrClaimLost", err)
	}
	mustSent(t, s, keyA, "run-2", "2026-11-23", t0.Add(11*time.Minute))
}

func testRelease(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	// A delivered notice, then a failed reminder: the record keeps the
	// earlier delivery and the next run may try again.
	mustClaim(t, s, claim(keyA, 70, "2026-11-01", "run-1", t0), true)
	mustSent(t, s, keyA, "run-1", "2026-11-01", t0)
	mustClaim(t, s, claim(keyA, 80, "2026-11-05", "run-2", t0), true)
	if err := s.Release(ctx, keyA, "run-3"); err != nil { // not the holder: no effect
		t.Fatal(err)
	}
	if n := one(t, s, keyA); n.ClaimRun != "run-2" {
		t.Fatalf("Release by another run dropped the claim: %+v", n)
	}
	if err := s.Release(ctx, keyA, "run-2"); err != nil {
		t.Fatal(err)
	}
	n := one(t, s, keyA)
	if n.ClaimRun != "" || n.Stage != 70 || n.LastDay != "2026-11-01" || n.Count != 1 {
		t.Errorf("after Release: %+v; want no claim, stage 70 last told 2026-11-01 once", n)
	}
	mustClaim(t, s, claim(keyA, 80, "2026-11-05", "run-4", t0.Add(time.Minute)), true)

	// A first notice that failed: released, it stays new.
	keyB := state.NoticeKey{Finding: "f-bob-1", Audience: "bob@example.com"}
	mustClaim(t, s, claim(keyB, 70, "2026-11-05", "run-4", t0), true)
	if err := s.Release(ctx, keyB, "run-4"); err != nil {
		t.Fatal(err)
	}
	nb := one(t, s, keyB)
	if st := state.Due(&nb, 70, "2026-11-05", 3); st != state.StatusNew {
		t.Errorf("Due(released first notice) = %s; want new", st)
	}
	mustClaim(t, s, claim(keyB, 70, "2026-11-05", "run-5", t0.Add(time.Minute)), true)
}

func testSentWithoutClaim(t *testing.T, open Opener) {
	s := open(t)
	if err := s.Sent(context.Background(), keyA, "run-1", "2026-11-23", t0); !errors.Is(err, state.ErrClaimLost) {
		t.Errorf("Sent without a claim = %v; want ErrClaimLost", err)
	}
	if err := s.Sent(context.Background(), keyA, "", "2026-11-23", t0); !errors.Is(err, state.ErrClaimLost) {
		t.Errorf("Sent with an empty run = %v; want ErrClaimLost", err)
	}
}

func testResolve(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	digest := state.NoticeKey{Finding: keyA.Finding, Audience: "digest:sns"}
	other := state.NoticeKey{Finding: "f-other", Audience: "carol@example.com"}
	for _, k := range []state.NoticeKey{keyA, digest, other} {
		mustClaim(t, s, claim(k, 70, "2026-11-01", "run-1", t0), true)
		mustSent(t, s, k, "run-1", "2026-11-01", t0)
	}
	n, err := s.Resolve(ctx, []string{keyA.Finding, "f-unknown"}, "2026-11-02", t0)
	if err != nil || n != 2 {
		t.Fatalf("Resolve() = %d, %v; want 2 (both audiences of %s)", n, err, keyA.Finding)
	}
	if got := notices(t, s); len(got) != 1 || got[0].NoticeKey != other {
		t.Errorf("open notices after Resolve = %v; want only %v", got, other)
	}
	if n, err := s.Resolve(ctx, []string{keyA.Finding}, "2026-11-03", t0); err != nil || n != 0 {
		t.Errorf("Resolve() again = %d, %v; want 0", n, err)
	}
	// The finding comes back: told as new the same day, whatever the cadence.
	mustClaim(t, s, claim(keyA, 70, "2026-11-02", "run-2", t0), true)
	mustSent(t, s, keyA, "run-2", "2026-11-02", t0)
	if got := one(t, s, keyA); got.FirstDay != "2026-11-02" || got.Count != 1 || got.ClosedDay != "" {
		t.Errorf("reopened notice = %+v; want first told 2026-11-02, count 1, open", got)
	}
}

func testFilter(t *testing.T, open Opener) {
	s := open(t)
	for _, c := range []state.Claim{
		{Key: state.NoticeKey{Finding: "f1", Audience: "a@example.com"}, Account: "111111111111", Stage: 1, Day: "2026-11-01", RemindEvery: 1, Run: "r", Now: t0},
		{Key: state.NoticeKey{Finding: "f2", Audience: "b@example.com"}, Account: "222222222222", Stage: 1, Day: "2026-11-01", RemindEvery: 1, Run: "r", Now: t0},
		{Key: state.NoticeKey{Finding: "f3", Audience: "c@example.com"}, Account: "333333333333", Stage: 1, Day: "2026-11-01", RemindEvery: 1, Run: "r", Now: t0},
	} {
		mustClaim(t, s, c, true)
	}
	var got []string
	for _, n := range notices(t, s, "111111111111", "333333333333") {
		got = append(got, n.Finding)
	}
	if diff := cmp.Diff([]string{"f1", "f3"}, got); diff != "" {
		t.Errorf("Notices(111…, 333…) findings (-want +got):\n%s", diff)
	}
	if n := len(notices(t, s)); n != 3 {
		t.Errorf("Notices() = %d notices; want 3", n)
	}
}

func testRuns(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	r1 := state.Run{ID: "run-1", Mode: "notify", AsOf: t0, StartedAt: t0, FinishedAt: t0.Add(time.Minute), Accounts: 1, Findings: 4, Sent: 3, Failed: 1, Error: "ses: rejected"}
	// run-2 acted at a forced --as-of, 55 days from its wall clock.
	r2 := state.Run{ID: "run-2", Mode: "apply", AsOf: t0.AddDate(0, 0, 56), StartedAt: t0.Add(24 * time.Hour), FinishedAt: t0.Add(25 * time.Hour),
		ForcedAsOf: t0.AddDate(0, 0, 56)}
	for _, r := range []state.Run{r1, r2} {
		if err := s.RecordRun(ctx, r); err != nil {
			t.Fatalf("RecordRun(%s) error: %v", r.ID, err)
		}
	}
	r1.Sent = 4 // replaced
	if err := s.RecordRun(ctx, r1); err != nil {
		t.Fatal(err)
	}
	got, err := s.Runs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]state.Run{r2, r1}, got, cmpopts.EquateApproxTime(0)); diff != "" {
		t.Errorf("Runs(0) (-want +got):\n%s", diff)
	}
	if got, _ := s.Runs(ctx, 1); len(got) != 1 || got[0].ID != "run-2" {
		t.Errorf("Runs(1) = %v; want run-2 only", got)
	}
}

func testReopen(t *testing.T, open Opener) {
	s := open(t)
	mustClaim(t, s, claim(keyA, 70, "2026-11-01", "run-1", t0), true)
	mustSent(t, s, keyA, "run-1", "2026-11-01", t0)
	if err := s.Close(); err != nil {
		t.Fatalf("Close() error: %v", err)
	}
	s2 := open(t)
	if n := one(t, s2, keyA); n.LastDay != "2026-11-01" || n.Stage != 70 {
		t.Errorf("after reopening: %+v; want last told 2026-11-01 at stage 70", n)
	}
	mustClaim(t, s2, claim(keyA, 70, "2026-11-01", "run-2", t0), false)
}

// testRace: several handles (as several processes would) claim the same
// notice at once; exactly one wins.
func testRace(t *testing.T, open Opener) {
	const runs = 8
	stores := make([]state.Store, runs)
	for i := range stores {
		stores[i] = open(t)
	}
	for round, day := range []string{"2026-11-01", "2026-11-04"} {
		var wg sync.WaitGroup
		won := make([]bool, runs)
		errs := make([]error, runs)
		for i := range runs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				won[i], errs[i] = stores[i].Claim(context.Background(), claim(keyA, 70, day, fmt.Sprintf("run-%d-%d", round, i), t0))
			}()
		}
		wg.Wait()
		winners := 0
		for i := range runs {
			if errs[i] != nil {
				t.Fatalf("round %d: Claim by run %d error: %v", round, i, errs[i])
			}
			if won[i] {
				winners++
				mustSent(t, stores[i], keyA, fmt.Sprintf("run-%d-%d", round, i), day, t0)
			}
		}
		if winners != 1 {
			t.Fatalf("round %d (%s): %d runs won the claim; want exactly 1", round, day, winners)
		}
	}
	if n := one(t, stores[0], keyA); n.Count != 2 {
		t.Errorf("Count = %d after two rounds; want 2 deliveries", n.Count)
	}
}

func testInvalidClaim(t *testing.T, open Opener) {
	s := open(t)
	for name, c := range map[string]state.Claim{
		"no run":          {Key: keyA, Stage: 1, Day: "2026-11-01", RemindEvery: 1, Now: t0},
		"no audience":     {Key: state.NoticeKey{Finding: "f"}, Stage: 1, Day: "2026-11-01", RemindEvery: 1, Run: "r", Now: t0},
		"bad day":         {Key: keyA, Stage: 1, Day: "01/11/2026", RemindEvery: 1, Run: "r", Now: t0},
		"no remind_every": {Key: keyA, Stage: 1, Day: "2026-11-01", Run: "r", Now: t0},
	} {
		if ok, err := s.Claim(context.Background(), c); err == nil || ok {
			t.Errorf("Claim(%s) = %v, %v; want an error", name, ok, err)
		}
	}
}

func action(id, run, keyID string, status state.ActionStatus, at time.Time) state.Action {
	return state.Action{ID: id, Run: run, Account: "123456789012", User: "alice", Credential: "access_key", KeyID: keyID,
		Kind: state.KindDisable, Rule: "access_key_age", Stage: 80, FindingID: "f-" + keyID, Status: status,
		Reason: "", Before: state.KeyActive, At: at}
}

func actions(t *testing.T, s state.Store, f state.ActionFilter) []state.Action {
	t.Helper()
	got, err := s.Actions(context.Background(), f)
	if err != nil {
		t.Fatalf("Actions(%+v) error: %v", f, err)
	}
	return got
}

// testActionLifecycle: planned → done keeps every field (the forced
// --as-of among them), is read back by another handle, and cannot be
// finished twice.
func testActionLifecycle(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	a := action("run-1.1", "run-1", "AKIA1", state.ActionPlanned, t0)
	a.ForcedAsOf = t0.AddDate(0, 0, 55)
	if err := s.RecordAction(ctx, a); err != nil {
		t.Fatalf("RecordAction(planned) error: %v", err)
	}
	if err := s.RecordAction(ctx, a); err != nil {
		t.Errorf("RecordAction(the same action again) = %v; want nil (a repeat records nothing)", err)
	}
	other := a
	other.At = a.At.Add(time.Second)
	if err := s.RecordAction(ctx, other); err == nil {
		t.Error("RecordAction(another action with the same ID) = nil; want an error")
	}
	a.Kind = state.KindDelete
	out := state.Outcome{Status: state.ActionDone, Reason: "disabled first: 91 days old", Kind: state.KindDisable,
		Before: state.KeyActive, After: state.KeyInactive, At: t0.Add(time.Second)}
	if err := s.FinishAction(ctx, a.ID, out); err != nil {
		t.Fatalf("FinishAction error: %v", err)
	}
	if err := s.FinishAction(ctx, a.ID, out); err != nil {
		t.Errorf("FinishAction(finished, the same outcome again) error = %v; want nil (a repeat)", err)
	}
	if err := s.FinishAction(ctx, a.ID, state.Outcome{Status: state.ActionFailed, Reason: "boom", At: out.At}); !errors.Is(err, state.ErrActionNotPlanned) {
		t.Errorf("FinishAction(finished, another outcome) error = %v; want ErrActionNotPlanned", err)
	}
	if err := s.FinishAction(ctx, "nope", out); !errors.Is(err, state.ErrActionNotPlanned) {
		t.Errorf("FinishAction(unknown) error = %v; want ErrActionNotPlanned", err)
	}
	want := a
	want.Status, want.Reason, want.Kind, want.Before, want.After, want.FinishedAt = out.Status, out.Reason, out.Kind, out.Before, out.After, out.At
	if diff := cmp.Diff([]state.Action{want}, actions(t, open(t), state.ActionFilter{}), cmpopts.EquateApproxTime(0)); diff != "" {
		t.Errorf("Actions() from another handle (-want +got):\n%s", diff)
	}
}

// testActionInFlight: while one planned action on a key is open, a second
// planned action on that key is refused, whichever its kind; other keys and
// finished records are not held up.
func testActionInFlight(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	if err := s.RecordAction(ctx, action("run-1.1", "run-1", "AKIA1", state.ActionPlanned, t0)); err != nil {
		t.Fatal(err)
	}
	second := action("run-2.1", "run-2", "AKIA1", state.ActionPlanned, t0)
	second.Kind = state.KindDelete
	if err := open(t).RecordAction(ctx, second); !errors.Is(err, state.ErrActionInFlight) {
		t.Fatalf("RecordAction(planned, same key, other run) error = %v; want ErrActionInFlight", err)
	}
	if err := s.RecordAction(ctx, action("run-2.2", "run-2", "AKIA2", state.ActionPlanned, t0)); err != nil {
		t.Errorf("RecordAction(planned, another key) error: %v", err)
	}
	if err := s.RecordAction(ctx, action("run-2.3", "run-2", "AKIA1", state.ActionSkipped, t0)); err != nil {
		t.Errorf("RecordAction(skipped, the held key) error: %v", err)
	}
	if err := s.FinishAction(ctx, "run-1.1", state.Outcome{Status: state.ActionFailed, Reason: "boom", At: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAction(ctx, second); err != nil {
		t.Errorf("RecordAction(planned, key released) error: %v", err)
	}
}

// testActionRace: several handles plan an action on the same key at once;
// exactly one is recorded as planned.
func testActionRace(t *testing.T, open Opener) {
	const runs = 8
	stores := make([]state.Store, runs)
	for i := range stores {
		stores[i] = open(t)
	}
	errs := make([]error, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = stores[i].RecordAction(context.Background(), action(fmt.Sprintf("run-%d.1", i), fmt.Sprintf("run-%d", i), "AKIA1", state.ActionPlanned, t0))
		}()
	}
	wg.Wait()
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
		case !errors.Is(err, state.ErrActionInFlight):
			t.Errorf("run %d: RecordAction error = %v; want nil or ErrActionInFlight", i, err)
		}
	}
	if winners != 1 {
		t.Errorf("%d runs recorded a planned action on one key; want exactly 1", winners)
	}
	if got := actions(t, stores[0], state.ActionFilter{}); len(got) != 1 {
		t.Errorf("Actions() = %d records; want 1", len(got))
	}
}

func testActionsFilter(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	recs := []state.Action{
		action("r1.1", "r1", "AKIA1", state.ActionDone, t0),
		action("r1.2", "r1", "AKIA2", state.ActionSkipped, t0.Add(time.Minute)),
		action("r2.1", "r2", "AKIA3", state.ActionFailed, t0.Add(48*time.Hour)),
	}
	recs[2].Account, recs[2].User = "210987654321", "bob"
	for _, a := range recs {
		if err := s.RecordAction(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(as []state.Action) []string {
		out := []string{}
		for _, a := range as {
			out = append(out, a.ID)
		}
		return out
	}
	for _, tt := range []struct {
		name string
		f    state.ActionFilter
		want []string
	}{
		{"all, most recent first", state.ActionFilter{}, []string{"r2.1", "r1.2", "r1.1"}},
		{"by ID", state.ActionFilter{IDs: []string{"r1.1", "r2.1"}}, []string{"r2.1", "r1.1"}},
		{"by account", state.ActionFilter{Accounts: []string{"123456789012"}}, []string{"r1.2", "r1.1"}},
		{"by user", state.ActionFilter{User: "bob"}, []string{"r2.1"}},
		{"by key", state.ActionFilter{KeyID: "AKIA2"}, []string{"r1.2"}},
		{"by status", state.ActionFilter{Status: state.ActionDone}, []string{"r1.1"}},
		{"by run", state.ActionFilter{Run: "r1"}, []string{"r1.2", "r1.1"}},
		{"since", state.ActionFilter{Since: t0.Add(time.Minute)}, []string{"r2.1", "r1.2"}},
		{"limit", state.ActionFilter{Limit: 2}, []string{"r2.1", "r1.2"}},
	} {
		if got := ids(actions(t, s, tt.f)); !cmp.Equal(got, tt.want) {
			t.Errorf("Actions(%s) = %v; want %v", tt.name, got, tt.want)
		}
	}
}

// testInactiveSince: the first day recorded sticks unless replaced
// (keywarden disabled the key); forgetting it (active again) starts over.
// Keys are per account.
func testInactiveSince(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	k := state.KeyRef{Account: "123456789012", User: "alice", KeyID: "AKIA1"}
	since := func(s state.Store) string {
		t.Helper()
		got, err := s.InactiveSince(ctx, k)
		if err != nil {
			t.Fatalf("InactiveSince error: %v", err)
		}
		return got
	}
	record := func(day string, replace bool) {
		t.Helper()
		if err := s.RecordInactive(ctx, k, day, replace); err != nil {
			t.Fatalf("RecordInactive(%s, %v) error: %v", day, replace, err)
		}
	}
	if got := since(s); got != "" {
		t.Errorf("InactiveSince(unknown key) = %q; want \"\"", got)
	}
	record("2026-11-01", false)
	record("2026-11-05", false)
	if got := since(open(t)); got != "2026-11-01" {
		t.Errorf("first seen 2026-11-01, seen again 2026-11-05: %q; want the first day, 2026-11-01", got)
	}
	other := state.KeyRef{Account: "210987654321", User: "alice", KeyID: "AKIA1"}
	if got, _ := s.InactiveSince(ctx, other); got != "" {
		t.Errorf("InactiveSince(same key ID, other account) = %q; want \"\"", got)
	}
	record("2026-11-10", true)
	if got := since(s); got != "2026-11-10" {
		t.Errorf("after a replacing record of 2026-11-10: %q; want 2026-11-10", got)
	}
	if err := s.ForgetInactive(ctx, k); err != nil {
		t.Fatal(err)
	}
	if got := since(s); got != "" {
		t.Errorf("after ForgetInactive: %q; want \"\"", got)
	}
	record("2026-11-20", false)
	if got := since(s); got != "2026-11-20" {
		t.Errorf("seen inactive again after being forgotten: %q; want 2026-11-20", got)
	}
}

func testInvalidAction(t *testing.T, open Opener) {
	s := open(t)
	for name, a := range map[string]state.Action{
		"no ID":      {Account: "1", User: "u", Kind: "disable", Status: state.ActionDone, At: t0},
		"no account": {ID: "x", User: "u", Kind: "disable", Status: state.ActionDone, At: t0},
		"no kind":    {ID: "x", Account: "1", User: "u", Status: state.ActionDone, At: t0},
		"bad status": {ID: "x", Account: "1", User: "u", Kind: "disable", Status: "maybe", At: t0},
		"no time":    {ID: "x", Account: "1", User: "u", Kind: "disable", Status: state.ActionDone},
	} {
		if err := s.RecordAction(context.Background(), a); err == nil {
			t.Errorf("RecordAction(%s) = nil; want an error", name)
		}
	}
}

var (
	owner  = "alice@example.com"
	digest = "digest:outbox"
)

// owed lists the owed notices of the store, by key.
func owed(t *testing.T, s state.Store) []state.NoticeKey {
	t.Helper()
	var out []state.NoticeKey
	for _, n := range notices(t, s) {
		if n.Owed() {
			out = append(out, n.NoticeKey)
		}
	}
	return out
}

// testOwed: finishing an action records, with its outcome, an owed notice
// per audience — the owner and the digest for done, the digest alone for
// failed — read back by another handle with the action's credential; a
// planned or skipped action owes nothing; an action recorded finished owes
// at once; the audiences are kept on the record.
func testOwed(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	auds := []string{owner, digest}
	done := action("run-1.1", "run-1", "AKIA1", state.ActionPlanned, t0)
	done.Audiences = auds
	failed := action("run-1.2", "run-1", "AKIA2", state.ActionPlanned, t0)
	failed.Audiences = auds
	skipped := action("run-1.3", "run-1", "AKIA3", state.ActionSkipped, t0)
	skipped.Audiences = auds
	for _, a := range []state.Action{done, failed, skipped} {
		if err := s.RecordAction(ctx, a); err != nil {
			t.Fatalf("RecordAction(%s) error: %v", a.ID, err)
		}
	}
	if got := owed(t, s); len(got) != 0 {
		t.Fatalf("owed notices of planned and skipped actions = %v; want none", got)
	}
	if err := s.FinishAction(ctx, done.ID, state.Outcome{Status: state.ActionDone, Before: state.KeyActive, After: state.KeyInactive, At: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishAction(ctx, failed.ID, state.Outcome{Status: state.ActionFailed, Reason: "throttled", At: t0}); err != nil {
		t.Fatal(err)
	}
	direct := action("run-2.1", "run-2", "AKIA4", state.ActionDone, t0.Add(time.Minute))
	direct.Audiences = []string{"bob@example.com"}
	if err := s.RecordAction(ctx, direct); err != nil {
		t.Fatal(err)
	}
	other := open(t)
	want := []state.NoticeKey{
		{Finding: "action:run-1.1", Audience: owner}, {Finding: "action:run-1.1", Audience: digest},
		{Finding: "action:run-1.2", Audience: digest},
		{Finding: "action:run-2.1", Audience: "bob@example.com"},
	}
	if diff := cmp.Diff(want, owed(t, other), cmpopts.SortSlices(func(a, b state.NoticeKey) bool { return a.String() < b.String() })); diff != "" {
		t.Errorf("owed notices (-want +got):\n%s", diff)
	}
	n := one(t, other, state.NoticeKey{Finding: "action:run-1.1", Audience: owner})
	if n.Account != "123456789012" || n.User != "alice" || n.KeyID != "AKIA1" || n.Rule != "access_key_age" || n.LastDay != "" || n.ClaimRun != "" {
		t.Errorf("owed notice = %+v; want alice's AKIA1, access_key_age, never delivered, unclaimed", n)
	}
	if got := notices(t, other, "210987654321"); len(got) != 0 {
		t.Errorf("Notices(another account) = %v; want none", got)
	}
	got := actions(t, other, state.ActionFilter{IDs: []string{done.ID}})
	if len(got) != 1 || !slices.Equal(got[0].Audiences, auds) {
		t.Errorf("Actions(%s) = %+v; want its audiences %v", done.ID, got, auds)
	}
}

// testOwedLeavesExisting: an outcome's owed notices are written only
// where no notice exists: one already told (its LastDay) or held by
// another run's claim is left as it is, and the outcome is recorded.
func testOwedLeavesExisting(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	a := action("run-1.1", "run-1", "AKIA1", state.ActionPlanned, t0)
	a.Audiences = []string{owner, digest}
	if err := s.RecordAction(ctx, a); err != nil {
		t.Fatal(err)
	}
	told := state.NoticeKey{Finding: "action:run-1.1", Audience: digest}
	mustClaim(t, s, claim(told, 80, "2026-11-23", "run-0", t0), true)
	mustSent(t, s, told, "run-0", "2026-11-23", t0)
	held := state.NoticeKey{Finding: "action:run-1.1", Audience: owner}
	mustClaim(t, s, claim(held, 80, "2026-11-23", "run-9", t0), true)
	if err := s.FinishAction(ctx, a.ID, state.Outcome{Status: state.ActionDone, Before: state.KeyActive, After: state.KeyInactive, At: t0}); err != nil {
		t.Fatalf("FinishAction with existing notices: %v", err)
	}
	if got := actions(t, s, state.ActionFilter{IDs: []string{a.ID}}); len(got) != 1 || got[0].Status != state.ActionDone {
		t.Fatalf("Actions(%s) = %+v; want it done", a.ID, got)
	}
	if n := one(t, s, told); n.LastDay != "2026-11-23" || n.Owed() {
		t.Errorf("the notice told before the outcome = %+v; want it left told", n)
	}
	if n := one(t, s, held); n.ClaimRun != "run-9" {
		t.Errorf("the notice another run holds = %+v; want its claim kept", n)
	}
}

// testOwedToldOnce: an owed notice is claimed and sent like any notice;
// once sent it is owed no more, and no claim takes it again — the same
// day, a later day, or after the next run closed it; a released claim
// leaves it owed.
func testOwedToldOnce(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	a := action("run-1.1", "run-1", "AKIA1", state.ActionPlanned, t0)
	a.Audiences = []string{owner, digest}
	if err := s.RecordAction(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishAction(ctx, a.ID, state.Outcome{Status: state.ActionDone, At: t0}); err != nil {
		t.Fatal(err)
	}
	ko := state.NoticeKey{Finding: "action:run-1.1", Audience: owner}
	kd := state.NoticeKey{Finding: "action:run-1.1", Audience: digest}
	mustClaim(t, s, claim(kd, 80, "2026-11-23", "run-2", t0), true)
	if err := s.Release(ctx, kd, "run-2"); err != nil {
		t.Fatal(err)
	}
	mustClaim(t, s, claim(ko, 80, "2026-11-23", "run-2", t0), true)
	mustClaim(t, s, claim(ko, 80, "2026-11-23", "run-3", t0), false) // held
	mustSent(t, s, ko, "run-2", "2026-11-23", t0)
	if diff := cmp.Diff([]state.NoticeKey{kd}, owed(t, s)); diff != "" {
		t.Errorf("owed after one was sent and one released (-want +got):\n%s", diff)
	}
	mustClaim(t, s, claim(ko, 80, "2026-11-23", "run-3", t0.Add(time.Minute)), false)
	mustClaim(t, s, claim(ko, 80, "2026-11-30", "run-4", t0.AddDate(0, 0, 7)), false)
	if _, err := s.Resolve(ctx, []string{"action:run-1.1"}, "2026-11-24", t0.AddDate(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if got := owed(t, s); len(got) != 0 {
		t.Errorf("owed after the next run closed the action's notices = %v; want none", got)
	}
	mustClaim(t, s, claim(ko, 80, "2026-11-30", "run-5", t0.AddDate(0, 0, 7)), false)
}

// testOwedRace: runs on several handles claim one owed notice at once:
// exactly one gets it, and once it is sent none can.
func testOwedRace(t *testing.T, open Opener) {
	first := open(t)
	ctx := context.Background()
	a := action("run-1.1", "run-1", "AKIA1", state.ActionPlanned, t0)
	a.Audiences = []string{owner}
	if err := first.RecordAction(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := first.FinishAction(ctx, a.ID, state.Outcome{Status: state.ActionDone, At: t0}); err != nil {
		t.Fatal(err)
	}
	key := state.NoticeKey{Finding: "action:run-1.1", Audience: owner}
	const n = 6
	var wg sync.WaitGroup
	won := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		s := open(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			won[i], errs[i] = s.Claim(ctx, claim(key, 80, "2026-11-23", fmt.Sprintf("run-%d", i+2), t0))
			if won[i] {
				errs[i] = s.Sent(ctx, key, fmt.Sprintf("run-%d", i+2), "2026-11-23", t0)
			}
		}()
	}
	wg.Wait()
	wins := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("run %d: %v", i+2, errs[i])
		}
		if won[i] {
			wins++
		}
	}
	if wins != 1 {
		t.Errorf("%d runs claimed the owed notice; want exactly 1", wins)
	}
	if got := one(t, first, key); got.Count != 1 || got.Owed() {
		t.Errorf("notice after the race = %+v; want sent once, not owed", got)
	}
}

// rotation is a planned rotate record of key AKIA1, its target as named.
func rotation(id string) state.Action {
	a := action(id, "run-1", "AKIA1", state.ActionPlanned, t0)
	a.Kind, a.SecretTarget = state.KindRotate, "keywarden/alice"
	return a
}

// testRotationRecord: a rotation records its new key while planned (once:
// the same key again succeeds, another is refused), is finished with the
// secret's ARN, and every rotation field reads back from another handle;
// a retiring disable keeps its RotationOf. A finished or unknown action
// takes no new key.
func testRotationRecord(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	a := rotation("run-1.1")
	if err := s.RecordAction(ctx, a); err != nil {
		t.Fatalf("RecordAction(rotate, planned) error: %v", err)
	}
	if err := s.ProgressAction(ctx, a.ID, "AKIANEW1"); err != nil {
		t.Fatalf("ProgressAction error: %v", err)
	}
	if err := s.ProgressAction(ctx, a.ID, "AKIANEW1"); err != nil {
		t.Errorf("ProgressAction(the same key again) error = %v; want nil (a repeat)", err)
	}
	if err := s.ProgressAction(ctx, a.ID, "AKIANEW2"); !errors.Is(err, state.ErrNewKeyRecorded) {
		t.Errorf("ProgressAction(another key) error = %v; want ErrNewKeyRecorded", err)
	}
	if got := actions(t, open(t), state.ActionFilter{IDs: []string{a.ID}}); len(got) != 1 || got[0].NewKeyID != "AKIANEW1" || got[0].Status != state.ActionPlanned {
		t.Fatalf("Actions(the planned rotation) = %+v; want it planned with new key AKIANEW1", got)
	}
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:keywarden/alice-AbCdEf"
	out := state.Outcome{Status: state.ActionDone, Reason: "rotated", Before: state.KeyActive, After: state.KeyActive,
		At: t0.Add(time.Second), SecretTarget: arn}
	if err := s.FinishAction(ctx, a.ID, out); err != nil {
		t.Fatalf("FinishAction(rotate) error: %v", err)
	}
	if err := s.ProgressAction(ctx, a.ID, "AKIANEW1"); !errors.Is(err, state.ErrActionNotPlanned) {
		t.Errorf("ProgressAction(finished) error = %v; want ErrActionNotPlanned", err)
	}
	if err := s.ProgressAction(ctx, "nope", "AKIANEW1"); !errors.Is(err, state.ErrActionNotPlanned) {
		t.Errorf("ProgressAction(unknown) error = %v; want ErrActionNotPlanned", err)
	}
	retire := action("run-2.1", "run-2", "AKIA1", state.ActionDone, t0.Add(time.Hour))
	retire.RotationOf, retire.After = a.ID, state.KeyInactive
	if err := s.RecordAction(ctx, retire); err != nil {
		t.Fatalf("RecordAction(retiring disable) error: %v", err)
	}
	want := a
	want.Status, want.Reason, want.Before, want.After, want.FinishedAt = out.Status, out.Reason, out.Before, out.After, out.At
	want.NewKeyID, want.SecretTarget = "AKIANEW1", arn
	if diff := cmp.Diff([]state.Action{retire, want}, actions(t, open(t), state.ActionFilter{}), cmpopts.EquateApproxTime(0)); diff != "" {
		t.Errorf("Actions() from another handle (-want +got):\n%s", diff)
	}
	b := rotation("run-3.1")
	b.KeyID = "AKIA2"
	if err := s.RecordAction(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishAction(ctx, b.ID, state.Outcome{Status: state.ActionFailed, Reason: "write failed", At: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got := actions(t, s, state.ActionFilter{IDs: []string{b.ID}}); len(got) != 1 || got[0].SecretTarget != "keywarden/alice" || got[0].NewKeyID != "" {
		t.Errorf("a rotation finished without a target = %+v; want the planned target kept, no new key", got)
	}
}

// testProgressFaults: ProgressAction failing before its write records no
// key; failing after it, the key is there and the call tried again
// succeeds.
func testProgressFaults(t *testing.T, open Opener) {
	ctx := context.Background()
	s := NewFaulty(open(t))
	a := rotation("run-1.1")
	if err := s.RecordAction(ctx, a); err != nil {
		t.Fatal(err)
	}
	s.Inject(Fault{Op: "ProgressAction", Times: 1})
	if err := s.ProgressAction(ctx, a.ID, "AKIANEW1"); !errors.Is(err, ErrInjected) {
		t.Fatalf("ProgressAction under a fault = %v; want the fault", err)
	}
	if got := actions(t, s, state.ActionFilter{}); len(got) != 1 || got[0].NewKeyID != "" {
		t.Fatalf("after a failed ProgressAction: %+v; want no new key", got)
	}
	s.Inject(Fault{Op: "ProgressAction", After: true, Times: 1})
	if err := s.ProgressAction(ctx, a.ID, "AKIANEW1"); !errors.Is(err, ErrInjected) {
		t.Fatalf("ProgressAction (fails after the write) = %v; want the fault", err)
	}
	if got := actions(t, open(t), state.ActionFilter{}); len(got) != 1 || got[0].NewKeyID != "AKIANEW1" {
		t.Fatalf("after ProgressAction failed after its write: %+v; want new key AKIANEW1", got)
	}
	if err := s.ProgressAction(ctx, a.ID, "AKIANEW1"); err != nil {
		t.Errorf("ProgressAction tried again: %v", err)
	}
	if n := s.Failed("ProgressAction"); n != 2 {
		t.Errorf("%d ProgressAction calls failed; want the 2 injected", n)
	}
}
