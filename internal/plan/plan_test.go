package plan_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/state"
)

var asOf = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

const acct = "123456789012"

func date(s string) *config.Date {
	d, err := config.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return &d
}

// keyFinding is an access_key_age finding of user's key slot at age days.
func keyFinding(user string, slot, age int, to ...string) policy.Finding {
	f := policy.Finding{ID: fmt.Sprintf("%s-%d", user, slot), Account: acct, User: user, Class: "human",
		Credential: policy.CredentialAccessKey, KeyID: fmt.Sprintf("AKIA%s%d", strings.ToUpper(user), slot), Slot: slot,
		Rule: config.RuleAccessKeyAge, AgeDays: age, Severity: config.SeverityMedium, Recipients: to, KeyActive: true,
		Reason: fmt.Sprintf("access key %d is %d days old", slot, age)}
	switch {
	case age >= 90:
		f.StageAt, f.Action = 90, config.ActionDelete
	case age >= 80:
		f.StageAt, f.Action = 80, config.ActionDisable
		f.NextStageOn = date(asOf.AddDate(0, 0, 90-age).Format(config.DateLayout))
	default:
		f.StageAt, f.Action = 70, config.ActionNotify
		f.NextStageOn = date(asOf.AddDate(0, 0, 80-age).Format(config.DateLayout))
	}
	if to == nil {
		f.Recipients = []string{}
	}
	return f
}

func okAccounts(ids ...string) []report.Account {
	var out []report.Account
	for _, id := range ids {
		out = append(out, report.Account{ID: id, Status: report.StatusOK})
	}
	return out
}

func build(cfg *config.Config, fs []policy.Finding, notices ...state.Notice) *plan.Plan {
	if cfg == nil {
		cfg = config.Default()
	}
	return plan.Build(plan.Input{Config: cfg, AsOf: asOf, Accounts: okAccounts(acct), Findings: fs, Notices: notices, Mode: plan.ModeNotify})
}

func TestBuildOneMessagePerRecipient(t *testing.T) {
	exempt := keyFinding("carol", 1, 95, "carol@example.com")
	exempt.Exempt, exempt.ExemptReason = true, "vendor"
	other := keyFinding("dave", 1, 75, "dave@example.com")
	other.Account = "999999999999" // not scanned: not planned
	p := build(nil, []policy.Finding{
		keyFinding("bob", 1, 72, "bob@example.com"),
		keyFinding("alice", 2, 85, "alice@example.com"),
		keyFinding("alice", 1, 75, "alice@example.com"),
		exempt,
		other,
	})
	var got []string
	for _, m := range p.Messages {
		var keys []string
		for _, it := range m.Items {
			keys = append(keys, it.KeyID+":"+string(it.Status))
		}
		got = append(got, m.To+" "+strings.Join(keys, ","))
	}
	want := []string{
		"alice@example.com AKIAALICE1:new,AKIAALICE2:new",
		"bob@example.com AKIABOB1:new",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Build() messages (-want +got):\n%s", diff)
	}
	if p.Findings != 3 || p.Exempt != 1 {
		t.Errorf("Build() counts %d findings, %d exempt; want 3, 1 (the other account's finding is not planned)", p.Findings, p.Exempt)
	}
	if n := len(p.Messages[0].Notices); n != 2 {
		t.Errorf("alice's message has %d notices; want 2", n)
	}
}

func TestBuildFailedAccountIsNotPlanned(t *testing.T) {
	cfg := config.Default()
	p := plan.Build(plan.Input{Config: cfg, AsOf: asOf, Mode: plan.ModeNotify,
		Accounts: []report.Account{{ID: acct, Status: report.StatusError, Error: "AccessDenied"}},
		Findings: []policy.Finding{keyFinding("alice", 1, 85, "alice@example.com")},
		Notices:  []state.Notice{{NoticeKey: state.NoticeKey{Finding: "gone", Audience: "x@example.com"}, Account: acct, Stage: 70, LastDay: "2026-11-01"}},
	})
	if len(p.Messages) != 0 || len(p.Actions) != 0 || len(p.Resolve) != 0 {
		t.Errorf("failed account: %d messages, %d actions, resolve %v; want nothing planned and nothing resolved", len(p.Messages), len(p.Actions), p.Resolve)
	}
	// The admins hear of the failure, as a notice with the usual cadence.
	if len(p.Digests) != 1 || len(p.Digests[0].Notices) != 1 || p.Digests[0].Notices[0].Key.Finding != "account:"+acct ||
		p.Digests[0].Notices[0].Rule != plan.AccountErrorRule || p.Digests[0].Compliant {
		t.Errorf("digests = %+v; want one with the account error notice", p.Digests)
	}
}

