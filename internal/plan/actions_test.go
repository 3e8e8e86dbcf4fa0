package plan_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/state"
)

func enforcing() *config.Config {
	cfg := config.Default()
	cfg.Enforce.AllowedAccounts = []string{acct}
	return cfg
}

func applying(cfg *config.Config, fs []policy.Finding, active int, mut ...func(*plan.Input)) *plan.Plan {
	in := plan.Input{Config: cfg, AsOf: asOf, Accounts: okAccounts(acct), Findings: fs, Mode: plan.ModeApply, Apply: true,
		ActiveKeys: map[string]int{acct: active}}
	for _, m := range mut {
		m(&in)
	}
	return plan.Build(in)
}

func statuses(p *plan.Plan) []string {
	var out []string
	for _, a := range p.Actions {
		out = append(out, fmt.Sprintf("%s %s %s", a.KeyID, a.Kind, a.Status))
	}
	return out
}

// TestBuildOneActionPerCredential: a key that reaches both a disable stage
// (age) and a disable (unused) rule gets one action, the strongest.
func TestBuildOneActionPerCredential(t *testing.T) {
	old := keyFinding("alice", 1, 95, "a@example.com") // delete
	unused := keyFinding("alice", 1, 95, "a@example.com")
	unused.ID, unused.Rule, unused.StageAt, unused.Action = "alice-1-unused", config.RuleAccessKeyUnused, 45, config.ActionDisable
	p := applying(enforcing(), []policy.Finding{unused, old}, 10)
	if got, want := statuses(p), []string{"AKIAALICE1 delete planned"}; !cmp.Equal(got, want) {
		t.Errorf("actions = %v; want %v", got, want)
	}
}

func TestBuildNeverActsOnItsOwnKeyOrRoot(t *testing.T) {
	root := keyFinding("<root_account>", 1, 400)
	root.Credential, root.Rule, root.Action = policy.CredentialRoot, config.RuleRootAccessKey, config.ActionDelete
	p := applying(enforcing(), []policy.Finding{keyFinding("bot", 1, 85, "b@example.com"), keyFinding("alice", 1, 85, "a@example.com"), root}, 10,
		func(in *plan.Input) { in.Self = map[string][]string{acct: {"AKIABOT1"}} })
	want := []string{"AKIAALICE1 disable planned", "AKIABOT1 disable skipped"}
	if got := statuses(p); !cmp.Equal(got, want) {
		t.Fatalf("actions = %v; want %v (root never)", got, want)
	}
	if r := p.Actions[1].Reason; r != plan.ReasonSelf {
		t.Errorf("own key's reason = %q; want %q", r, plan.ReasonSelf)
	}
}

// TestBuildNeverActsOnUnknownAge: a key whose creation date is missing or
// in the future is told about (notify, high) and never acted on, even by
// a finding that claims a disable action.
func TestBuildNeverActsOnUnknownAge(t *testing.T) {
	unknown := keyFinding("alice", 1, 0, "a@example.com")
	unknown.Rule, unknown.StageAt, unknown.Action, unknown.Severity, unknown.NextStageOn = config.RuleAccessKeyUnknownAge, 0, config.ActionNotify, config.SeverityHigh, nil
	forged := unknown
	forged.ID, forged.Slot, forged.KeyID, forged.Action = "alice-2", 2, "AKIAALICE2", config.ActionDisable
	p := applying(enforcing(), []policy.Finding{unknown, forged}, 10)
	if got := statuses(p); got != nil {
		t.Errorf("actions = %v; want none", got)
	}
	if len(p.Messages) != 1 || len(p.Messages[0].Items) != 2 {
		t.Fatalf("messages = %+v; want alice told of both keys", p.Messages)
	}
	want := "Its creation date is missing or in the future, so its age is unknown and keywarden will not act on it; check the key and rotate it."
	if it := p.Messages[0].Items[0]; it.Next != want {
		t.Errorf("Next = %q; want %q", it.Next, want)
	}
}

