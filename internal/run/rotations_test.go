package run

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/remediate"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/memstore"
	"github.com/keywarden/keywarden/internal/testenv"
)

// TestRotationsForThePlan: the plan gets the done rotations of the scanned
// accounts whose old key the scan still found, with the records that
// retire or undo them; not a failed rotation, another account's, one
// whose key is gone, nor another action on the key.
func TestRotationsForThePlan(t *testing.T) {
	ctx := context.Background()
	store := memstore.New()
	at := time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)
	rec := func(id, account, key, kind string, st state.ActionStatus, mut ...func(*state.Action)) {
		a := state.Action{ID: id, Run: "r", Account: account, User: "ci", Credential: policy.CredentialAccessKey, KeyID: key,
			Kind: kind, Status: st, At: at, FinishedAt: at}
		for _, m := range mut {
			m(&a)
		}
		if err := store.RecordAction(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	const acct, other = "123456789012", "210987654321"
	rec("rot.1", acct, "AKIAOLD1", state.KindRotate, state.ActionDone, func(a *state.Action) { a.NewKeyID, a.SecretTarget = "AKIANEW1", "ssm:/keywarden/ci" })
	rec("ret.1", acct, "AKIAOLD1", state.KindDisable, state.ActionDone, func(a *state.Action) { a.RotationOf = "rot.1" })
	rec("undo.1", acct, "AKIAOLD1", state.KindEnable, state.ActionDone, func(a *state.Action) { a.UndoOf = "ret.1" })
	rec("dis.0", acct, "AKIAOLD1", state.KindDisable, state.ActionDone) // not the rotation's
	rec("rot.2", acct, "AKIAOLD2", state.KindRotate, state.ActionFailed)
	rec("rot.3", acct, "AKIAGONE", state.KindRotate, state.ActionDone)
	rec("rot.4", other, "AKIAOTHER", state.KindRotate, state.ActionDone)
	rec("dis.1", acct, "AKIAOLD2", state.KindDisable, state.ActionDone)

	key := func(id string) policy.Finding {
		return policy.Finding{Account: acct, User: "ci", Credential: policy.CredentialAccessKey, KeyID: id}
	}
	r := &runner{store: store, res: &Result{Report: &report.Report{Accounts: []report.Account{{ID: acct}},
		Findings: []policy.Finding{key("AKIAOLD1"), key("AKIAOLD2"), {Account: other, User: "ci", Credential: policy.CredentialAccessKey, KeyID: "AKIAOTHER"}}}}}
	got, err := r.rotations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range got {
		ids = append(ids, a.ID)
	}
	if want := []string{"rot.1", "ret.1", "undo.1"}; !cmp.Equal(ids, want) {
		t.Errorf("rotations = %v; want %v", ids, want)
	}
	if len(got) > 0 && (got[0].NewKeyID != "AKIANEW1" || got[0].SecretTarget != "ssm:/keywarden/ci") {
		t.Errorf("rotation record = %+v; want its new key and target", got[0])
	}
}

// TestNewKeyUseForThePlan: before planning, the run reads each open
// rotation's new key from IAM (moto): used since the rotation → its day;
// not used → nothing; gone → Gone; a read that fails → Unread (held).
func TestNewKeyUseForThePlan(t *testing.T) {
	m := testenv.Moto(t)
	ids := m.Seed(t, []testenv.SeedUser{
		{Name: "used", Keys: []testenv.SeedKey{{AgeDays: 90, LastUsedDaysAgo: 1}, {AgeDays: 3, LastUsedDaysAgo: 1}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1},
		{Name: "idle", Keys: []testenv.SeedKey{{AgeDays: 90, LastUsedDaysAgo: 1}, {AgeDays: 3, LastUsedDaysAgo: -1}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1},
		{Name: "gone", Keys: []testenv.SeedKey{{AgeDays: 90, LastUsedDaysAgo: 1}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1},
		{Name: "unread", Keys: []testenv.SeedKey{{AgeDays: 90, LastUsedDaysAgo: 1}, {AgeDays: 3, LastUsedDaysAgo: 1}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1},
	})
	p := m.NewProxy(t)
	unreadKey := ids["unread"][1]
	p.Inject(testenv.Fault{Match: func(o testenv.Op) bool {
		return o.Operation == "GetAccessKeyLastUsed" && o.Params.Get("AccessKeyId") == unreadKey
	}, Code: "ServiceFailure", Status: 500})
	client := iam.NewFromConfig(p.Config(t, m), func(o *iam.Options) { o.RetryMaxAttempts = 1 })
	rotated := time.Now().UTC().AddDate(0, 0, -3)
	rot := func(user, newKey string) state.Action {
		return state.Action{ID: "rot." + user, Account: testenv.AccountID, User: user, KeyID: ids[user][0], Kind: state.KindRotate,
			Status: state.ActionDone, NewKeyID: newKey, At: rotated, FinishedAt: rotated}
	}
	var logs bytes.Buffer
	r := &runner{log: slog.New(slog.NewJSONHandler(&logs, nil)),
		clients: func(context.Context, string) (remediate.IAM, error) { return client, nil }}
	got := r.newKeyUse(context.Background(), []state.Action{rot("used", ids["used"][1]), rot("idle", ids["idle"][1]),
		rot("gone", "AKIAGONEGONEGONE1234"), rot("unread", unreadKey),
		{ID: "ret.used", Kind: state.KindDisable, RotationOf: "rot.used", KeyID: ids["used"][0]}})
	want := map[string]plan.NewKeyUse{
		"rot.used":   {UsedOn: state.Day(time.Now().UTC().AddDate(0, 0, -1))},
		"rot.idle":   {},
		"rot.gone":   {Gone: true},
		"rot.unread": {Unread: true},
	}
	if !cmp.Equal(got, want) {
		t.Errorf("newKeyUse() = %+v; want %+v", got, want)
	}
	if !strings.Contains(logs.String(), "the rotation is not advanced this run") || !strings.Contains(logs.String(), "the rotation is broken") {
		t.Errorf("logs = %s; want the failed read and the broken rotation logged", logs.String())
	}
}