func TestBuildCadence(t *testing.T) {
	told := func(id, to string, stage int, last string) state.Notice {
		return state.Notice{NoticeKey: state.NoticeKey{Finding: id, Audience: to}, Account: acct, Stage: stage, FirstDay: last, LastDay: last, Count: 1}
	}
	fs := []policy.Finding{
		keyFinding("alice", 1, 75, "alice@example.com"), // told yesterday: not due
		keyFinding("alice", 2, 85, "alice@example.com"), // told at 70, now at 80: due at once
		keyFinding("bob", 1, 75, "bob@example.com"),     // told 3 days ago: reminder
		keyFinding("carol", 1, 75, "carol@example.com"), // told today: not due
	}
	p := build(nil, fs,
		told("alice-1", "alice@example.com", 70, "2026-11-22"),
		told("alice-2", "alice@example.com", 70, "2026-11-20"),
		told("bob-1", "bob@example.com", 70, "2026-11-20"),
		told("carol-1", "carol@example.com", 70, "2026-11-23"),
		told("gone-1", "dan@example.com", 70, "2026-11-20"), // no longer found
	)
	var got []string
	for _, m := range p.Messages {
		for _, it := range m.Items {
			got = append(got, fmt.Sprintf("%s %s %s last=%s reminder=%v", m.To, it.ID, it.Status, it.LastTold, m.Reminder))
		}
	}
	want := []string{
		"alice@example.com alice-1 not_due last=2026-11-22 reminder=false",
		"alice@example.com alice-2 stage last=2026-11-20 reminder=false",
		"bob@example.com bob-1 reminder last=2026-11-20 reminder=true",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Build() message items (-want +got):\n%s", diff)
	}
	if len(p.Messages[0].Notices) != 1 || p.Messages[0].Notices[0].Key.Finding != "alice-2" || p.Messages[0].Notices[0].Stage != 80 {
		t.Errorf("alice's notices = %+v; want only alice-2 at stage 80 (alice-1 is listed, not re-told)", p.Messages[0].Notices)
	}
	if p.NotDue != 1 {
		t.Errorf("NotDue = %d; want 1 (carol)", p.NotDue)
	}
	if diff := cmp.Diff([]string{"gone-1"}, p.Resolve); diff != "" {
		t.Errorf("Resolve (-want +got):\n%s", diff)
	}
}

func TestBuildUndeliverable(t *testing.T) {
	malformed := keyFinding("badtag", 1, 75)
	malformed.RecipientProblems = []policy.RecipientProblem{{Source: `tag "Email"`, Address: "not an address", Reason: "is not an email address"}}
	foreign := keyFinding("foreign", 1, 75)
	foreign.RecipientProblems = []policy.RecipientProblem{{Source: `tag "Email"`, Address: "eve@evil.test", Reason: "is outside notify.users.allowed_domains (evil.test is not one of example.com)"}}
	none := keyFinding("svc", 1, 75)
	none2 := keyFinding("svc", 2, 85)
	root := policy.Finding{ID: "root-mfa", Account: acct, User: "<root_account>", Credential: policy.CredentialMFA, Rule: config.RuleMFAMissing,
		Action: config.ActionNotify, Recipients: []string{}}
	p := build(nil, []policy.Finding{malformed, foreign, none, none2, root})
	var got []string
	for _, u := range p.Undeliverable {
		got = append(got, fmt.Sprintf("%s (%d): %s", u.User, u.Findings, u.Reason))
	}
	want := []string{
		`badtag (1): not mailed: tag "Email": "not an address" is not an email address`,
		`foreign (1): not mailed: tag "Email": "eve@evil.test" is outside notify.users.allowed_domains (evil.test is not one of example.com)`,
		"svc (2): no address: no tag of Email, email, Owner, owner holds an address and the user name is not an address",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Undeliverable (-want +got):\n%s", diff)
	}
	if len(p.Messages) != 0 {
		t.Errorf("messages = %+v; want none", p.Messages)
	}
	// The admins get them: the digest lists every finding, root's too.
	if len(p.Digests) != 1 || len(p.Digests[0].Findings) != 5 || len(p.Digests[0].Undeliverable) != 3 {
		t.Errorf("digest: %d findings, %d undeliverable; want 5 and 3", len(p.Digests[0].Findings), len(p.Digests[0].Undeliverable))
	}
	if len(p.AddressProblems) != 0 {
		t.Errorf("AddressProblems = %+v; want none (every problem owner is undeliverable)", p.AddressProblems)
	}
}

