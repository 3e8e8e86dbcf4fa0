package run

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/testenv"
)

// TestActsOnTheWallClock: a key at its delete stage is disabled; a day
// later by --as-of, with a grace period of one day, a run that acts
// without --force-as-of still counts the grace period on the wall clock
// (the key is not deleted, and no other run's day is recorded), and the
// same run forced deletes it and records the forced as-of on the run and
// on each action.
func TestActsOnTheWallClock(t *testing.T) {
	m := testenv.Moto(t)
	ids := m.Seed(t, aliceAndFresh(95))
	dir := t.TempDir()
	cfg, err := config.Parse("k.yaml", []byte(strings.ReplaceAll(`version: 1
notify:
  users: { email_tags: [Email], allowed_domains: [example.com], via: outbox }
  outbox: { dir: DIR/outbox }
enforce:
  mode: apply
  allowed_accounts: ["123456789012"]
  grace_after_disable: 1
state: { url: "sqlite://DIR/state.db" }
`, "DIR", dir)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	ctx := context.Background()
	run := func(id string, asOf time.Time, force bool) *Result {
		t.Helper()
		res, err := Run(ctx, RunOptions{Scan: ScanOptions{Config: cfg, AsOf: asOf, Now: now,
			LoadAWSConfig: func(context.Context) (aws.Config, error) { return m.Config(t), nil }}, ForceAsOf: force, RunID: id})
		if err != nil || res.Err != nil {
			t.Fatalf("run %s: %v / %v", id, err, res.Err)
		}
		return res
	}
	alice := ids["alice"][0]
	action := func(res *Result) plan.Action {
		for _, a := range res.Plan.Actions {
			if a.KeyID == alice {
				return a
			}
		}
		t.Fatalf("run %s has no action on alice's key: %+v", res.RunID, res.Plan.Actions)
		return plan.Action{}
	}

	if a := action(run("first", now, false)); a.Status != plan.ActionDone || a.Done != config.ActionDisable {
		t.Fatalf("first run: %s %s (%s); want alice's key disabled", a.Status, a.Done, a.Reason)
	}
	later := now.Add(MaxAsOfSkew) // the next day by the as-of
	res := run("unforced", later, false)
	want := fmt.Sprintf("inactive since %s (0 of the 1 days of enforce.grace_after_disable): it will be deleted on %s",
		state.Day(now), state.Day(now.AddDate(0, 0, 1)))
	if a := action(res); a.Status != plan.ActionSkipped || a.Reason != want {
		t.Errorf("a day later by --as-of alone: %s %q; want skipped: %q", a.Status, a.Reason, want)
	}
	if !res.ForcedAsOf.IsZero() {
		t.Errorf("unforced run: forced_as_of %s; want none", res.ForcedAsOf)
	}
	res = run("forced", later, true)
	if a := action(res); a.Status != plan.ActionDone || a.Done != config.ActionDelete {
		t.Errorf("a day later, forced: %s %s (%s); want alice's key deleted", a.Status, a.Done, a.Reason)
	}
	if !res.ForcedAsOf.Equal(later) {
		t.Errorf("forced run: forced_as_of %s; want %s", res.ForcedAsOf, later)
	}

	store, err := OpenState(ctx, "sqlite://"+filepath.Join(dir, "state.db"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	runs, err := store.Runs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if wantForced := r.ID == "forced"; r.ForcedAsOf.IsZero() == wantForced || wantForced && !r.ForcedAsOf.Equal(later) {
			t.Errorf("run record %s: forced_as_of %s; want %v", r.ID, r.ForcedAsOf, map[bool]string{true: later.String(), false: "none"}[wantForced])
		}
	}
	acts, err := store.Actions(ctx, state.ActionFilter{})
	if err != nil || len(acts) != 3 {
		t.Fatalf("actions = %+v, %v; want 3 (disable, skip, delete)", acts, err)
	}
	for _, a := range acts {
		if wantForced := a.Run == "forced"; a.ForcedAsOf.IsZero() == wantForced || wantForced && !a.ForcedAsOf.Equal(later) {
			t.Errorf("action record %s of run %s: forced_as_of %s; want it only on the forced run's", a.ID, a.Run, a.ForcedAsOf)
		}
	}
}
