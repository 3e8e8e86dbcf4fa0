package remediate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/memstore"
)

type failInactive struct{ state.Store }

func (failInactive) RecordInactive(context.Context, state.KeyRef, string, bool) error {
	return errors.New("ProvisionedThroughputExceededException")
}

// A disable that IAM made is recorded failed when only the inactive-since
// write fails: the record contradicts the credential, and the owner is
// never told (failed owes the digests only).
func TestDisableMadeIsDoneWhenItsInactiveDayIsNotRecorded(t *testing.T) {
	f := &fakeIAM{keys: []*fakeKey{{user: "alice", id: "AKIA1", created: daysAgo(85), active: true}}}
	store := memstore.New()
	a := keyAction("disable", "alice", "AKIA1", daysAgo(85), true)
	a.Audiences = []string{"alice@example.com", "digest:email"}
	got := executor(f, failInactive{store}).Execute(context.Background(), []plan.Action{a})
	recs, _ := store.Actions(context.Background(), state.ActionFilter{IDs: []string{got[0].ID}})
	if f.key("AKIA1").active {
		t.Fatal("key still active")
	}
	if got[0].Status != plan.ActionDone || recs[0].Status != state.ActionDone {
		t.Errorf("key is Inactive in IAM, but outcome %s / record %s (%s)", got[0].Status, recs[0].Status, recs[0].Reason)
	}
	ns, _ := store.Notices(context.Background(), nil)
	for _, n := range ns {
		if n.Audience == "alice@example.com" {
			return
		}
	}
	t.Errorf("owner is owed nothing: notices %+v", ns)
}

// endsDuringReconcile: run-0 makes its write and records its end (its
// FinishAction having failed) between Reconcile's re-read and its read of
// the runs.
type endsDuringReconcile struct {
	state.Store
	f    *fakeIAM
	done bool
}

func (s *endsDuringReconcile) Runs(ctx context.Context, limit int) ([]state.Run, error) {
	if !s.done {
		s.done = true
		s.f.key("AKIA1").active = false // run-0's UpdateAccessKey lands
		_ = s.Store.RecordRun(ctx, state.Run{ID: "run-0", StartedAt: asOf.Add(-time.Minute), FinishedAt: asOf})
	}
	return s.Store.Runs(ctx, limit)
}

func TestReconcileAsksIfTheRunEndedBeforeTheCredential(t *testing.T) {
	f := &fakeIAM{keys: []*fakeKey{{user: "alice", id: "AKIA1", created: daysAgo(85), active: true}}}
	store := memstore.New()
	ctx := context.Background()
	if err := store.RecordAction(ctx, state.Action{ID: "run-0.1", Run: "run-0", Account: acct, User: "alice", Credential: "access_key",
		KeyID: "AKIA1", Kind: "disable", Before: "Active", Status: state.ActionPlanned, At: asOf.Add(-5 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := executor(f, &endsDuringReconcile{Store: store, f: f}).Reconcile(ctx, []string{acct}, nil); err != nil {
		t.Fatal(err)
	}
	recs, _ := store.Actions(ctx, state.ActionFilter{IDs: []string{"run-0.1"}})
	if !f.key("AKIA1").active && recs[0].Status == state.ActionFailed {
		t.Errorf("key is Inactive (run-0 made it) but its record is %s: %s", recs[0].Status, recs[0].Reason)
	}
}