// TestBuildAddressProblemsOfMailedOwners: an owner mailed at the user name
// whose Email tag is malformed is mailed, and the admins hear about the
// tag (a regression test: such a problem was dropped).
func TestBuildAddressProblemsOfMailedOwners(t *testing.T) {
	f := keyFinding("bob@example.com", 1, 75, "bob@example.com")
	f2 := keyFinding("bob@example.com", 2, 76, "bob@example.com")
	for _, x := range []*policy.Finding{&f, &f2} {
		x.RecipientProblems = []policy.RecipientProblem{{Source: `tag "Email"`, Address: "not an address", Reason: "is not an email address"}}
	}
	p := build(nil, []policy.Finding{f, f2})
	if len(p.Messages) != 1 || p.Messages[0].To != "bob@example.com" {
		t.Fatalf("messages = %+v; want one to bob@example.com", p.Messages)
	}
	want := []plan.Undeliverable{{Account: acct, User: "bob@example.com", Findings: 2, Problems: f.RecipientProblems,
		Reason: `mailed at bob@example.com, but not mailed: tag "Email": "not an address" is not an email address`}}
	if diff := cmp.Diff(want, p.AddressProblems); diff != "" {
		t.Errorf("AddressProblems (-want +got):\n%s", diff)
	}
	if len(p.Undeliverable) != 0 || len(p.Digests[0].AddressProblems) != 1 {
		t.Errorf("undeliverable %v, digest address problems %v; want none and bob's", p.Undeliverable, p.Digests[0].AddressProblems)
	}
}

func TestBuildActions(t *testing.T) {
	fs := []policy.Finding{keyFinding("alice", 1, 75, "a@example.com"), keyFinding("alice", 2, 85, "a@example.com"),
		keyFinding("bob", 1, 95, "b@example.com")}
	allowed := config.Default()
	allowed.Enforce.AllowedAccounts = []string{acct}
	tests := []struct {
		name   string
		cfg    *config.Config
		apply  bool
		status string
		reason string
		next   string // alice-2's Next
	}{
		{"not applying", allowed, false, plan.ActionListed,
			"enforcement is off: run with --apply, or set enforce.mode: apply",
			"It is past the 80-day limit. keywarden did not disable it: enforcement is off (this run only notifies)."},
		{"account not allowed", config.Default(), true, plan.ActionListed,
			"account 123456789012 is not in enforce.allowed_accounts; add it there to allow changes",
			"It is past the 80-day limit. keywarden did not disable it: it may not change credentials in account 123456789012 (enforce.allowed_accounts)."},
		{"enforced", allowed, true, plan.ActionPlanned, "", "It is past the 80-day limit. keywarden is to disable it in this run (2026-11-23)."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plan.Build(plan.Input{Config: tt.cfg, AsOf: asOf, Accounts: okAccounts(acct), Findings: fs, Mode: plan.ModeApply,
				Apply: tt.apply, ActiveKeys: map[string]int{acct: 10}})
			var got []string
			for _, a := range p.Actions {
				got = append(got, fmt.Sprintf("%s %s %s %q", a.Verb(), a.KeyID, a.Status, a.Reason))
			}
			verb := func(v string) string {
				if tt.status == plan.ActionListed {
					return "would " + v
				}
				return v
			}
			want := []string{
				fmt.Sprintf("%s AKIAALICE2 %s %q", verb("disable"), tt.status, tt.reason),
				fmt.Sprintf("%s AKIABOB1 %s %q", verb("delete"), tt.status, tt.reason),
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Build() actions (-want +got):\n%s", diff)
			}
			next := p.Messages[0].Items[1].Next
			if next != tt.next {
				t.Errorf("alice's 85-day key: Next = %q; want %q", next, tt.next)
			}
		})
	}
}

