package plan

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/state"
)

// Owed messages: an action's outcome (done, failed) is recorded in state
// with one owed notice per audience that must hear it (state.OwedNotices).
// Build tells every owed notice it is given (Input.Notices, with the
// actions' records in Input.OwedActions) — this run's and earlier runs',
// the credential's finding current or gone — and a run records it sent,
// after which it is never told again.

// audiences are who must hear the outcome of an action on it's finding:
// the owner's addresses and every digest audience.
func (b *builder) audiences(it *Item) []string {
	out := slices.Clone(it.Recipients)
	for _, t := range Targets(b.cfg) {
		out = append(out, DigestAudience(t))
	}
	return out
}

// owedBy maps each action ID with owed notices to the audiences it is
// owed to.
func owedBy(notices []state.Notice) map[string][]string {
	out := map[string][]string{}
	for i := range notices {
		if n := &notices[i]; n.Owed() {
			id := state.ActionOf(n.Finding)
			out[id] = append(out[id], n.Audience)
		}
	}
	return out
}

// isOwed reports whether action id's outcome is owed to audience.
func (b *builder) isOwed(id, audience string) bool { return slices.Contains(b.owed[id], audience) }

// earlier are the outcomes owed from actions this run did not report
// itself (an earlier run's, or a concurrent one's): their records, as plan
// actions marked Owed, in the records' order.
func (b *builder) earlier(own []Action) []Action {
	out := []Action{}
	for _, r := range b.in.OwedActions {
		if len(b.owed[r.ID]) == 0 || slices.ContainsFunc(own, func(a Action) bool { return a.ID == r.ID }) ||
			slices.ContainsFunc(out, func(a Action) bool { return a.ID == r.ID }) {
			continue
		}
		if r.Status != state.ActionDone && r.Status != state.ActionFailed {
			continue
		}
		out = append(out, b.fromRecord(&r))
	}
	return out
}

// fromRecord is a recorded action as a plan action told late: done on the
// day its run finished it.
func (b *builder) fromRecord(r *state.Action) Action {
	a := Action{ID: r.ID, Kind: r.Kind, FindingID: r.FindingID, Account: r.Account, AccountAlias: b.ok[r.Account].Alias, User: r.User,
		Credential: r.Credential, KeyID: r.KeyID, KeyActive: r.Before == state.KeyActive, Rule: r.Rule, StageAt: r.Stage,
		Status: string(r.Status), Reason: r.Reason, Before: r.Before, After: r.After, Owed: true,
		Target: r.SecretTarget, NewKeyID: r.NewKeyID, RotationOf: r.RotationOf}
	a.Title = b.title(&policy.Finding{Credential: r.Credential, KeyID: r.KeyID})
	switch {
	case r.KeyID != "" && r.Credential == policy.CredentialAccessKey:
		a.Title = "access key " + r.KeyID
	case r.KeyID != "" && r.Credential == policy.CredentialSigningCert:
		a.Title = "signing certificate " + r.KeyID // the record has no slot
	}
	if r.Status == state.ActionDone {
		a.Done = r.Kind
		a.On = state.Day(cmp.Or(r.FinishedAt, r.At))
	}
	return a
}

// done are the actions of as that were made.
func done(as []Action) []Action {
	var out []Action
	for _, a := range as {
		if a.Status == ActionDone {
			out = append(out, a)
		}
	}
	return out
}

