package remediate_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/remediate"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/memstore"
)

const acct = "123456789012"

var asOf = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// fakeKey is one access key in the fake account.
type fakeKey struct {
	user, id string
	created  time.Time
	active   bool
	lastUsed time.Time
}

// fakeIAM is an account's keys and passwords; it records every call.
type fakeIAM struct {
	mu        sync.Mutex
	keys      []*fakeKey
	certs     []*fakeCred          // signing certificates
	svcs      []*fakeCred          // service-specific credentials
	passwords map[string]time.Time // user → password last used (zero: never)
	calls     []string
	fail      map[string]error // operation → error
}

func (f *fakeIAM) call(op string, args ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, strings.TrimSpace(op+" "+strings.Join(args, " ")))
	return f.fail[op]
}

func (f *fakeIAM) key(id string) *fakeKey {
	for _, k := range f.keys {
		if k.id == id {
			return k
		}
	}
	return nil
}

func (f *fakeIAM) ListAccessKeys(_ context.Context, in *iam.ListAccessKeysInput, _ ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	if err := f.call("ListAccessKeys", aws.ToString(in.UserName)); err != nil {
		return nil, err
	}
	out := &iam.ListAccessKeysOutput{}
	for _, k := range f.keys {
		if k.user == aws.ToString(in.UserName) {
			st := types.StatusTypeInactive
			if k.active {
				st = types.StatusTypeActive
			}
			out.AccessKeyMetadata = append(out.AccessKeyMetadata, types.AccessKeyMetadata{UserName: aws.String(k.user),
				AccessKeyId: aws.String(k.id), CreateDate: aws.Time(k.created), Status: st})
		}
	}
	return out, nil
}

func (f *fakeIAM) GetAccessKeyLastUsed(_ context.Context, in *iam.GetAccessKeyLastUsedInput, _ ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error) {
	if err := f.call("GetAccessKeyLastUsed", aws.ToString(in.AccessKeyId)); err != nil {
		return nil, err
	}
	k := f.key(aws.ToString(in.AccessKeyId))
	out := &iam.GetAccessKeyLastUsedOutput{AccessKeyLastUsed: &types.AccessKeyLastUsed{}}
	if k != nil && !k.lastUsed.IsZero() {
		out.AccessKeyLastUsed.LastUsedDate = aws.Time(k.lastUsed)
	}
	return out, nil
}

func (f *fakeIAM) GetUser(_ context.Context, in *iam.GetUserInput, _ ...func(*iam.Options)) (*iam.GetUserOutput, error) {
	if err := f.call("GetUser", aws.ToString(in.UserName)); err != nil {
		return nil, err
	}
	u := &types.User{UserName: in.UserName}
	if t := f.passwords[aws.ToString(in.UserName)]; !t.IsZero() {
		u.PasswordLastUsed = aws.Time(t)
	}
	return &iam.GetUserOutput{User: u}, nil
}

func (f *fakeIAM) GetLoginProfile(_ context.Context, in *iam.GetLoginProfileInput, _ ...func(*iam.Options)) (*iam.GetLoginProfileOutput, error) {
	if err := f.call("GetLoginProfile", aws.ToString(in.UserName)); err != nil {
		return nil, err
	}
	if _, ok := f.passwords[aws.ToString(in.UserName)]; !ok {
		return nil, &types.NoSuchEntityException{Message: aws.String("no login profile")}
	}
	return &iam.GetLoginProfileOutput{LoginProfile: &types.LoginProfile{UserName: in.UserName}}, nil
}

func (f *fakeIAM) UpdateAccessKey(_ context.Context, in *iam.UpdateAccessKeyInput, _ ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error) {
	if err := f.call("UpdateAccessKey", aws.ToString(in.AccessKeyId), string(in.Status)); err != nil {
		return nil, err
	}
	f.key(aws.ToString(in.AccessKeyId)).active = in.Status == types.StatusTypeActive
	return &iam.UpdateAccessKeyOutput{}, nil
}

func (f *fakeIAM) DeleteAccessKey(_ context.Context, in *iam.DeleteAccessKeyInput, _ ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error) {
	if err := f.call("DeleteAccessKey", aws.ToString(in.AccessKeyId)); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, k := range f.keys {
		if k.id == aws.ToString(in.AccessKeyId) {
			f.keys = append(f.keys[:i], f.keys[i+1:]...)
			break
		}
	}
	return &iam.DeleteAccessKeyOutput{}, nil
}