// TestNextIsTruthful: an item says what became of the action on its
// credential — done in the past tense with its day, never a day on which
// a change no run will make "will be" made — and a stage ahead only
// "may" bring a change, where enforcement is on.
func TestNextIsTruthful(t *testing.T) {
	allowed := config.Default()
	allowed.Enforce.AllowedAccounts = []string{acct}
	left, expired := 5, -3
	pwExpiry := policy.Finding{ID: "pw", Account: acct, User: "u", Credential: policy.CredentialPassword, Rule: config.RulePasswordExpiry,
		DaysLeft: &left, StageAt: 76, Action: config.ActionNotify, NextStageOn: date("2026-11-28"), Recipients: []string{"u@example.com"}}
	pwExpired := pwExpiry
	pwExpired.ID, pwExpired.DaysLeft, pwExpired.NextStageOn = "pw2", &expired, nil
	unused := policy.Finding{ID: "un", Account: acct, User: "u", Credential: policy.CredentialAccessKey, KeyID: "AKIAU1", Slot: 1,
		Rule: config.RuleAccessKeyUnused, AgeDays: 50, StageAt: 45, Action: config.ActionDisable, Recipients: []string{"u@example.com"}, KeyActive: true}
	machine := keyFinding("m", 1, 75, "u@example.com")
	machine.Class = "machine"
	tests := []struct {
		name     string
		f        policy.Finding
		enforced string
		off      string
	}{
		{"notify stage before disable", keyFinding("a", 1, 75, "u@example.com"),
			"It reaches the 80-day limit on 2026-11-28; from that day keywarden may disable it, so rotate it before then.",
			"It will be past the 80-day limit on 2026-11-28."},
		{"disable stage", keyFinding("a", 1, 85, "u@example.com"),
			"It is past the 80-day limit. keywarden is to disable it in this run (2026-11-23).",
			"It is past the 80-day limit. keywarden did not disable it: enforcement is off (this run only notifies)."},
		{"delete stage, active key: disabled first", keyFinding("a", 1, 95, "u@example.com"),
			"It is past the 90-day limit. keywarden is to disable it in this run (2026-11-23). An active key is disabled before it is deleted.",
			"It is past the 90-day limit. keywarden did not disable it: enforcement is off (this run only notifies)."},
		{"machine notify stage", machine, "It reaches the 80-day stage on 2026-11-28.", "It reaches the 80-day stage on 2026-11-28."},
		{"unused, disable", unused, "It has not been used for 50 days (limit 45). keywarden is to disable it in this run (2026-11-23).",
			"It has not been used for 50 days (limit 45). keywarden did not disable it: enforcement is off (this run only notifies)."},
		{"password expiring", pwExpiry, "It expires on 2026-11-28, in 5 days; change it before then.", "It expires on 2026-11-28, in 5 days; change it before then."},
		{"password expired", pwExpired, "It expired on 2026-11-20; you will have to change it at your next sign-in.",
			"It expired on 2026-11-20; you will have to change it at your next sign-in."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				apply bool
				mode  plan.Mode
				want  string
			}{{true, plan.ModeApply, tt.enforced}, {false, plan.ModeNotify, tt.off}} {
				p := plan.Build(plan.Input{Config: allowed, AsOf: asOf, Accounts: okAccounts(acct), Findings: []policy.Finding{tt.f},
					Mode: c.mode, Apply: c.apply, ActiveKeys: map[string]int{acct: 10}})
				it := p.Messages[0].Items[0]
				if it.Next != c.want || it.Enforced != c.apply {
					t.Errorf("enforced=%v: Next = %q (Enforced %v); want %q", c.apply, it.Next, it.Enforced, c.want)
				}
			}
		})
	}
}

