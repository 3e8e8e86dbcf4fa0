package run

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/memstore"
)

// TestRunActions: undo --run takes every action the run made, oldest
// first, whatever its kind (a delete is then said to be impossible), and
// none it skipped, that failed or that another run made; a run with
// nothing made, or nothing recorded, is an error that says so.
func TestRunActions(t *testing.T) {
	ctx := context.Background()
	store := memstore.New()
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	record := func(id, run, kind string, st state.ActionStatus) {
		t.Helper()
		at = at.Add(time.Minute)
		if err := store.RecordAction(ctx, state.Action{ID: id, Run: run, Account: "111111111111", User: "u-" + id, KeyID: "AKIA" + id,
			Kind: kind, Status: st, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	record("r1.1", "r1", state.KindDelete, state.ActionDone)
	record("r1.2", "r1", state.KindDisable, state.ActionDone)
	record("r1.3", "r1", state.KindDisable, state.ActionSkipped)
	record("r1.4", "r1", state.KindDisable, state.ActionFailed)
	record("r1.5", "r1", state.KindDisable, state.ActionDone)
	record("r2.1", "r2", state.KindDisable, state.ActionDone)
	record("r3.1", "r3", state.KindDisable, state.ActionSkipped)

	ids, err := RunActions(ctx, store, "r1")
	if err != nil || !cmp.Equal(ids, []string{"r1.1", "r1.2", "r1.5"}) {
		t.Errorf("RunActions(r1) = %v, %v; want r1.1, r1.2, r1.5", ids, err)
	}
	for run, want := range map[string]string{
		"r3":   "run r3 made no change (1 recorded actions, none done), so there is nothing to undo",
		"nope": "run nope recorded no action (see keywarden history --runs)",
	} {
		if ids, err := RunActions(ctx, store, run); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("RunActions(%s) = %v, %v; want the error %q", run, ids, err, want)
		}
	}
}