func (f *fakeIAM) DeleteLoginProfile(_ context.Context, in *iam.DeleteLoginProfileInput, _ ...func(*iam.Options)) (*iam.DeleteLoginProfileOutput, error) {
	if err := f.call("DeleteLoginProfile", aws.ToString(in.UserName)); err != nil {
		return nil, err
	}
	delete(f.passwords, aws.ToString(in.UserName))
	return &iam.DeleteLoginProfileOutput{}, nil
}

// writes lists the recorded write calls.
func (f *fakeIAM) writes() []string {
	var out []string
	for _, c := range f.calls {
		if strings.HasPrefix(c, "Update") || strings.HasPrefix(c, "Delete") {
			out = append(out, c)
		}
	}
	return out
}

func daysAgo(n int) time.Time { return asOf.AddDate(0, 0, -n).Truncate(time.Second) }

func keyAction(kind, user, keyID string, created time.Time, active bool) plan.Action {
	stage := map[string]int{config.ActionDisable: 80, config.ActionDelete: 90}[kind]
	return plan.Action{Kind: kind, FindingID: "f-" + keyID, Account: acct, User: user, Credential: policy.CredentialAccessKey,
		KeyID: keyID, Slot: 1, KeyActive: active, KeyCreated: created, Rule: config.RuleAccessKeyAge, StageAt: stage,
		Title: "access key " + keyID, Status: plan.ActionPlanned}
}

func executor(f *fakeIAM, store state.Store) *remediate.Executor {
	return &remediate.Executor{
		Clients: func(_ context.Context, account string) (remediate.IAM, error) {
			if account != acct {
				return nil, fmt.Errorf("no client for %s", account)
			}
			return f, nil
		},
		Audit: store, RunID: "run-1", AsOf: asOf, Grace: 10,
	}
}

func outcome(a plan.Action) string {
	return fmt.Sprintf("%s %s %s→%s: %s", a.KeyID, a.Status, a.Before, a.After, a.Reason)
}

