package statetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keywarden/keywarden/internal/state"
)

// The fault tests: what every store guarantees when a call fails before
// its write (throttling, a transient error: retrying is safe), when it
// fails after its write took effect (the answer was lost: reading shows
// the write, and repeating it never records twice), and when another
// writer wins the race between a caller's read and its write (the
// conditions hold). They wrap the store in a Faulty.

// testTransientFaults: a call that fails before it reaches the store
// changes nothing, and the call tried again does it once.
func testTransientFaults(t *testing.T, open Opener) {
	ctx := context.Background()
	s := NewFaulty(open(t))
	for _, op := range []string{"Claim", "Sent", "RecordAction", "FinishAction", "RecordRun", "Resolve", "RecordInactive"} {
		s.Inject(Fault{Op: op, Times: 1})
	}
	c := claim(keyA, 70, "2026-11-23", "run-1", t0)
	if ok, err := s.Claim(ctx, c); ok || !errors.Is(err, ErrInjected) {
		t.Fatalf("Claim under a fault = %v, %v; want false, the fault", ok, err)
	}
	if ns := notices(t, s); len(ns) != 0 {
		t.Fatalf("after a failed Claim: notices %+v; want none", ns)
	}
	mustClaim(t, s, c, true)
	if err := s.Sent(ctx, keyA, "run-1", "2026-11-23", t0); !errors.Is(err, ErrInjected) {
		t.Fatalf("Sent under a fault = %v; want the fault", err)
	}
	if n := one(t, s, keyA); n.ClaimRun != "run-1" || n.LastDay != "" || n.Count != 0 {
		t.Fatalf("after a failed Sent: %+v; want still claimed by run-1, never told", n)
	}
	mustSent(t, s, keyA, "run-1", "2026-11-23", t0)
	if n := one(t, s, keyA); n.Count != 1 || n.LastDay != "2026-11-23" || n.ClaimRun != "" {
		t.Errorf("after Sent tried again: %+v; want told once on 2026-11-23", n)
	}

	a := action("run-1.1", "run-1", "AKIA1", state.ActionPlanned, t0)
	if err := s.RecordAction(ctx, a); !errors.Is(err, ErrInjected) {
		t.Fatalf("RecordAction under a fault = %v; want the fault", err)
	}
	if got := actions(t, s, state.ActionFilter{}); len(got) != 0 {
		t.Fatalf("after a failed RecordAction: %d actions; want none", len(got))
	}
	if err := s.RecordAction(ctx, a); err != nil {
		t.Fatalf("RecordAction tried again: %v", err)
	}
	out := state.Outcome{Status: state.ActionDone, Before: state.KeyActive, After: state.KeyInactive, At: t0.Add(time.Second)}
	if err := s.FinishAction(ctx, a.ID, out); !errors.Is(err, ErrInjected) {
		t.Fatalf("FinishAction under a fault = %v; want the fault", err)
	}
	if got := actions(t, s, state.ActionFilter{}); len(got) != 1 || got[0].Status != state.ActionPlanned {
		t.Fatalf("after a failed FinishAction: %+v; want the action still planned", got)
	}
	if err := s.FinishAction(ctx, a.ID, out); err != nil {
		t.Fatalf("FinishAction tried again: %v", err)
	}
	if got := actions(t, s, state.ActionFilter{}); len(got) != 1 || got[0].Status != state.ActionDone {
		t.Errorf("after FinishAction tried again: %+v; want one action, done", got)
	}

	r := state.Run{ID: "run-1", Mode: "notify", StartedAt: t0}
	if err := s.RecordRun(ctx, r); !errors.Is(err, ErrInjected) {
		t.Fatalf("RecordRun under a fault = %v; want the fault", err)
	}
	if rs, err := s.Runs(ctx, 0); err != nil || len(rs) != 0 {
		t.Fatalf("after a failed RecordRun: %v, %v; want no runs", rs, err)
	}
	if err := s.RecordRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Resolve(ctx, []string{keyA.Finding}, "2026-11-24", t0); n != 0 || !errors.Is(err, ErrInjected) {
		t.Fatalf("Resolve under a fault = %d, %v; want 0, the fault", n, err)
	}
	if n, err := s.Resolve(ctx, []string{keyA.Finding}, "2026-11-24", t0); n != 1 || err != nil {
		t.Errorf("Resolve tried again = %d, %v; want 1", n, err)
	}
	k := state.KeyRef{Account: "123456789012", User: "alice", KeyID: "AKIA1"}
	if err := s.RecordInactive(ctx, k, "2026-11-01", false); !errors.Is(err, ErrInjected) {
		t.Fatalf("RecordInactive under a fault = %v; want the fault", err)
	}
	if err := s.RecordInactive(ctx, k, "2026-11-02", false); err != nil {
		t.Fatal(err)
	}
	if day, err := s.InactiveSince(ctx, k); day != "2026-11-02" || err != nil {
		t.Errorf("InactiveSince = %q, %v; want the day of the call that reached the store, 2026-11-02", day, err)
	}
	if n := s.Failed(""); n != 7 {
		t.Errorf("%d calls failed; want the 7 injected", n)
	}
}