// TestBuildGuards: over max_actions_per_run, or over max_fraction of the
// account's active keys, nothing in the account is changed, with these
// exact messages; at the limit everything goes ahead.
func TestBuildGuards(t *testing.T) {
	var fs []policy.Finding
	for i := range 5 {
		fs = append(fs, keyFinding(fmt.Sprintf("u%d", i), 1, 85, "u@example.com"))
	}
	inactive := keyFinding("old", 1, 95, "o@example.com")
	inactive.KeyActive = false
	tests := []struct {
		name      string
		maxAct    int
		maxFrac   float64
		active    int
		findings  []policy.Finding
		wantGuard string
	}{
		{"at both limits", 5, 0.5, 10, fs, ""},
		{"over max_actions_per_run", 4, 1, 10, fs,
			"account 123456789012: 5 actions planned, more than enforce.max_actions_per_run (4): nothing is changed in this account; " +
				"check the plan with keywarden run --apply --dry-run, then raise the limit if it is right"},
		{"over max_fraction", 0, 0.2, 10, fs,
			"account 123456789012: 5 of its 10 active access keys (50%) would be disabled or deleted, more than enforce.max_fraction (20%): " +
				"nothing is changed in this account; check the plan with keywarden run --apply --dry-run, then raise the limit if it is right"},
		{"inactive keys do not count toward max_fraction", 0, 0.2, 5, []policy.Finding{fs[0], inactive}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := enforcing()
			cfg.Enforce.MaxActionsPerRun, cfg.Enforce.MaxFraction = tt.maxAct, tt.maxFrac
			p := applying(cfg, tt.findings, tt.active)
			want := plan.ActionPlanned
			var guards []plan.Guard
			if tt.wantGuard != "" {
				want, guards = plan.ActionBlocked, []plan.Guard{{Account: acct, Reason: tt.wantGuard}}
			}
			for _, a := range p.Actions {
				if a.Status != want || (tt.wantGuard != "" && a.Reason != tt.wantGuard) {
					t.Errorf("%s: status %s, reason %q; want %s", a.KeyID, a.Status, a.Reason, want)
				}
			}
			if diff := cmp.Diff(guards, nilIfEmpty(p.Guards)); diff != "" {
				t.Errorf("Guards (-want +got):\n%s", diff)
			}
			if tt.wantGuard == "" {
				return
			}
			// The admins are told once per remind_every days, through the digest.
			d := p.Digests[0]
			if !hasNotice(d.Notices, plan.GuardFinding(acct)) {
				t.Errorf("digest notices %v; want the guard notice %s", d.Notices, plan.GuardFinding(acct))
			}
			told := state.Notice{NoticeKey: state.NoticeKey{Finding: plan.GuardFinding(acct), Audience: plan.DigestAudience(plan.TargetOutbox)},
				Account: acct, Rule: plan.GuardRule, LastDay: "2026-11-22"}
			p = applying(cfg, tt.findings, tt.active, func(in *plan.Input) { in.Notices = []state.Notice{told} })
			for _, d := range p.Digests {
				if hasNotice(d.Notices, plan.GuardFinding(acct)) {
					t.Errorf("guard told yesterday is due again today: %v", d.Notices)
				}
			}
		})
	}
}

// TestGuardNoticeIsResolved: once the guard no longer trips, its notice
// is closed.
func TestGuardNoticeIsResolved(t *testing.T) {
	told := state.Notice{NoticeKey: state.NoticeKey{Finding: plan.GuardFinding(acct), Audience: plan.DigestAudience(plan.TargetOutbox)},
		Account: acct, Rule: plan.GuardRule, LastDay: "2026-11-20"}
	p := applying(enforcing(), []policy.Finding{keyFinding("alice", 1, 85, "a@example.com")}, 10,
		func(in *plan.Input) { in.Notices = []state.Notice{told} })
	if !cmp.Equal(p.Resolve, []string{plan.GuardFinding(acct)}) {
		t.Errorf("Resolve = %v; want the guard notice closed", p.Resolve)
	}
}

func TestBuildActionWindow(t *testing.T) {
	cfg := enforcing()
	cfg.Enforce.Window = &config.Window{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "09:00", End: "17:00", Timezone: "Europe/Berlin"}
	fs := []policy.Finding{keyFinding("alice", 1, 85, "a@example.com")}
	for _, tt := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), plan.ActionPlanned},  // Monday 10:00 in Berlin
		{time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC), plan.ActionWaiting}, // Monday 17:00 in Berlin
		{time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC), plan.ActionWaiting}, // Sunday
	} {
		p := applying(cfg, fs, 10, func(in *plan.Input) { in.AsOf = tt.at })
		a := p.Actions[0]
		if a.Status != tt.want {
			t.Errorf("at %s: status %s; want %s", tt.at, a.Status, tt.want)
		}
		if want := "outside the action window (mon,tue,wed,thu,fri 09:00-17:00 Europe/Berlin); the first run inside it acts"; tt.want == plan.ActionWaiting && a.Reason != want {
			t.Errorf("at %s: reason %q; want %q", tt.at, a.Reason, want)
		}
	}
}