func TestExecute(t *testing.T) {
	tests := []struct {
		name       string
		keys       []*fakeKey
		inactive   string // the store's inactive day for AKIA1, if any
		action     plan.Action
		want       string
		wantWrites []string
		wantSince  string
	}{
		{"disable an active key", []*fakeKey{{user: "alice", id: "AKIA1", created: daysAgo(85), active: true}}, "",
			keyAction("disable", "alice", "AKIA1", daysAgo(85), true),
			"AKIA1 done Active→Inactive: disabled: the key reached its 80-day disable stage",
			[]string{"UpdateAccessKey AKIA1 Inactive"}, "2026-11-23"},
		{"already inactive", []*fakeKey{{user: "alice", id: "AKIA1", created: daysAgo(85)}}, "",
			keyAction("disable", "alice", "AKIA1", daysAgo(85), true),
			"AKIA1 skipped Inactive→Inactive: the key is already inactive; nothing was changed", nil, ""},
		{"key gone", nil, "", keyAction("disable", "alice", "AKIA1", daysAgo(85), true),
			"AKIA1 skipped not found→not found: the key no longer exists (rotated or deleted since the credential report); nothing was changed", nil, ""},
		{"rotated: another creation time", []*fakeKey{{user: "alice", id: "AKIA1", created: daysAgo(2), active: true}}, "",
			keyAction("disable", "alice", "AKIA1", daysAgo(85), true),
			"AKIA1 skipped Active→Active: the key was created 2026-11-21T09:00:00Z, not 2026-08-30T09:00:00Z as in the credential report: it was rotated since; nothing was changed",
			nil, ""},
		{"delete stage, active: disabled first", []*fakeKey{{user: "alice", id: "AKIA1", created: daysAgo(95), active: true}}, "",
			keyAction("delete", "alice", "AKIA1", daysAgo(95), true),
			"AKIA1 done Active→Inactive: disabled: the key reached its 90-day delete stage while active, so it is disabled first and deleted once inactive for 10 days (on 2026-12-03)",
			[]string{"UpdateAccessKey AKIA1 Inactive"}, "2026-11-23"},
		{"delete stage, inactive, first seen today: waits", []*fakeKey{{user: "alice", id: "AKIA1", created: daysAgo(95)}}, "",
			keyAction("delete", "alice", "AKIA1", daysAgo(95), false),
			"AKIA1 skipped Inactive→Inactive: inactive since 2026-11-23 (0 of the 10 days of enforce.grace_after_disable): it will be deleted on 2026-12-03",
			nil, "2026-11-23"},
		{"delete stage, inside the grace period", []*fakeKey{{user: "alice", id: "AKIA1", created: daysAgo(95)}}, "2026-11-14",
			keyAction("delete", "alice", "AKIA1", daysAgo(95), false),
			"AKIA1 skipped Inactive→Inactive: inactive since 2026-11-14 (9 of the 10 days of enforce.grace_after_disable): it will be deleted on 2026-11-24",
			nil, "2026-11-14"},
		{"delete stage, grace over", []*fakeKey{{user: "alice", id: "AKIA1", created: daysAgo(95)}}, "2026-11-13",
			keyAction("delete", "alice", "AKIA1", daysAgo(95), false),
			"AKIA1 done Inactive→deleted: deleted: inactive since 2026-11-13, past the 10 days of enforce.grace_after_disable",
			[]string{"DeleteAccessKey AKIA1"}, ""},
		{"unused key used since the report", []*fakeKey{{user: "alice", id: "AKIA1", created: daysAgo(200), active: true, lastUsed: daysAgo(1)}}, "",
			func() plan.Action {
				a := keyAction("disable", "alice", "AKIA1", daysAgo(200), true)
				a.Rule, a.StageAt = config.RuleAccessKeyUnused, 45
				return a
			}(),
			"AKIA1 skipped Active→Active: the key was used on 2026-11-22T09:00:00Z, since the credential report: it is no longer unused for 45 days; nothing was changed",
			nil, ""},
		{"unused key still unused", []*fakeKey{{user: "alice", id: "AKIA1", created: daysAgo(200), active: true, lastUsed: daysAgo(60)}}, "",
			func() plan.Action {
				a := keyAction("disable", "alice", "AKIA1", daysAgo(200), true)
				a.Rule, a.StageAt = config.RuleAccessKeyUnused, 45
				return a
			}(),
			"AKIA1 done Active→Inactive: disabled: the key reached its 45-day disable stage",
			[]string{"UpdateAccessKey AKIA1 Inactive"}, "2026-11-23"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			executeOne(t, &fakeIAM{keys: tt.keys}, state.KeyRef{Account: acct, User: "alice", KeyID: "AKIA1"}, tt.inactive, tt.action,
				tt.want, tt.wantWrites, tt.wantSince)
		})
	}
}

// executeOne carries out action against f with a new store in which ref
// is inactive since inactive ("": not known), and checks the outcome, the
// IAM writes, the inactive-since day after, and the one record written.
func executeOne(t *testing.T, f *fakeIAM, ref state.KeyRef, inactive string, action plan.Action, want string, wantWrites []string, wantSince string) {
	t.Helper()
	store := memstore.New()
	if inactive != "" {
		if err := store.RecordInactive(context.Background(), ref, inactive, true); err != nil {
			t.Fatal(err)
		}
	}
	got := executor(f, store).Execute(context.Background(), []plan.Action{action})
	if s := outcome(got[0]); s != want {
		t.Errorf("Execute() =\n  %s\nwant\n  %s", s, want)
	}
	if diff := cmp.Diff(wantWrites, f.writes()); diff != "" {
		t.Errorf("IAM writes (-want +got):\n%s", diff)
	}
	if since, _ := store.InactiveSince(context.Background(), ref); since != wantSince {
		t.Errorf("inactive since = %q; want %q", since, wantSince)
	}
	recs, _ := store.Actions(context.Background(), state.ActionFilter{})
	if len(recs) != 1 || recs[0].ID != "run-1.1" || string(recs[0].Status) != got[0].Status || recs[0].Reason != got[0].Reason ||
		recs[0].Before != got[0].Before || recs[0].After != got[0].After || recs[0].Credential != action.Credential {
		t.Errorf("recorded %+v; want one record run-1.1 matching %s", recs, outcome(got[0]))
	}
	if got[0].Status == plan.ActionDone && recs[0].Kind != got[0].Done {
		t.Errorf("recorded kind %q; want what was done, %q", recs[0].Kind, got[0].Done)
	}
}