// TestNextFollowsTheOutcome: the item of a credential whose finding calls
// for a change says what became of its action, in each case.
func TestNextFollowsTheOutcome(t *testing.T) {
	noticed := func(c *config.Config, days int) *config.Config { c.Enforce.NoticeBeforeAction = days; return c }
	disable := keyFinding("alice", 2, 85, "a@example.com") // disable stage
	active := keyFinding("alice", 2, 95, "a@example.com")  // delete stage, active key
	inactive := active
	inactive.KeyActive = false
	pw := policy.Finding{ID: "pw", Account: acct, User: "alice", Credential: policy.CredentialPassword, Rule: config.RulePasswordUnused,
		AgeDays: 120, StageAt: 90, Action: config.ActionRemovePassword, Recipients: []string{"a@example.com"}}
	window := enforcing()
	window.Enforce.Window = &config.Window{Days: []string{"sat", "sun"}}
	guarded := enforcing()
	guarded.Enforce.MaxActionsPerRun = 1
	// outcome turns the action planned for the finding into what
	// remediation reports.
	outcome := func(mut func(a *plan.Action)) func(*plan.Input) {
		return func(in *plan.Input) {
			p := plan.Build(*in)
			executed := append([]plan.Action(nil), p.Actions...)
			for i := range executed {
				executed[i].ID = fmt.Sprintf("r.%d", i+1)
				mut(&executed[i])
			}
			in.Executed = executed
		}
	}
	tests := []struct {
		name string
		cfg  *config.Config
		f    policy.Finding
		in   func(*plan.Input)
		want string
	}{
		{"done: disabled", enforcing(), disable, outcome(func(a *plan.Action) { a.Status, a.Done = plan.ActionDone, config.ActionDisable }),
			"It is past the 80-day limit. It was disabled on 2026-11-23 by keywarden (action r.1)."},
		{"done: an active key at its delete stage is disabled first", enforcing(), active,
			outcome(func(a *plan.Action) {
				a.Status, a.Done, a.DeleteOn = plan.ActionDone, config.ActionDisable, "2026-12-03"
			}),
			"It is past the 90-day limit. It was disabled on 2026-11-23 by keywarden (action r.1). An active key is disabled before it is " +
				"deleted: the first keywarden run from 2026-12-03, after 10 days inactive, deletes it."},
		{"done: deleted", enforcing(), inactive, outcome(func(a *plan.Action) { a.Status, a.Done = plan.ActionDone, config.ActionDelete }),
			"It is inactive and past the 90-day limit. It was deleted on 2026-11-23 by keywarden (action r.1)."},
		{"done: password removed", enforcing(), pw, outcome(func(a *plan.Action) { a.Status, a.Done = plan.ActionDone, config.ActionRemovePassword }),
			"It has not been used for 120 days (limit 90). It was removed on 2026-11-23 by keywarden (action r.1)."},
		{"done by a killed run, on its day", enforcing(), disable,
			outcome(func(a *plan.Action) {
				a.Status, a.Done, a.On, a.FindingID = plan.ActionDone, config.ActionDisable, "2026-11-20", ""
			}),
			"It is past the 80-day limit. It was disabled on 2026-11-20 by keywarden (action r.1)."},
		{"planned, before remediation", enforcing(), disable, nil,
			"It is past the 80-day limit. keywarden is to disable it in this run (2026-11-23)."},
		{"planned: a password", enforcing(), pw, nil,
			"It has not been used for 120 days (limit 90). keywarden is to remove it in this run (2026-11-23)."},
		{"waiting for the owner's notice period", noticed(enforcing(), 7), disable, nil,
			"It is past the 80-day limit. keywarden gives 7 days' notice before it changes a credential (enforce.notice_before_action): " +
				"a keywarden run may disable it from 2026-11-30."},
		{"waiting for the notice period: an active key at its delete stage", noticed(enforcing(), 7), active, nil,
			"It is past the 90-day limit. keywarden gives 7 days' notice before it changes a credential (enforce.notice_before_action): " +
				"a keywarden run may disable it (an active key is disabled before it is deleted) from 2026-11-30."},
		{"planned, dry run with enforcement on", enforcing(), disable, func(in *plan.Input) {
			in.Mode = plan.ModeDryRun
			outcome(func(a *plan.Action) { a.Done = config.ActionDisable })(in)
		}, "It is past the 80-day limit. This dry run changed nothing; a real run would disable it now (2026-11-23)."},
		{"blocked by a guard", guarded, disable, func(in *plan.Input) {
			in.Findings = append(in.Findings, keyFinding("bob", 1, 85, "b@example.com"))
		}, "It is past the 80-day limit. keywarden did not disable it: a safety guard stopped every change in account 123456789012 in this run; " +
			"the administrators are told."},
		{"outside the window", window, disable, nil,
			"It is past the 80-day limit. keywarden did not disable it: it changes credentials only inside its action window (sat,sun 00:00-24:00 UTC); " +
				"the first run inside it will."},
		{"enforcement off: notify-only run", enforcing(), disable, func(in *plan.Input) { in.Mode, in.Apply = plan.ModeNotify, false },
			"It is past the 80-day limit. keywarden did not disable it: enforcement is off (this run only notifies)."},
		{"enforcement off: dry run", enforcing(), disable, func(in *plan.Input) { in.Mode, in.Apply = plan.ModeDryRun, false },
			"It is past the 80-day limit. This dry run changed nothing, and enforcement is off: a real run would not disable it either."},
		{"account not allowed", config.Default(), disable, nil,
			"It is past the 80-day limit. keywarden did not disable it: it may not change credentials in account 123456789012 (enforce.allowed_accounts)."},
		{"offline report", enforcing(), disable, func(in *plan.Input) { in.Offline, in.Findings[0].KeyID = true, "" },
			"It is past the 80-day limit. Nothing was changed: this run read an offline credential report."},
		{"keywarden's own key", enforcing(), disable, func(in *plan.Input) { in.Self = map[string][]string{acct: {"AKIAALICE2"}} },
			"It is past the 80-day limit. keywarden never changes it: it is the access key keywarden itself runs with."},
		{"skipped by the re-check", enforcing(), disable, outcome(func(a *plan.Action) {
			a.Status, a.Reason = plan.ActionSkipped, "the key is already inactive; nothing was changed"
		}), "It is past the 80-day limit. keywarden did not disable it: the key is already inactive; nothing was changed."},
		{"inactive, waiting out the grace period", enforcing(), inactive, outcome(func(a *plan.Action) {
			a.Status, a.DeleteOn, a.Reason = plan.ActionSkipped, "2026-11-30", "inactive since 2026-11-20 (3 of the 10 days …): it will be deleted on 2026-11-30"
		}), "It is inactive and past the 90-day limit. It is inactive; the first keywarden run from 2026-11-30, after 10 days inactive, deletes it."},
		{"not started: the run was stopped first", enforcing(), disable, outcome(func(a *plan.Action) {
			a.ID, a.Reason = "", "not started: not reached before the run's deadline; the next run carries it out"
		}), "It is past the 80-day limit. keywarden did not disable it: this run stopped before it (not reached before the run's deadline); the next run will."},
		{"failed", enforcing(), disable, outcome(func(a *plan.Action) { a.Status, a.Reason = plan.ActionFailed, "AccessDenied" }),
			"It is past the 80-day limit. keywarden tried to disable it on 2026-11-23 and failed; the administrators are told, and the next run tries again."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := plan.Input{Config: tt.cfg, AsOf: asOf, Accounts: okAccounts(acct), Findings: []policy.Finding{tt.f}, Mode: plan.ModeApply,
				Apply: true, ActiveKeys: map[string]int{acct: 10}}
			if tt.in != nil {
				tt.in(&in)
			}
			p := plan.Build(in)
			it := p.Messages[0].Items[0]
			if it.Next != tt.want {
				t.Errorf("Next = %q\nwant   %q", it.Next, tt.want)
			}
			if it.ActionStatus != p.Actions[0].Status {
				t.Errorf("ActionStatus = %q; want the action's %q", it.ActionStatus, p.Actions[0].Status)
			}
			for _, w := range []string{"will be disabled", "will be deleted", "is disabled on", "is deleted on"} {
				if strings.Contains(it.Next, w) {
					t.Errorf("Next says %q: %q", w, it.Next)
				}
			}
		})
	}
}