// TestBuildActionWindowAtActAt: the window is checked when the run acts
// (ActAt: the wall clock), not at the as-of time, which a caller chooses.
func TestBuildActionWindowAtActAt(t *testing.T) {
	cfg := enforcing()
	cfg.Enforce.Window = &config.Window{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "09:00", End: "17:00", Timezone: "Europe/Berlin"}
	fs := []policy.Finding{keyFinding("alice", 1, 85, "a@example.com")}
	monday, sunday := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		asOf, actAt time.Time
		want        string
	}{
		{monday, sunday, plan.ActionWaiting}, // an as-of inside the window does not open it
		{sunday, monday, plan.ActionPlanned},
	} {
		p := applying(cfg, fs, 10, func(in *plan.Input) { in.AsOf, in.ActAt = tt.asOf, tt.actAt })
		if a := p.Actions[0]; a.Status != tt.want {
			t.Errorf("as of %s, acting at %s: status %s; want %s", tt.asOf, tt.actAt, a.Status, tt.want)
		}
	}
}

// TestBuildClockGuard: an account whose own data contradicts the run's
// clock is left unchanged as by a guard — every planned action blocked
// with the reason, the admins told — and other accounts are not.
func TestBuildClockGuard(t *testing.T) {
	const other = "210987654321"
	cfg := enforcing()
	cfg.Enforce.AllowedAccounts = append(cfg.Enforce.AllowedAccounts, other)
	bob := keyFinding("bob", 1, 85, "b@example.com")
	bob.Account = other
	fs := []policy.Finding{keyFinding("alice", 1, 85, "a@example.com"), keyFinding("alice", 2, 95, "a@example.com"), bob}
	why := "account 123456789012: its own data contradicts the run's clock: the credential report was generated at 2026-12-02T09:00:00Z, " +
		"30 days after the run's as-of time (2026-11-02T10:00:00Z); nothing is changed in this account; check --as-of and this machine's clock"
	p := applying(cfg, fs, 10, func(in *plan.Input) {
		in.Accounts = okAccounts(acct, other)
		in.ActiveKeys[other] = 10
		in.ClockProblems = map[string]string{acct: why}
	})
	for _, a := range p.Actions {
		want, reason := plan.ActionBlocked, why
		if a.Account == other {
			want, reason = plan.ActionPlanned, ""
		}
		if a.Status != want || a.Reason != reason {
			t.Errorf("%s %s: %s %q; want %s %q", a.Account, a.KeyID, a.Status, a.Reason, want, reason)
		}
	}
	if diff := cmp.Diff([]plan.Guard{{Account: acct, Reason: why}}, p.Guards); diff != "" {
		t.Errorf("Guards (-want +got):\n%s", diff)
	}
	if d := p.Digests[0]; !hasNotice(d.Notices, plan.GuardFinding(acct)) {
		t.Errorf("digest notices %v; want the guard notice %s", d.Notices, plan.GuardFinding(acct))
	}
}

// TestBuildExecuted: with remediation's outcomes, the owner is told what
// was done even when the finding itself is not due, each digest lists it,
// a failed action reaches the admins, not the owner.
func TestBuildExecuted(t *testing.T) {
	cfg := enforcing()
	fs := []policy.Finding{keyFinding("alice", 1, 85, "a@example.com"), keyFinding("alice", 2, 95, "a@example.com"),
		keyFinding("bob", 1, 85, "b@example.com")}
	p := applying(cfg, fs, 10)
	executed := append([]plan.Action(nil), p.Actions...)
	executed[0].ID, executed[0].Status, executed[0].Done = "r.1", plan.ActionDone, config.ActionDisable
	executed[1].ID, executed[1].Status, executed[1].Done = "r.2", plan.ActionDone, config.ActionDisable // delete stage: disabled first
	executed[2].ID, executed[2].Status, executed[2].Reason = "r.3", plan.ActionFailed, "AccessDenied"
	// alice's stage-80 and stage-90 notices were told yesterday: not due.
	var notices []state.Notice
	for _, f := range fs[:2] {
		notices = append(notices, state.Notice{NoticeKey: state.NoticeKey{Finding: f.ID, Audience: "a@example.com"},
			Account: acct, Stage: f.StageAt, LastDay: "2026-11-22"})
	}
	p = applying(cfg, fs, 10, func(in *plan.Input) { in.Executed, in.Notices = executed, notices })

	if len(p.Messages) != 2 {
		t.Fatalf("messages to %v; want alice and bob", p.Messages)
	}
	alice := p.Messages[0]
	var next, keys []string
	for _, it := range alice.Items {
		next = append(next, it.Next)
	}
	for _, n := range alice.Notices {
		keys = append(keys, n.Key.Finding)
	}
	wantNext := []string{"It is past the 80-day limit. It was disabled on 2026-11-23 by keywarden (action r.1).",
		"It is past the 90-day limit. It was disabled on 2026-11-23 by keywarden (action r.2). An active key is disabled before it is deleted: " +
			"the first keywarden run from 2026-12-03, after 10 days inactive, deletes it."}
	if diff := cmp.Diff(wantNext, next); diff != "" {
		t.Errorf("alice's items Next (-want +got):\n%s", diff)
	}
	if !cmp.Equal(keys, []string{"action:r.1", "action:r.2"}) {
		t.Errorf("alice's notices = %v; want the two action notices (the findings were told yesterday)", keys)
	}
	if bob := p.Messages[1]; hasNotice(bob.Notices, "action:r.3") {
		t.Errorf("bob's message carries the failed action's notice: %v", bob.Notices)
	}
	d := p.Digests[0]
	for _, id := range []string{"action:r.1", "action:r.2", "action:r.3"} {
		if !hasNotice(d.Notices, id) {
			t.Errorf("digest notices lack %s: %v", id, d.Notices)
		}
	}
	var verbs []string
	for _, a := range d.Actions {
		verbs = append(verbs, a.Verb())
	}
	if want := []string{"disabled", "disabled", "FAILED disable"}; !cmp.Equal(verbs, want) {
		t.Errorf("digest action verbs = %v; want %v", verbs, want)
	}
}