// TestExecuteReChecksBeforeEachWrite: the key is re-read under the lock,
// right before it is changed, with ListAccessKeys and GetAccessKeyLastUsed.
func TestExecuteReChecksBeforeEachWrite(t *testing.T) {
	f := &fakeIAM{keys: []*fakeKey{{user: "alice", id: "AKIA1", created: daysAgo(85), active: true},
		{user: "bob", id: "AKIA2", created: daysAgo(85), active: true}}}
	executor(f, memstore.New()).Execute(context.Background(), []plan.Action{
		keyAction("disable", "alice", "AKIA1", daysAgo(85), true), keyAction("disable", "bob", "AKIA2", daysAgo(85), true)})
	want := []string{"ListAccessKeys alice", "GetAccessKeyLastUsed AKIA1", "UpdateAccessKey AKIA1 Inactive",
		"ListAccessKeys bob", "GetAccessKeyLastUsed AKIA2", "UpdateAccessKey AKIA2 Inactive"}
	if diff := cmp.Diff(want, f.calls); diff != "" {
		t.Errorf("IAM calls (-want +got):\n%s", diff)
	}
}

func TestExecuteRecordsDecisionsAndLeavesListed(t *testing.T) {
	f := &fakeIAM{}
	store := memstore.New()
	blocked := keyAction("disable", "alice", "AKIA1", daysAgo(85), true)
	blocked.Status, blocked.Reason = plan.ActionBlocked, "account 123456789012: 30 actions planned, more than …"
	self := keyAction("disable", "bot", "AKIA2", daysAgo(85), true)
	self.Status, self.Reason = plan.ActionSkipped, plan.ReasonSelf
	listed := keyAction("disable", "carol", "AKIA3", daysAgo(85), true)
	listed.Status, listed.Reason = plan.ActionListed, plan.ReasonNotApplying
	waiting := keyAction("disable", "dave", "AKIA4", daysAgo(85), true)
	waiting.Status = plan.ActionWaiting
	noID := keyAction("disable", "erin", "", daysAgo(85), true)

	got := executor(f, store).Execute(context.Background(), []plan.Action{blocked, self, listed, waiting, noID})
	var summary []string
	for _, a := range got {
		summary = append(summary, a.ID+" "+a.Status)
	}
	want := []string{"run-1.1 blocked", "run-1.2 skipped", " listed", " waiting", "run-1.3 skipped"}
	if diff := cmp.Diff(want, summary); diff != "" {
		t.Errorf("Execute() statuses (-want +got):\n%s", diff)
	}
	recs, _ := store.Actions(context.Background(), state.ActionFilter{})
	if len(recs) != 3 {
		t.Errorf("recorded %d actions; want 3 (blocked, own key, unknown key ID)", len(recs))
	}
	for _, r := range recs {
		if r.Status != state.ActionSkipped {
			t.Errorf("record %s: %s; want skipped", r.ID, r.Status)
		}
	}
	if len(f.calls) != 0 {
		t.Errorf("IAM calls %v; want none", f.calls)
	}
	if got[4].Reason != "the access key's ID is not known (it could not be matched to the credential report); nothing was changed" {
		t.Errorf("no key ID: reason %q", got[4].Reason)
	}
}