// owedItem is a change owed to owner that no item of the message tells
// (its finding is gone: the key deleted, or rotated): what was done, with
// its day.
func (b *builder) owedItem(a *Action, owner string) Item {
	f := policy.Finding{ID: a.FindingID, Account: a.Account, AccountAlias: a.AccountAlias, User: a.User, Credential: a.Credential,
		KeyID: a.KeyID, Rule: a.Rule, StageAt: a.StageAt, Action: a.Kind, KeyActive: a.KeyActive, Recipients: []string{owner},
		Reason: fmt.Sprintf("It reached its %d-day %s stage", a.StageAt, a.Rule)}
	console := ConsoleURL(b.cfg, a.Account, a.AccountAlias)
	it := Item{Finding: f, Title: a.Title, Status: state.StatusNew, ConsoleURL: console, Enforced: true,
		ActionStatus: ActionDone, ActionID: a.ID, Done: a.Done, Fix: fixDone(&f, console, a.Done), owedOnly: true, doneOn: cmp.Or(a.On, b.day),
		Next: fmt.Sprintf("It was %s on %s by keywarden (action %s).", past(cmp.Or(a.Done, a.Kind)), cmp.Or(a.On, b.day), a.ID)}
	if a.Kind == config.ActionRotate {
		it.Next = rotatedText(cmp.Or(a.On, b.day), a.ID, a.NewKeyID, a.Target)
		it.Fix = rotateFix(a.Target, a.NewKeyID)
	}
	return it
}

// withOwed adds, to each owner's items, the changes owed to them that
// none of their items tells.
func (b *builder) withOwed(byAddr map[string][]Item, owed []Action) {
	for i := range owed {
		a := &owed[i]
		if a.Status != ActionDone {
			continue // a failure is the admins' to hear
		}
		for _, to := range b.owed[a.ID] {
			if state.IsDigestAudience(to) || slices.ContainsFunc(byAddr[to], func(it Item) bool { return it.ActionID == a.ID }) {
				continue
			}
			byAddr[to] = append(byAddr[to], b.owedItem(a, to))
		}
	}
}

// actionNoticeDue reports whether the message to audience tells action
// id's outcome as news: this run's own outcome, or an owed one.
func (b *builder) actionNoticeDue(id, audience string) bool {
	return b.own[id] || b.isOwed(id, audience)
}

// Without is the message as sent when the notices held reports were not
// claimed (another run holds them, or has told them since): an item whose
// action notice is held is left out (what was done is news once: the run
// that holds it tells it), and so is an item whose only notice is held;
// items listed only to be complete (no notice) stay. Its Notices are the
// kept items' notices that are not held: a claimed notice not among them
// is released, not recorded.
func (m Message) Without(held func(state.NoticeKey) bool) Message {
	out := Message{To: m.To, Reminder: true, Items: []Item{}, Notices: []Notice{}}
	byKey := map[state.NoticeKey]Notice{}
	for _, n := range m.Notices {
		byKey[n.Key] = n
	}
	for _, it := range m.Items {
		fk := state.NoticeKey{Finding: it.ID, Audience: m.To}
		ak := state.NoticeKey{Finding: ActionFinding(it.ActionID), Audience: m.To}
		fn, hasF := byKey[fk]
		an, hasA := byKey[ak]
		switch {
		case hasA && held(ak), hasF && !hasA && held(fk):
			continue
		}
		for _, n := range []struct {
			n  Notice
			ok bool
		}{{fn, hasF && !held(fk)}, {an, hasA}} {
			if n.ok {
				out.Notices = append(out.Notices, n.n)
				out.Reminder = out.Reminder && n.n.Status == state.StatusReminder
			}
		}
		if hasF && held(fk) {
			it.Status = state.StatusNotDue // the run that holds it tells it
		}
		out.Items = append(out.Items, it)
	}
	return out
}

// Without is the digest as sent when the notices held reports were not
// claimed: only the claimed notices; an action whose notice is held is
// left out (the run that holds it tells it), and a finding whose notice
// is held is listed as not due.
func (d Digest) Without(held func(state.NoticeKey) bool) Digest {
	aud := DigestAudience(d.Target)
	out := d
	out.Notices, out.Actions, out.Findings = []Notice{}, []Action{}, slices.Clone(d.Findings)
	for _, n := range d.Notices {
		if !held(n.Key) {
			out.Notices = append(out.Notices, n)
		}
	}
	for _, a := range d.Actions {
		if a.ID == "" || !held(state.NoticeKey{Finding: ActionFinding(a.ID), Audience: aud}) {
			out.Actions = append(out.Actions, a)
		}
	}
	for i := range out.Findings {
		if held(state.NoticeKey{Finding: out.Findings[i].ID, Audience: aud}) {
			out.Findings[i].Status = state.StatusNotDue
		}
	}
	return out
}
