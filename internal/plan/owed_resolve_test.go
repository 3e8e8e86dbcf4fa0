package plan_test

import (
	"context"
	"github.com/keywarden/keywarden/internal/state/sqlite"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/state"
)

// Told to alice already (LastDay set), still owed to the digest: the plan
// must not resolve the action's finding, since Store.Resolve closes every
// audience of a finding, the owed digest notice with it.
func TestResolveKeepsAFindingStillOwed(t *testing.T) {
	rec := state.Action{ID: "r0.1", Run: "r0", Account: acct, User: "alice", Credential: policy.CredentialAccessKey, KeyID: "AKIAALICE1",
		Kind: state.KindDelete, Rule: config.RuleAccessKeyAge, Stage: 90, FindingID: "alice-1", Status: state.ActionDone,
		Before: state.KeyInactive, After: state.KeyDeleted, At: asOf.Add(-48 * time.Hour), FinishedAt: asOf.Add(-47 * time.Hour)}
	told := owedNotice("r0.1", "a@example.com")
	told.LastDay, told.FirstDay, told.Count = "2026-11-22", "2026-11-22", 1
	notices := []state.Notice{told, owedNotice("r0.1", "digest:outbox")}
	p := plan.Build(plan.Input{Config: enforcing(), AsOf: asOf, Accounts: okAccounts(acct), Notices: notices, OwedActions: []state.Action{rec},
		Mode: plan.ModeNotify})
	if slices.Contains(p.Resolve, "action:r0.1") {
		t.Errorf("resolve = %v: Store.Resolve(action:r0.1) closes the digest's owed notice too; if this run's digest fails, it is never told", p.Resolve)
	}
}

// The same through the SQLite store: the owner is told in run 2, the digest
// channel fails in run 2; at run 2's end Resolve closes the digest's owed
// notice, and run 3 has nothing owed to tell.
func TestOwedDigestOutlivesAToldSibling(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := state.Action{ID: "r0.1", Run: "r0", Account: acct, User: "alice", Credential: policy.CredentialAccessKey, KeyID: "AKIAALICE1",
		Kind: state.KindDelete, Rule: config.RuleAccessKeyAge, Stage: 90, FindingID: "alice-1", Status: state.ActionPlanned,
		Before: state.KeyInactive, At: asOf.Add(-48 * time.Hour), Audiences: []string{"a@example.com", "digest:outbox"}}
	if err := s.RecordAction(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishAction(ctx, "r0.1", state.Outcome{Status: state.ActionDone, After: state.KeyDeleted, At: asOf.Add(-47 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// Run 1 (or 2) told alice; the digest's delivery failed (released).
	k := state.NoticeKey{Finding: "action:r0.1", Audience: "a@example.com"}
	if ok, err := s.Claim(ctx, state.Claim{Key: k, Account: acct, Day: "2026-11-22", RemindEvery: 3, Run: "r1", Now: asOf.Add(-24 * time.Hour)}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := s.Sent(ctx, k, "r1", "2026-11-22", asOf.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Run 2: digest channel still down; its plan's Resolve is applied at its end.
	ns, _ := s.Notices(ctx, []string{acct})
	acts, _ := s.Actions(ctx, state.ActionFilter{IDs: []string{"r0.1"}})
	p := plan.Build(plan.Input{Config: enforcing(), AsOf: asOf, Accounts: okAccounts(acct), Notices: ns, OwedActions: acts, Mode: plan.ModeNotify})
	if _, err := s.Resolve(ctx, p.Resolve, "2026-11-23", asOf); err != nil {
		t.Fatal(err)
	}
	// Run 3: is the digest still owed?
	ns, _ = s.Notices(ctx, []string{acct})
	for _, n := range ns {
		if n.Owed() && n.Audience == "digest:outbox" {
			return
		}
	}
	t.Errorf("after run 2 (resolve %v) the digest's owed notice of r0.1 is gone: open notices %+v", p.Resolve, ns)
}