func TestBuildDigests(t *testing.T) {
	cfg := config.Default()
	cfg.Notify.Admins.Emails = []string{"sec@example.com"}
	cfg.Notify.Admins.SNSTopicARN = "arn:aws:sns:us-east-1:123456789012:t"
	cfg.Notify.Admins.SlackWebhookEnv = "SLACK"
	cfg.Notify.Admins.WebhookURLSSM = "/kw/hook"
	fs := []policy.Finding{keyFinding("alice", 1, 75, "a@example.com")}
	// SNS already told the finding today; the others have not.
	n := state.Notice{NoticeKey: state.NoticeKey{Finding: "alice-1", Audience: plan.DigestAudience(plan.TargetSNS)}, Account: acct, Stage: 70, LastDay: "2026-11-23"}
	p := build(cfg, fs, n)
	var got []string
	for _, d := range p.Digests {
		got = append(got, fmt.Sprintf("%s to=%v notices=%d", d.Target, d.To, len(d.Notices)))
	}
	want := []string{"email to=[sec@example.com] notices=1", "slack to=[] notices=1", "webhook to=[] notices=1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("digests (-want +got):\n%s", diff)
	}

	// Nothing to report: no digest, unless send_when is always.
	if p := build(nil, nil); len(p.Digests) != 0 {
		t.Errorf("no findings, send_when findings: %d digests; want none", len(p.Digests))
	}
	always := config.Default()
	always.Notify.Admins.SendWhen = config.SendWhenAlways
	p = build(always, nil)
	if len(p.Digests) != 1 || p.Digests[0].Target != plan.TargetOutbox || !p.Digests[0].Compliant {
		t.Errorf("send_when always, compliant: %+v; want one compliant outbox digest", p.Digests)
	}
	p = build(always, fs, state.Notice{NoticeKey: state.NoticeKey{Finding: "alice-1", Audience: "digest:outbox"}, Account: acct, Stage: 70, LastDay: "2026-11-23"})
	if len(p.Digests) != 1 || len(p.Digests[0].Notices) != 0 || p.Digests[0].Compliant {
		t.Errorf("send_when always, nothing due: %+v; want a digest with no due notices", p.Digests)
	}
}

