package plan_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/state"
)

// owedNotice is a notice an outcome recorded and no run has told.
func owedNotice(id, audience string) state.Notice {
	return state.Notice{NoticeKey: state.NoticeKey{Finding: state.ActionFinding(id), Audience: audience}, Account: acct}
}

func noticeKeys(ns []plan.Notice) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Key.String())
	}
	return out
}

// TestActionsCarryTheirAudiences: each planned action carries who must
// hear its outcome: its finding's owners and every digest audience.
func TestActionsCarryTheirAudiences(t *testing.T) {
	cfg := enforcing()
	cfg.Notify.Admins.Emails = []string{"sec@example.com"}
	cfg.Notify.Admins.SNSTopicARN = "arn:aws:sns:us-east-1:" + acct + ":keywarden"
	p := applying(cfg, []policy.Finding{keyFinding("alice", 1, 85, "a@example.com", "a2@example.com"), keyFinding("bob", 1, 85)}, 10)
	want := [][]string{{"a@example.com", "a2@example.com", "digest:email", "digest:sns"}, {"digest:email", "digest:sns"}}
	var got [][]string
	for _, a := range p.Actions {
		got = append(got, a.Audiences)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("action audiences (-want +got):\n%s", diff)
	}
}

// TestOwedOutcomeOfAGoneFinding: an earlier run deleted alice's key and
// could not tell anyone; this run, where the key's finding is gone, tells
// alice (an item saying what was done, and on which day) and the digest
// (the action, marked as an earlier run's), and does not close the owed
// notices; bob, told already, is not told again.
func TestOwedOutcomeOfAGoneFinding(t *testing.T) {
	rec := state.Action{ID: "r0.1", Run: "r0", Account: acct, User: "alice", Credential: policy.CredentialAccessKey, KeyID: "AKIAALICE1",
		Kind: state.KindDelete, Rule: config.RuleAccessKeyAge, Stage: 90, FindingID: "alice-1", Status: state.ActionDone,
		Before: state.KeyInactive, After: state.KeyDeleted, At: asOf.Add(-48 * time.Hour), FinishedAt: asOf.Add(-47 * time.Hour)}
	notices := []state.Notice{owedNotice("r0.1", "a@example.com"), owedNotice("r0.1", "digest:outbox")}
	p := plan.Build(plan.Input{Config: enforcing(), AsOf: asOf, Accounts: okAccounts(acct), Notices: notices, OwedActions: []state.Action{rec},
		Findings: []policy.Finding{keyFinding("bob", 1, 75, "b@example.com")}, Mode: plan.ModeNotify})

	if len(p.Owed) != 1 || p.Owed[0].ID != "r0.1" || !p.Owed[0].Owed || p.Owed[0].On != "2026-11-21" {
		t.Fatalf("plan owed = %+v; want r0.1, done on 2026-11-21", p.Owed)
	}
	var alice *plan.Message
	for i := range p.Messages {
		if p.Messages[i].To == "a@example.com" {
			alice = &p.Messages[i]
		}
	}
	if alice == nil {
		t.Fatalf("messages = %+v; want one to alice", p.Messages)
	}
	if got, want := noticeKeys(alice.Notices), []string{"action:r0.1 → a@example.com"}; !cmp.Equal(got, want) {
		t.Errorf("alice's notices = %v; want %v", got, want)
	}
	if len(alice.Items) != 1 || alice.Items[0].Done != config.ActionDelete ||
		alice.Items[0].Next != "It was deleted on 2026-11-21 by keywarden (action r0.1)." || alice.Changed() != "1 deleted" {
		t.Errorf("alice's items = %+v; want the deleted key, with its day", alice.Items)
	}
	d := p.Digests[0]
	if !slices.Contains(noticeKeys(d.Notices), "action:r0.1 → digest:outbox") {
		t.Errorf("digest notices = %v; want the owed action's", noticeKeys(d.Notices))
	}
	if len(d.Actions) != 1 || !strings.HasSuffix(d.Actions[0].Line(), "[r0.1] (by an earlier run; not reported until now)") ||
		!strings.HasPrefix(d.Actions[0].Line(), "deleted access key AKIAALICE1 of alice in "+acct+" on 2026-11-21") {
		t.Errorf("digest actions = %+v; want the earlier deletion", d.Actions)
	}
	if slices.Contains(p.Resolve, "action:r0.1") {
		t.Errorf("resolve = %v; an owed notice must stay open until told", p.Resolve)
	}

	// Told to alice already; still owed to the digest: alice gets nothing.
	p = plan.Build(plan.Input{Config: enforcing(), AsOf: asOf, Accounts: okAccounts(acct), Notices: notices[1:], OwedActions: []state.Action{rec},
		Mode: plan.ModeNotify})
	if len(p.Messages) != 0 || len(p.Digests) != 1 || len(p.Digests[0].Actions) != 1 {
		t.Errorf("messages = %+v, digests = %+v; want the digest alone to tell r0.1", p.Messages, p.Digests)
	}
}