// testErrorsAfterWrite: a write that took effect but answered an error is
// there for every handle to read, and repeating it records nothing twice:
// a notice is not told again, an action is neither recorded nor finished
// twice, its lock is held (or released) as the write left it.
func testErrorsAfterWrite(t *testing.T, open Opener) {
	ctx := context.Background()
	s := NewFaulty(open(t))
	other := open(t)
	for _, op := range []string{"Claim", "Sent", "RecordAction", "FinishAction", "RecordRun", "Resolve"} {
		s.Inject(Fault{Op: op, After: true, Times: 1})
	}
	c := claim(keyA, 70, "2026-11-23", "run-1", t0)
	if _, err := s.Claim(ctx, c); !errors.Is(err, ErrInjected) {
		t.Fatalf("Claim (fails after the write) error = %v; want the fault", err)
	}
	if n := one(t, other, keyA); n.ClaimRun != "run-1" {
		t.Fatalf("after Claim took effect: ClaimRun %q; want run-1", n.ClaimRun)
	}
	mustClaim(t, other, claim(keyA, 70, "2026-11-23", "run-2", t0.Add(time.Minute)), false)
	mustClaim(t, s, c, true) // the holder claims again: the same claim
	if err := s.Sent(ctx, keyA, "run-1", "2026-11-23", t0); !errors.Is(err, ErrInjected) {
		t.Fatalf("Sent (fails after the write) error = %v; want the fault", err)
	}
	n := one(t, other, keyA)
	if n.Count != 1 || n.LastDay != "2026-11-23" || n.ClaimRun != "" {
		t.Fatalf("after Sent took effect: %+v; want told once on 2026-11-23, no claim", n)
	}
	// Never told twice: not due today, for this run or another.
	mustClaim(t, other, claim(keyA, 70, "2026-11-23", "run-2", t0.Add(time.Minute)), false)
	// The same Sent again (the caller's retry) finds it recorded; another
	// (a later time) finds the claim gone. Neither records it twice.
	if err := s.Sent(ctx, keyA, "run-1", "2026-11-23", t0); err != nil {
		t.Errorf("Sent repeated after it took effect = %v; want nil (recorded already)", err)
	}
	if err := s.Sent(ctx, keyA, "run-1", "2026-11-23", t0.Add(time.Second)); !errors.Is(err, state.ErrClaimLost) {
		t.Errorf("Sent again at another time = %v; want ErrClaimLost", err)
	}
	if n := one(t, other, keyA); n.Count != 1 || !n.UpdatedAt.Equal(t0) {
		t.Errorf("after Sent repeated: count %d, updated %v; want 1, %v", n.Count, n.UpdatedAt, t0)
	}

	a := action("run-1.1", "run-1", "AKIA1", state.ActionPlanned, t0)
	if err := s.RecordAction(ctx, a); !errors.Is(err, ErrInjected) {
		t.Fatalf("RecordAction (fails after the write) error = %v; want the fault", err)
	}
	if got := actions(t, other, state.ActionFilter{}); len(got) != 1 || got[0].ID != a.ID || got[0].Status != state.ActionPlanned {
		t.Fatalf("after RecordAction took effect: %+v; want %s planned", got, a.ID)
	}
	if err := s.RecordAction(ctx, a); err != nil {
		t.Errorf("RecordAction repeated after it took effect = %v; want nil (recorded already)", err)
	}
	if got := actions(t, other, state.ActionFilter{}); len(got) != 1 {
		t.Errorf("after RecordAction repeated: %d actions; want 1", len(got))
	}
	if err := other.RecordAction(ctx, action("run-2.1", "run-2", "AKIA1", state.ActionPlanned, t0)); !errors.Is(err, state.ErrActionInFlight) {
		t.Errorf("RecordAction(planned, same key, other run) = %v; want ErrActionInFlight (the lock took effect)", err)
	}
	out := state.Outcome{Status: state.ActionDone, Reason: "disabled", Before: state.KeyActive, After: state.KeyInactive, At: t0.Add(time.Second)}
	if err := s.FinishAction(ctx, a.ID, out); !errors.Is(err, ErrInjected) {
		t.Fatalf("FinishAction (fails after the write) error = %v; want the fault", err)
	}
	if got := actions(t, other, state.ActionFilter{}); len(got) != 1 || got[0].Status != state.ActionDone || got[0].Reason != "disabled" {
		t.Fatalf("after FinishAction took effect: %+v; want one action, done", got)
	}
	if err := s.FinishAction(ctx, a.ID, out); err != nil {
		t.Errorf("FinishAction repeated after it took effect = %v; want nil (finished already with that outcome)", err)
	}
	if err := s.FinishAction(ctx, a.ID, state.Outcome{Status: state.ActionFailed, Reason: "again", At: t0.Add(time.Minute)}); !errors.Is(err, state.ErrActionNotPlanned) {
		t.Errorf("FinishAction repeated after it took effect = %v; want ErrActionNotPlanned", err)
	}
	if got := actions(t, other, state.ActionFilter{}); len(got) != 1 || got[0].Status != state.ActionDone || got[0].Reason != "disabled" {
		t.Errorf("after FinishAction repeated: %+v; want the first outcome kept", got)
	}
	if err := other.RecordAction(ctx, action("run-2.1", "run-2", "AKIA1", state.ActionPlanned, t0.Add(time.Hour))); err != nil {
		t.Errorf("RecordAction(planned) once the action finished: %v; want the lock released", err)
	}

	r := state.Run{ID: "run-1", Mode: "notify", StartedAt: t0, Sent: 1}
	if err := s.RecordRun(ctx, r); !errors.Is(err, ErrInjected) {
		t.Fatalf("RecordRun (fails after the write) error = %v; want the fault", err)
	}
	if err := s.RecordRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if rs, err := other.Runs(ctx, 0); err != nil || len(rs) != 1 || rs[0].ID != "run-1" {
		t.Errorf("Runs() after RecordRun repeated = %+v, %v; want run-1 once", rs, err)
	}
	if _, err := s.Resolve(ctx, []string{keyA.Finding}, "2026-11-24", t0); !errors.Is(err, ErrInjected) {
		t.Fatalf("Resolve (fails after the write) error = %v; want the fault", err)
	}
	if ns := notices(t, other); len(ns) != 0 {
		t.Errorf("open notices after Resolve took effect: %+v; want none", ns)
	}
	if n, err := s.Resolve(ctx, []string{keyA.Finding}, "2026-11-24", t0.Add(time.Second)); n != 0 || err != nil {
		t.Errorf("Resolve repeated = %d, %v; want 0 (closed once)", n, err)
	}
}

