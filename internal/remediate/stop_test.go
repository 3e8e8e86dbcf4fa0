package remediate_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/memstore"
)

// TestExecuteStop: the stop is asked before each action; once it says
// stop, that action and every later one are skipped with its reason and
// recorded, it is not asked again, and nothing more is written.
func TestExecuteStop(t *testing.T) {
	f := &fakeIAM{}
	var actions []plan.Action
	for _, id := range []string{"AKIA1", "AKIA2", "AKIA3", "AKIA4"} {
		f.keys = append(f.keys, &fakeKey{user: "u" + id, id: id, created: daysAgo(85), active: true})
		actions = append(actions, keyAction("disable", "u"+id, id, daysAgo(85), true))
	}
	listed := keyAction("disable", "other", "AKIA9", daysAgo(85), true)
	listed.Status = plan.ActionListed
	actions = append(actions, listed)
	store := memstore.New()
	e := executor(f, store)
	asked := 0
	const reason = "enforce.stop_parameter /kw/stop holds stop"
	e.Stop = func(context.Context) string {
		asked++
		if asked == 3 {
			return reason
		}
		return ""
	}
	out := e.Execute(context.Background(), actions)
	var got []string
	for _, a := range out {
		got = append(got, a.KeyID+" "+a.Status+" "+a.Reason)
	}
	want := []string{
		"AKIA1 done disabled: the key reached its 80-day disable stage",
		"AKIA2 done disabled: the key reached its 80-day disable stage",
		"AKIA3 skipped " + reason,
		"AKIA4 skipped " + reason,
		"AKIA9 listed ",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if asked != 3 {
		t.Errorf("Stop asked %d times; want 3 (before each action until it said stop)", asked)
	}
	if w := f.writes(); !cmp.Equal(w, []string{"UpdateAccessKey AKIA1 Inactive", "UpdateAccessKey AKIA2 Inactive"}) {
		t.Errorf("writes = %v; want the two before the stop", w)
	}
	recs, err := store.Actions(context.Background(), state.ActionFilter{Status: state.ActionSkipped})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Reason != reason || recs[1].Reason != reason {
		t.Errorf("skipped records = %+v; want the two stopped actions, with the reason", recs)
	}
}