// TestOwedOutcomeOfACurrentFinding: an earlier run disabled alice's key
// (its finding still current); this run words her item by it and tells it
// as news; a failed outcome is the admins' only.
func TestOwedOutcomeOfACurrentFinding(t *testing.T) {
	f := keyFinding("alice", 1, 85, "a@example.com")
	f.KeyActive = false
	rec := state.Action{ID: "r0.1", Run: "r0", Account: acct, User: "alice", Credential: policy.CredentialAccessKey, KeyID: "AKIAALICE1",
		Kind: state.KindDisable, Rule: config.RuleAccessKeyAge, Stage: 80, FindingID: f.ID, Status: state.ActionDone,
		Before: state.KeyActive, After: state.KeyInactive, At: asOf.Add(-24 * time.Hour)}
	failed := rec
	failed.ID, failed.Status, failed.User, failed.KeyID, failed.FindingID = "r0.2", state.ActionFailed, "bob", "AKIABOB1", "bob-1"
	notices := []state.Notice{
		{NoticeKey: state.NoticeKey{Finding: f.ID, Audience: "a@example.com"}, Account: acct, Stage: 80, LastDay: "2026-11-22"},
		owedNotice("r0.1", "a@example.com"), owedNotice("r0.1", "digest:outbox"), owedNotice("r0.2", "digest:outbox"),
	}
	p := plan.Build(plan.Input{Config: enforcing(), AsOf: asOf, Accounts: okAccounts(acct), Findings: []policy.Finding{f}, Notices: notices,
		OwedActions: []state.Action{rec, failed}, Mode: plan.ModeNotify})
	if len(p.Messages) != 1 {
		t.Fatalf("messages = %+v; want alice's", p.Messages)
	}
	m := p.Messages[0]
	if got, want := noticeKeys(m.Notices), []string{"action:r0.1 → a@example.com"}; !cmp.Equal(got, want) {
		t.Errorf("alice's notices = %v; want %v (the finding was told yesterday)", got, want)
	}
	if len(m.Items) != 1 || m.Items[0].ActionID != "r0.1" || !strings.Contains(m.Items[0].Next, "It was disabled on 2026-11-22 by keywarden (action r0.1).") {
		t.Errorf("alice's items = %+v; want her key worded by r0.1", m.Items)
	}
	d := p.Digests[0]
	if got := noticeKeys(d.Notices); !slices.Contains(got, "action:r0.1 → digest:outbox") || !slices.Contains(got, "action:r0.2 → digest:outbox") {
		t.Errorf("digest notices = %v; want both owed outcomes", got)
	}
	var verbs []string
	for _, a := range d.Actions {
		verbs = append(verbs, a.Verb())
	}
	if want := []string{"would disable", "disabled", "FAILED disable"}; !cmp.Equal(verbs, want) { // this run only notifies
		t.Errorf("digest actions = %v; want %v", verbs, want)
	}
}