// testRacesBetweenReadAndWrite: another writer acts between a caller's
// read and its write; the store's conditions decide, and nothing is done
// twice.
func testRacesBetweenReadAndWrite(t *testing.T, open Opener) {
	ctx := context.Background()
	s := NewFaulty(open(t))
	other := open(t)
	race := func(op string, do func()) { s.Inject(Fault{Op: op, Times: 1, Pass: true, Before: do}) }

	// A claim: the caller read no holder; run-2 claims first.
	if ns := notices(t, s); len(ns) != 0 {
		t.Fatal(ns)
	}
	race("Claim", func() { mustClaim(t, other, claim(keyA, 70, "2026-11-23", "run-2", t0), true) })
	mustClaim(t, s, claim(keyA, 70, "2026-11-23", "run-1", t0), false)

	// A lease taken over between run-2's send and its record: run-2's
	// record is refused, run-3's delivery is the one recorded.
	late := claim(keyA, 70, "2026-11-23", "run-3", t0.Add(2*time.Hour))
	race("Sent", func() { mustClaim(t, other, late, true) })
	if err := s.Sent(ctx, keyA, "run-2", "2026-11-23", t0.Add(2*time.Hour)); !errors.Is(err, state.ErrClaimLost) {
		t.Fatalf("Sent after the lease was taken over = %v; want ErrClaimLost", err)
	}
	mustSent(t, other, keyA, "run-3", "2026-11-23", t0.Add(2*time.Hour))
	if n := one(t, s, keyA); n.Count != 1 {
		t.Errorf("Count = %d; want 1 (run-3's delivery only)", n.Count)
	}

	// The finding resolved between a claim and its record: the delivery
	// is recorded, reopening the notice.
	keyB := state.NoticeKey{Finding: "f-bob-1", Audience: "bob@example.com"}
	mustClaim(t, s, claim(keyB, 70, "2026-11-23", "run-4", t0), true)
	race("Sent", func() {
		if _, err := other.Resolve(ctx, []string{keyB.Finding}, "2026-11-23", t0); err != nil {
			t.Error(err)
		}
	})
	mustSent(t, s, keyB, "run-4", "2026-11-23", t0)
	if n := one(t, other, keyB); n.Count != 1 || n.FirstDay != "2026-11-23" || n.ClosedDay != "" {
		t.Errorf("delivered after a resolve: %+v; want open, told once", n)
	}

	// A planned action: the caller read no lock; another run plans one on
	// the same key first, and is named.
	race("RecordAction", func() {
		if err := other.RecordAction(ctx, action("run-5.1", "run-5", "AKIA1", state.ActionPlanned, t0)); err != nil {
			t.Error(err)
		}
	})
	err := s.RecordAction(ctx, action("run-6.1", "run-6", "AKIA1", state.ActionPlanned, t0))
	if !errors.Is(err, state.ErrActionInFlight) || !strings.Contains(err.Error(), "run-5.1") {
		t.Fatalf("RecordAction after another run's = %v; want ErrActionInFlight naming run-5.1", err)
	}

	// Finishing: a reconcile by another run finishes the action first.
	first := state.Outcome{Status: state.ActionFailed, Reason: "reconciled: left planned", At: t0.Add(2 * time.Hour)}
	race("FinishAction", func() {
		if err := other.FinishAction(ctx, "run-5.1", first); err != nil {
			t.Error(err)
		}
	})
	err = s.FinishAction(ctx, "run-5.1", state.Outcome{Status: state.ActionDone, Reason: "disabled", At: t0.Add(time.Second)})
	if !errors.Is(err, state.ErrActionNotPlanned) {
		t.Fatalf("FinishAction after another run finished it = %v; want ErrActionNotPlanned", err)
	}
	got := actions(t, s, state.ActionFilter{IDs: []string{"run-5.1"}})
	want := action("run-5.1", "run-5", "AKIA1", state.ActionPlanned, t0)
	want.Status, want.Reason, want.FinishedAt = first.Status, first.Reason, first.At
	want.Before = ""
	if diff := cmp.Diff([]state.Action{want}, got, cmpopts.EquateApproxTime(0)); diff != "" {
		t.Errorf("the action after two finishes (-want +got):\n%s", diff)
	}
}