func TestDigestCounts(t *testing.T) {
	exempt := keyFinding("e", 1, 95, "e@example.com")
	exempt.Exempt = true
	p := build(nil, []policy.Finding{keyFinding("a", 1, 75, "a@example.com"), keyFinding("b", 1, 72, "b@example.com"),
		keyFinding("c", 1, 85, "c@example.com"), exempt})
	got := p.Digests[0].Accounts[0]
	want := []plan.Count{
		{Rule: config.RuleAccessKeyAge, Stage: 70, Action: config.ActionNotify, Count: 2},
		{Rule: config.RuleAccessKeyAge, Stage: 80, Action: config.ActionDisable, Count: 1},
	}
	if diff := cmp.Diff(want, got.Counts); diff != "" || got.Findings != 3 || got.Exempt != 1 {
		t.Errorf("account summary: %d findings, %d exempt, counts (-want +got):\n%s", got.Findings, got.Exempt, diff)
	}
	if got.ConsoleURL != "https://123456789012.signin.aws.amazon.com/console" {
		t.Errorf("ConsoleURL = %q", got.ConsoleURL)
	}
}

func TestConsoleURL(t *testing.T) {
	cfg := config.Default()
	if got := plan.ConsoleURL(cfg, acct, "acme"); got != "https://acme.signin.aws.amazon.com/console" {
		t.Errorf("ConsoleURL(alias) = %q", got)
	}
	cfg.Notify.ConsoleURL = "https://sso.example.com/start#/?account={account}&name={alias}"
	if got := plan.ConsoleURL(cfg, acct, ""); got != "https://sso.example.com/start#/?account=123456789012&name=123456789012" {
		t.Errorf("ConsoleURL(template) = %q", got)
	}
}

// TestTitleNamesTheKey: an item names an access key by its full ID, or
// says why it cannot.
func TestTitleNamesTheKey(t *testing.T) {
	noID := keyFinding("bob", 2, 75, "b@example.com")
	noID.KeyID = ""
	for _, tt := range []struct {
		name    string
		f       policy.Finding
		offline bool
		want    string
	}{
		{"live scan", keyFinding("alice", 1, 75, "a@example.com"), false, "access key AKIAALICE1 (key 1)"},
		{"offline report", noID, true, "access key 2 (no key ID: an offline credential report has none)"},
		{"live scan, key not matched", noID, false, "access key 2 (its ID is not known)"},
	} {
		p := plan.Build(plan.Input{Config: config.Default(), AsOf: asOf, Accounts: okAccounts(acct), Findings: []policy.Finding{tt.f},
			Mode: plan.ModeNotify, Offline: tt.offline})
		if got := p.Messages[0].Items[0].Title; got != tt.want {
			t.Errorf("%s: Title = %q; want %q", tt.name, got, tt.want)
		}
	}
}