func TestRemovePassword(t *testing.T) {
	pw := func() plan.Action {
		return plan.Action{Kind: config.ActionRemovePassword, FindingID: "f-pw", Account: acct, User: "carol",
			Credential: policy.CredentialPassword, Rule: config.RulePasswordUnused, StageAt: 90, Status: plan.ActionPlanned}
	}
	for _, tt := range []struct {
		name      string
		passwords map[string]time.Time
		want      string
		writes    []string
	}{
		{"unused", map[string]time.Time{"carol": daysAgo(120)}, "done password→no password: console password removed: not used for 90 days or more",
			[]string{"DeleteLoginProfile carol"}},
		{"never used", map[string]time.Time{"carol": {}}, "done password→no password: console password removed: not used for 90 days or more",
			[]string{"DeleteLoginProfile carol"}},
		{"used since the report", map[string]time.Time{"carol": daysAgo(3)},
			"skipped password→password: the password was used on 2026-11-20T09:00:00Z, since the credential report; nothing was changed", nil},
		{"already removed", map[string]time.Time{}, "skipped no password→no password: the user has no console password any more; nothing was changed", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeIAM{passwords: tt.passwords}
			got := executor(f, memstore.New()).Execute(context.Background(), []plan.Action{pw()})
			if s := fmt.Sprintf("%s %s→%s: %s", got[0].Status, got[0].Before, got[0].After, got[0].Reason); s != tt.want {
				t.Errorf("got  %s\nwant %s", s, tt.want)
			}
			if diff := cmp.Diff(tt.writes, f.writes()); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExecuteFailureIsRecorded(t *testing.T) {
	denied := errors.New("AccessDenied: not authorized to perform iam:UpdateAccessKey")
	f := &fakeIAM{keys: []*fakeKey{{user: "alice", id: "AKIA1", created: daysAgo(85), active: true}},
		fail: map[string]error{"UpdateAccessKey": denied}}
	store := memstore.New()
	got := executor(f, store).Execute(context.Background(), []plan.Action{keyAction("disable", "alice", "AKIA1", daysAgo(85), true)})
	if got[0].Status != plan.ActionFailed || !strings.Contains(got[0].Reason, "disable access key AKIA1 of alice in account 123456789012: AccessDenied") {
		t.Errorf("Execute() = %s; want failed with the account, user, key and AWS error", outcome(got[0]))
	}
	recs, _ := store.Actions(context.Background(), state.ActionFilter{})
	if len(recs) != 1 || recs[0].Status != state.ActionFailed {
		t.Errorf("recorded %+v; want one failed record (the key is free for the next run)", recs)
	}
}

// TestInFlightActionIsSkipped: a planned record of another run on the same
// key (a run acting now) makes this run skip the key.
func TestInFlightActionIsSkipped(t *testing.T) {
	f := &fakeIAM{keys: []*fakeKey{{user: "alice", id: "AKIA1", created: daysAgo(85), active: true}}}
	store := memstore.New()
	other := state.Action{ID: "run-0.1", Run: "run-0", Account: acct, User: "alice", Credential: "access_key", KeyID: "AKIA1",
		Kind: "disable", Status: state.ActionPlanned, Before: state.KeyActive, At: asOf.Add(-time.Minute)}
	if err := store.RecordAction(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	got := executor(f, store).Execute(context.Background(), []plan.Action{keyAction("disable", "alice", "AKIA1", daysAgo(85), true)})
	if got[0].Status != plan.ActionSkipped || !strings.Contains(got[0].Reason, "another keywarden run is acting on this credential now") {
		t.Errorf("Execute() = %s; want skipped: another run holds the key", outcome(got[0]))
	}
	if len(f.calls) != 0 {
		t.Errorf("IAM calls %v; want none while another run holds the key", f.calls)
	}
}

func TestReconcile(t *testing.T) {
	f := &fakeIAM{keys: []*fakeKey{
		{user: "alice", id: "AKIA1", created: daysAgo(85)},               // disabled by the killed run
		{user: "bob", id: "AKIA2", created: daysAgo(85), active: true},   // not yet, and the run is long dead
		{user: "carol", id: "AKIA3", created: daysAgo(85), active: true}, // not yet, and the run may be alive
		{user: "dave", id: "AKIA4", created: daysAgo(95)},                // delete stage of an active key: disabled first
	}}
	store := memstore.New()
	old, recent, yesterday := asOf.Add(-2*time.Hour), asOf.Add(-5*time.Minute), asOf.Add(-26*time.Hour)
	for _, r := range []state.Action{
		{ID: "run-0.1", Run: "run-0", Account: acct, User: "alice", Credential: "access_key", KeyID: "AKIA1", Kind: "disable", Before: "Active", At: recent},
		{ID: "run-0.2", Run: "run-0", Account: acct, User: "bob", Credential: "access_key", KeyID: "AKIA2", Kind: "disable", Before: "Active", At: old},
		{ID: "run-0.3", Run: "run-0", Account: acct, User: "carol", Credential: "access_key", KeyID: "AKIA3", Kind: "disable", Before: "Active", At: recent},
		{ID: "run-0.4", Run: "run-0", Account: acct, User: "dave", Credential: "access_key", KeyID: "AKIA4", Kind: "delete", Before: "Active", At: yesterday},
	} {
		r.Status = state.ActionPlanned
		if err := store.RecordAction(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := executor(f, store).Reconcile(context.Background(), []string{acct}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var summary []string
	for _, a := range got {
		summary = append(summary, a.ID+" "+a.Status+" "+a.Done+" on="+a.On)
	}
	// A done action was made on the day its run recorded it.
	if want := []string{"run-0.1 done disable on=2026-11-23", "run-0.2 failed  on=", "run-0.4 done disable on=2026-11-22"}; !cmp.Equal(summary, want) {
		t.Errorf("Reconcile() = %v; want %v (run-0.3 is left to its run)", summary, want)
	}
	recs, _ := store.Actions(context.Background(), state.ActionFilter{IDs: []string{"run-0.3"}})
	if recs[0].Status != state.ActionPlanned {
		t.Errorf("run-0.3 = %s; want still planned", recs[0].Status)
	}
	if len(f.writes()) != 0 {
		t.Errorf("Reconcile wrote to IAM: %v", f.writes())
	}
	if since, _ := store.InactiveSince(context.Background(), state.KeyRef{Account: acct, KeyID: "AKIA1"}); since != "2026-11-23" {
		t.Errorf("AKIA1 inactive since %q; want the killed run's day", since)
	}
}

func TestUndo(t *testing.T) {
	f := &fakeIAM{keys: []*fakeKey{{user: "alice", id: "AKIA1", created: daysAgo(85)}, {user: "bob", id: "AKIA2", created: daysAgo(85), active: true}}}
	store := memstore.New()
	for _, r := range []state.Action{
		{ID: "r.1", Account: acct, User: "alice", Credential: "access_key", KeyID: "AKIA1", Kind: "disable", Status: state.ActionDone, At: asOf},
		{ID: "r.2", Account: acct, User: "carol", Credential: "access_key", KeyID: "AKIA9", Kind: "delete", Status: state.ActionDone, At: asOf},
		{ID: "r.3", Account: acct, User: "bob", Credential: "access_key", KeyID: "AKIA2", Kind: "disable", Status: state.ActionDone, At: asOf},
		{ID: "r.4", Account: acct, User: "dave", Credential: "password", Kind: "remove_password", Status: state.ActionDone, At: asOf},
		{ID: "r.5", Account: acct, User: "erin", Credential: "access_key", KeyID: "AKIA5", Kind: "disable", Status: state.ActionSkipped, At: asOf},
	} {
		if err := store.RecordAction(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	_ = store.RecordInactive(context.Background(), state.KeyRef{Account: acct, User: "alice", KeyID: "AKIA1"}, "2026-11-20", true)
	e := executor(f, store)
	e.RunID = "undo-1"
	got, err := e.Undo(context.Background(), []string{"r.1", "r.2", "r.3", "r.4", "r.5", "r.404"})
	var summary []string
	for _, u := range got {
		summary = append(summary, fmt.Sprintf("%s undo of %s: %s %s→%s", u.ID, u.UndoOf, u.Status, u.Before, u.After))
	}
	want := []string{"undo-1.1 undo of r.1: done Inactive→Active", "undo-1.2 undo of r.3: skipped Active→Active"}
	if diff := cmp.Diff(want, summary); diff != "" {
		t.Errorf("Undo() (-want +got):\n%s", diff)
	}
	for _, msg := range []string{
		"action r.2: cannot be undone: it deleted access key AKIA9 of carol, and a deleted key cannot be restored; the owner creates a new key (aws iam create-access-key --user-name carol)",
		"action r.4: cannot be undone: it removed the console password of dave, which cannot be restored; set a new one (aws iam create-login-profile --user-name dave --password-reset-required)",
		"action r.5: cannot be undone: it was not done (status skipped)",
		"action r.404: no such action in the state (see keywarden history)",
	} {
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("Undo() error = %v; want it to say %q", err, msg)
		}
	}
	if !errors.Is(err, remediate.ErrCannotUndo) {
		t.Errorf("Undo() error does not wrap ErrCannotUndo")
	}
	if diff := cmp.Diff([]string{"UpdateAccessKey AKIA1 Active"}, f.writes()); diff != "" {
		t.Errorf("IAM writes (-want +got):\n%s", diff)
	}
	if since, _ := store.InactiveSince(context.Background(), state.KeyRef{Account: acct, KeyID: "AKIA1"}); since != "" {
		t.Errorf("re-enabled key still inactive since %q", since)
	}
	if recs, _ := store.Actions(context.Background(), state.ActionFilter{IDs: []string{"undo-1.1"}}); len(recs) != 1 || recs[0].Kind != state.KindEnable || recs[0].UndoOf != "r.1" {
		t.Errorf("undo record = %+v; want an enable of r.1", recs)
	}
}