func TestActionVerb(t *testing.T) {
	for _, tt := range []struct {
		a    plan.Action
		want string
	}{
		{plan.Action{Kind: "disable", Status: plan.ActionListed}, "would disable"},
		{plan.Action{Kind: "remove_password", Status: plan.ActionPlanned}, "remove password"},
		{plan.Action{Kind: "delete", Status: plan.ActionDone}, "deleted"},
		{plan.Action{Kind: "delete", Status: plan.ActionDone, Done: "disable"}, "disabled"},
		{plan.Action{Kind: "delete", Status: plan.ActionSkipped}, "skipped delete"},
		{plan.Action{Kind: "disable", Status: plan.ActionBlocked}, "blocked disable"},
		{plan.Action{Kind: "disable", Status: plan.ActionWaiting}, "waiting disable"},
		{plan.Action{Kind: "disable", Status: plan.ActionFailed}, "FAILED disable"},
	} {
		if got := tt.a.Verb(); got != tt.want {
			t.Errorf("%+v.Verb() = %q; want %q", tt.a, got, tt.want)
		}
	}
}

func hasNotice(ns []plan.Notice, finding string) bool {
	for _, n := range ns {
		if n.Key.Finding == finding {
			return true
		}
	}
	return false
}

func nilIfEmpty(g []plan.Guard) []plan.Guard {
	if len(g) == 0 {
		return nil
	}
	return g
}

// TestFixAfterDone: once keywarden disabled or deleted a key, or removed
// a password, the owner is not told to do it again.
func TestFixAfterDone(t *testing.T) {
	pw := policy.Finding{ID: "pw", Account: acct, User: "alice", Credential: policy.CredentialPassword, Rule: config.RulePasswordUnused,
		AgeDays: 120, StageAt: 90, Action: config.ActionRemovePassword, Recipients: []string{"a@example.com"}}
	inactive := keyFinding("alice", 1, 95, "a@example.com")
	inactive.KeyActive = false
	for _, tt := range []struct {
		name string
		f    policy.Finding
		done string
		want []string
	}{
		{"disabled", keyFinding("alice", 1, 85, "a@example.com"), config.ActionDisable, []string{
			"Create a new key: aws iam create-access-key --user-name alice (or in the console: https://123456789012.signin.aws.amazon.com/console, IAM, Users, alice, Security credentials)",
			"Put the new key everywhere the old one is used, and check that it works.",
			"The old key is already inactive. When nothing broke, delete it: aws iam delete-access-key --user-name alice --access-key-id AKIAALICE1",
		}},
		{"deleted", inactive, config.ActionDelete, []string{
			"Create a new key: aws iam create-access-key --user-name alice (or in the console: https://123456789012.signin.aws.amazon.com/console, IAM, Users, alice, Security credentials)",
			"Put the new key everywhere the old one is used, and check that it works.",
		}},
		{"password removed", pw, config.ActionRemovePassword, []string{"If you still need console access, ask an administrator for a new console password."}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := applying(enforcing(), []policy.Finding{tt.f}, 10)
			executed := append([]plan.Action(nil), p.Actions...)
			executed[0].ID, executed[0].Status, executed[0].Done = "r.1", plan.ActionDone, tt.done
			p = applying(enforcing(), []policy.Finding{tt.f}, 10, func(in *plan.Input) { in.Executed = executed })
			if diff := cmp.Diff(tt.want, p.Messages[0].Items[0].Fix); diff != "" {
				t.Errorf("Fix (-want +got):\n%s", diff)
			}
		})
	}
}