// TestRelaxed: the users whose enforcement a tag relaxed — a tag chose a
// class with softer access-key stages than the default class's, or an
// exemption selected them through a tag — and no one else.
func TestRelaxed(t *testing.T) {
	cfg := config.Default() // machine: told at 70/80/90, never disabled or deleted
	cfg.Rules.AccessKeyAge["slow"] = []config.Stage{{At: 70, Action: config.ActionNotify}, {At: 120, Action: config.ActionDisable},
		{At: 150, Action: config.ActionDelete}}
	cfg.Rules.AccessKeyAge["strict"] = []config.Stage{{At: 30, Action: config.ActionNotify}, {At: 60, Action: config.ActionDelete}}
	cfg.Rules.AccessKeyAge["late"] = []config.Stage{{At: 100, Action: config.ActionNotify}, {At: 110, Action: config.ActionDisable},
		{At: 120, Action: config.ActionDelete}}
	cfg.Notify.Admins.Emails = []string{"sec@example.com"}
	with := func(f policy.Finding, mut func(*policy.Finding)) policy.Finding { mut(&f); return f }
	fs := []policy.Finding{
		with(keyFinding("bot", 1, 75, "b@example.com"), func(f *policy.Finding) { f.Class, f.ClassFromTag = "machine", "UserType=machine" }),
		with(keyFinding("slowpoke", 1, 75, "s@example.com"), func(f *policy.Finding) { f.Class, f.ClassFromTag = "slow", "Team=data" }),
		with(keyFinding("latecomer", 1, 75, "l@example.com"), func(f *policy.Finding) { f.Class, f.ClassFromTag = "late", "Tier=3" }),
		with(keyFinding("strictly", 1, 75, "t@example.com"), func(f *policy.Finding) { f.Class, f.ClassFromTag = "strict", "Env=prod" }),
		with(keyFinding("named-bot", 1, 75, "n@example.com"), func(f *policy.Finding) { f.Class = "machine" }), // by name: no tag
		with(keyFinding("contractor", 1, 75, "c@example.com"), func(f *policy.Finding) { f.Class, f.ClassFromTag = "contractor", "Contractor=acme" }),
		with(keyFinding("self", 1, 95, "m@example.com"), func(f *policy.Finding) {
			f.Exempt, f.ExemptReason, f.ExemptFromTag = true, "managed elsewhere", "keywarden:exempt=true"
		}),
		with(keyFinding("self", 2, 95, "m@example.com"), func(f *policy.Finding) {
			f.Rule, f.Exempt, f.ExemptReason, f.ExemptFromTag = config.RuleAccessKeyUnused, true, "managed elsewhere", "keywarden:exempt=true"
		}),
		with(keyFinding("vendor", 1, 95, "v@example.com"), func(f *policy.Finding) { f.Exempt, f.ExemptReason = true, "by name" }),
	}
	p := build(cfg, fs)
	want := []plan.Relaxed{
		{Account: acct, User: "bot", Reason: "class machine from tag UserType=machine: its access keys are never disabled (human: at 80 days), never deleted (human: at 90 days)"},
		{Account: acct, User: "latecomer", Reason: "class late from tag Tier=3: its access keys are first reported at 100 days (human: at 70), disabled at 110 days (human: at 80), deleted at 120 days (human: at 90)"},
		{Account: acct, User: "self", Reason: "exempt from tag keywarden:exempt=true (managed elsewhere) for access_key_age, access_key_unused"},
		{Account: acct, User: "slowpoke", Reason: "class slow from tag Team=data: its access keys are disabled at 120 days (human: at 80), deleted at 150 days (human: at 90)"},
	}
	if diff := cmp.Diff(want, p.Relaxed); diff != "" {
		t.Errorf("Relaxed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, p.Digests[0].Relaxed); diff != "" {
		t.Errorf("the digest's Relaxed (-want +got):\n%s", diff)
	}
}

// TestDigestActionGroups: a digest's actions by what happened to them,
// what was done first; a reason all of a group share is the group's.
func TestDigestActionGroups(t *testing.T) {
	d := plan.Digest{Mode: plan.ModeApply, Actions: []plan.Action{
		{Kind: "disable", Status: plan.ActionBlocked, Reason: "guard"},
		{Kind: "disable", Status: plan.ActionDone, Done: "disable", Reason: "disabled: a"},
		{Kind: "delete", Status: plan.ActionSkipped, Reason: "the key is already gone"},
		{Kind: "disable", Status: plan.ActionBlocked, Reason: "guard"},
		{Kind: "delete", Status: plan.ActionDone, Done: "delete", Reason: "deleted: b"},
		{Kind: "disable", Status: plan.ActionFailed, Reason: "AccessDenied"},
	}}
	var got []string
	for _, g := range d.ActionGroups() {
		got = append(got, fmt.Sprintf("%s %d %q", g.Title, len(g.Actions), g.Reason))
	}
	want := []string{`Done 2 ""`, `Failed (tried, not made; the next run tries again) 1 "AccessDenied"`,
		`Stopped by a guard, not made 2 "guard"`, `Skipped, not made 1 "the key is already gone"`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ActionGroups (-want +got):\n%s", diff)
	}
	if d.Count(plan.ActionDone) != 2 || d.Count(plan.ActionBlocked) != 2 || d.Count(plan.ActionPlanned) != 0 {
		t.Errorf("Count: done %d, blocked %d, planned %d; want 2, 2, 0", d.Count(plan.ActionDone), d.Count(plan.ActionBlocked), d.Count(plan.ActionPlanned))
	}
	d.Mode = plan.ModeDryRun
	d.Actions = []plan.Action{{Kind: "disable", Status: plan.ActionPlanned}}
	if g := d.ActionGroups(); g[0].Title != "A real run would make these now (this dry run made none)" {
		t.Errorf("dry run's planned group = %q", g[0].Title)
	}
}
