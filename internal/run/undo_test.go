package run

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/remediate"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/memstore"
)

// TestUndoOutsideAllowedAccounts: undo changes credentials only where
// remediation may act, like remediation itself: a disable in an account
// that enforce.allowed_accounts no longer names is not undone, and no
// client of that account is asked for.
func TestUndoOutsideAllowedAccounts(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	store := memstore.New()
	for _, acct := range []string{"111111111111", "222222222222"} {
		a := state.Action{ID: "r1." + acct, Run: "r1", Account: acct, User: "alice", Credential: "access_key", KeyID: "AKIA" + acct,
			Kind: state.KindDisable, Status: state.ActionPlanned, Before: state.KeyActive, At: now.Add(-time.Hour)}
		if err := store.RecordAction(ctx, a); err != nil {
			t.Fatal(err)
		}
		if err := store.FinishAction(ctx, a.ID, state.Outcome{Status: state.ActionDone, Before: state.KeyActive, After: state.KeyInactive, At: now.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Default()
	cfg.Enforce.AllowedAccounts = []string{"111111111111"}
	var asked []string
	errNoClient := errors.New("no client in this test")
	_, err := Undo(ctx, UndoOptions{IDs: []string{"r1.222222222222", "r1.111111111111"}, Store: store, Config: cfg, Now: now,
		Clients: func(_ context.Context, account string) (remediate.IAM, error) {
			asked = append(asked, account)
			return nil, errNoClient
		}})
	want := "action r1.222222222222: account 222222222222 is not in enforce.allowed_accounts: keywarden changes nothing there; add it to undo this action"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Undo() error %v; want it to contain %q", err, want)
	}
	if !slices.Equal(asked, []string{"111111111111"}) {
		t.Errorf("clients asked for %v; want the allowed account only", asked)
	}
}