// TestWithoutHeldNotices: a message sent without the notices another run
// holds keeps the rest: an item whose every notice is held is dropped, an
// item listed only to be complete stays; a digest drops the actions whose
// notices are held.
func TestWithoutHeldNotices(t *testing.T) {
	cfg := enforcing()
	fs := []policy.Finding{keyFinding("alice", 1, 85, "a@example.com"), keyFinding("alice", 2, 75, "a@example.com"),
		keyFinding("alice", 3, 70, "a@example.com")}
	p := applying(cfg, fs, 10)
	executed := slices.Clone(p.Actions)
	executed[0].ID, executed[0].Status, executed[0].Done = "r.1", plan.ActionDone, config.ActionDisable
	// key 3 was told yesterday: listed, not due.
	told := state.Notice{NoticeKey: state.NoticeKey{Finding: "alice-3", Audience: "a@example.com"}, Account: acct, Stage: 70, LastDay: "2026-11-22"}
	p = applying(cfg, fs, 10, func(in *plan.Input) { in.Executed, in.Notices = executed, []state.Notice{told} })
	m := p.Messages[0]
	if got := noticeKeys(m.Notices); len(got) != 3 {
		t.Fatalf("alice's notices = %v; want key 1's finding and action, key 2's finding", got)
	}
	heldKeys := map[state.NoticeKey]bool{
		{Finding: "alice-1", Audience: "a@example.com"}: true, {Finding: "action:r.1", Audience: "a@example.com"}: true,
	}
	held := func(k state.NoticeKey) bool { return heldKeys[k] }
	sent := m.Without(held)
	var ids []string
	for _, it := range sent.Items {
		ids = append(ids, it.ID)
	}
	if !cmp.Equal(ids, []string{"alice-2", "alice-3"}) || !cmp.Equal(noticeKeys(sent.Notices), []string{"alice-2 → a@example.com"}) {
		t.Errorf("sent items %v, notices %v; want keys 2 and 3, key 2's notice", ids, noticeKeys(sent.Notices))
	}
	// The action's notice held, the finding's claimed: the news is the
	// holder's to tell; the finding's notice is not sent for.
	sent = m.Without(func(k state.NoticeKey) bool { return k.Finding == "action:r.1" })
	if len(sent.Items) != 2 || sent.Items[0].ID != "alice-2" || !cmp.Equal(noticeKeys(sent.Notices), []string{"alice-2 → a@example.com"}) {
		t.Errorf("without the action's notice: items %+v, notices %v; want keys 2 and 3, key 2's notice", sent.Items, noticeKeys(sent.Notices))
	}
	// The finding's notice held, the action's claimed: the item tells the news.
	sent = m.Without(func(k state.NoticeKey) bool { return k.Finding == "alice-1" })
	if len(sent.Items) != 3 || !cmp.Equal(noticeKeys(sent.Notices), []string{"action:r.1 → a@example.com", "alice-2 → a@example.com"}) {
		t.Errorf("without the finding's notice: %d items, notices %v; want all three, the action's and key 2's notices", len(sent.Items), noticeKeys(sent.Notices))
	}
	if len(m.Items) != 3 {
		t.Errorf("Without changed the plan's message: %d items", len(m.Items))
	}
	d := p.Digests[0].Without(func(k state.NoticeKey) bool { return k.Finding == "action:r.1" })
	if len(d.Actions) != 0 || slices.Contains(noticeKeys(d.Notices), "action:r.1 → digest:outbox") {
		t.Errorf("digest without r.1 = actions %+v, notices %v; want neither", d.Actions, noticeKeys(d.Notices))
	}
	if len(p.Digests[0].Actions) != 1 {
		t.Errorf("Without changed the plan's digest: %d actions", len(p.Digests[0].Actions))
	}
}
