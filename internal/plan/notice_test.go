package plan_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/state"
)

// told is the notice of a delivered on firstDay (and last on lastDay) to
// audience at stage.
func told(finding, audience string, stage int, firstDay, lastDay string) state.Notice {
	return state.Notice{NoticeKey: state.NoticeKey{Finding: finding, Audience: audience}, Account: acct, Rule: config.RuleAccessKeyAge,
		Stage: stage, FirstDay: firstDay, LastDay: lastDay, Count: 1}
}

func noticeConfig(days int) *config.Config {
	cfg := enforcing()
	cfg.Enforce.NoticeBeforeAction = days
	return cfg
}

// TestBuildNoticeBeforeAction: with notice_before_action 7 an action is
// taken only if its owner was told of that stage, as the state recorded
// the delivery, at least 7 days before the run's day (2026-11-23).
func TestBuildNoticeBeforeAction(t *testing.T) {
	const to = "a@example.com"
	tests := []struct {
		name    string
		days    int
		notices []state.Notice
		status  string
		reason  string
		actOn   string
	}{
		{name: "no wait configured", days: 0, status: plan.ActionPlanned},
		{name: "never told: told now, acts 7 days later", days: 7, status: plan.ActionWaiting, actOn: "2026-11-30",
			reason: "its owner is told of the 80-day stage in this run, and enforce.notice_before_action gives 7 days' notice: the first run from 2026-11-30 acts"},
		{name: "told exactly 7 days before", days: 7, notices: []state.Notice{told("alice-1", to, 80, "2026-11-16", "2026-11-22")},
			status: plan.ActionPlanned},
		{name: "told 6 days before", days: 7, notices: []state.Notice{told("alice-1", to, 80, "2026-11-17", "2026-11-17")},
			status: plan.ActionWaiting, actOn: "2026-11-24",
			reason: "its owner was told of the 80-day stage on 2026-11-17, and enforce.notice_before_action gives 7 days' notice: the first run from 2026-11-24 acts"},
		{name: "told long ago, but of an earlier stage", days: 7, notices: []state.Notice{told("alice-1", to, 70, "2026-10-01", "2026-11-20")},
			status: plan.ActionWaiting, actOn: "2026-11-30"},
		{name: "claimed but never delivered", days: 7, notices: []state.Notice{told("alice-1", to, 80, "", "")},
			status: plan.ActionWaiting, actOn: "2026-11-30"},
		{name: "the admins were told, not the owner", days: 7, notices: []state.Notice{told("alice-1", plan.DigestAudience(plan.TargetOutbox), 80, "2026-11-01", "2026-11-01")},
			status: plan.ActionWaiting, actOn: "2026-11-30"},
		{name: "closed notice (the finding went away and came back)", days: 7,
			notices: []state.Notice{func() state.Notice {
				n := told("alice-1", to, 80, "2026-11-01", "2026-11-01")
				n.ClosedDay = "2026-11-05"
				return n
			}()},
			status: plan.ActionWaiting, actOn: "2026-11-30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := applying(noticeConfig(tt.days), []policy.Finding{keyFinding("alice", 1, 85, to)}, 10,
				func(in *plan.Input) { in.Notices = tt.notices })
			if len(p.Actions) != 1 {
				t.Fatalf("actions = %v; want alice's", statuses(p))
			}
			a := p.Actions[0]
			if a.Status != tt.status || tt.reason != "" && a.Reason != tt.reason || a.ActOn != tt.actOn {
				t.Errorf("action: %s %q act_on %q; want %s %q act_on %q", a.Status, a.Reason, a.ActOn, tt.status, tt.reason, tt.actOn)
			}
			if tt.status != plan.ActionWaiting {
				return
			}
			// The owner is told when the change may come.
			if len(p.Messages) != 1 || len(p.Messages[0].Items) != 1 {
				t.Fatalf("messages = %+v; want alice's", p.Messages)
			}
			want := "It is past the 80-day limit. keywarden gives 7 days' notice before it changes a credential (enforce.notice_before_action): " +
				"a keywarden run may disable it from " + tt.actOn + "."
			if got := p.Messages[0].Items[0].Next; got != want {
				t.Errorf("alice's item says %q; want %q", got, want)
			}
		})
	}
}

// TestBuildNoticeBeforeActionUndeliverable: an owner who cannot be mailed
// is not waited for: the admins' digest notice counts, through any of
// their channels.
func TestBuildNoticeBeforeActionUndeliverable(t *testing.T) {
	f := keyFinding("svc", 1, 95) // no address; delete stage, active: disabled first
	run := func(notices ...state.Notice) plan.Action {
		p := applying(noticeConfig(7), []policy.Finding{f}, 10, func(in *plan.Input) { in.Notices = notices })
		return p.Actions[0]
	}
	a := run()
	want := "the owner cannot be mailed, so the admins are told of the 90-day stage in this run, and enforce.notice_before_action gives 7 days' notice: the first run from 2026-11-30 acts"
	if a.Status != plan.ActionWaiting || a.Reason != want {
		t.Errorf("never told: %s %q; want waiting %q", a.Status, a.Reason, want)
	}
	if a := run(told("svc-1", plan.DigestAudience(plan.TargetOutbox), 90, "2026-11-10", "2026-11-20")); a.Status != plan.ActionPlanned {
		t.Errorf("admins told 13 days before: %s %q; want planned", a.Status, a.Reason)
	}
}

// TestBuildNoticeBeforeActionGuard: actions waiting for their notice are
// not taken in this run, so they do not count towards the guards.
func TestBuildNoticeBeforeActionGuard(t *testing.T) {
	cfg := noticeConfig(7)
	cfg.Enforce.MaxActionsPerRun = 1
	fs := []policy.Finding{keyFinding("alice", 1, 85, "a@example.com"), keyFinding("bob", 1, 85, "b@example.com")}
	p := applying(cfg, fs, 10, func(in *plan.Input) {
		in.Notices = []state.Notice{told("bob-1", "b@example.com", 80, "2026-11-01", "2026-11-01")}
	})
	want := []string{"AKIAALICE1 disable waiting", "AKIABOB1 disable planned"}
	if got := statuses(p); !cmp.Equal(got, want) || len(p.Guards) != 0 {
		t.Errorf("actions = %v, guards %v; want %v and no guard", got, p.Guards, want)
	}
	if !strings.Contains(p.Actions[0].Reason, "enforce.notice_before_action") {
		t.Errorf("alice's action waits with %q; want the notice period", p.Actions[0].Reason)
	}
}
