package remediate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/remediate"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/memstore"
)

// haltingIAM ends a run's halt context while its first write is in
// flight: a signal that arrives during the write.
type haltingIAM struct {
	*fakeIAM
	halt context.CancelCauseFunc
}

func (h haltingIAM) UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, o ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error) {
	h.halt(errors.New("interrupted by SIGINT"))
	return h.fakeIAM.UpdateAccessKey(ctx, in, o...)
}

// TestExecuteHaltsBetweenActions: the halt comes during the first
// action's write: that action is finished and recorded done; the two
// after it are not started — returned planned, without an ID, with the
// cause as their reason, and not recorded, so nothing holds their keys
// and the next run carries them out.
func TestExecuteHaltsBetweenActions(t *testing.T) {
	f := &fakeIAM{keys: []*fakeKey{
		{user: "alice", id: "AKIA1", created: daysAgo(85), active: true},
		{user: "bob", id: "AKIA2", created: daysAgo(85), active: true},
		{user: "carol", id: "AKIA3", created: daysAgo(85), active: true},
	}}
	halt, cancel := context.WithCancelCause(context.Background())
	store := memstore.New()
	e := executor(f, store)
	e.Clients = func(context.Context, string) (remediate.IAM, error) { return haltingIAM{f, cancel}, nil }
	e.Halt = halt
	got := e.Execute(context.Background(), []plan.Action{
		keyAction("disable", "alice", "AKIA1", daysAgo(85), true),
		keyAction("disable", "bob", "AKIA2", daysAgo(85), true),
		keyAction("disable", "carol", "AKIA3", daysAgo(85), true),
	})
	if got[0].Status != plan.ActionDone || got[0].ID != "run-1.1" {
		t.Errorf("the action in flight: %s (ID %q); want done, run-1.1", outcome(got[0]), got[0].ID)
	}
	want := "not started: interrupted by SIGINT; the next run carries it out"
	for _, a := range got[1:] {
		if a.Status != plan.ActionPlanned || a.ID != "" || a.Reason != want {
			t.Errorf("after the halt: %s (ID %q); want planned, no ID, %q", outcome(a), a.ID, want)
		}
	}
	if w := f.writes(); len(w) != 1 || w[0] != "UpdateAccessKey AKIA1 Inactive" {
		t.Errorf("writes %v; want only the one in flight", w)
	}
	recs, _ := store.Actions(context.Background(), state.ActionFilter{})
	if len(recs) != 1 || recs[0].Status != state.ActionDone || recs[0].KeyID != "AKIA1" {
		t.Errorf("records %+v; want one, AKIA1 done (nothing planned is left, nothing recorded for what was not started)", recs)
	}
}
