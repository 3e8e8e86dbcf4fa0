package plan

import (
	"cmp"
	"fmt"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/state"
)

// Reasons an action waits for its notice period (enforce.notice_before_action).
const (
	reasonNoticeNowFmt    = "%s told of the %d-day stage in this run, and enforce.notice_before_action gives %d days' notice: the first run from %s acts"
	reasonNoticeRetireFmt = "its owner and the admins were told of the deletion on %s, when the rotation's retiring disable (action %s) was made, " +
		"and enforce.notice_before_action gives %d days' notice: the first run from %s acts"
	reasonNoticeSentFmt = "%s told of the %d-day stage on %s, and enforce.notice_before_action gives %d days' notice: the first run from %s acts"
)

// noticeWait makes each planned action wait (status waiting, ActOn the
// first day it may be taken) until its owner — or, where the owner cannot
// be mailed, the admins through any digest channel — has been told of its
// stage at least enforce.notice_before_action days before the day the run
// acts (its wall clock's, or a forced --as-of's: never a day an unforced
// --as-of moved).
// What counts is the day the state recorded the notice of that finding at
// that stage as first delivered, never what this run intends to send: an
// owner not told yet is told in this run, and the action comes that many
// days later.
func (b *builder) noticeWait(actions []Action, items []Item) {
	n := b.cfg.Enforce.NoticeBeforeAction
	if n <= 0 {
		return
	}
	byFinding := map[string]*Item{}
	for i := range items {
		byFinding[items[i].ID] = &items[i]
	}
	today := state.Day(b.actAt())
	cutoff := state.AddDays(today, -n)
	for i := range actions {
		a := &actions[i]
		if a.Status != ActionPlanned || a.Kind == config.ActionRotate {
			continue // a rotation stops nothing working: no notice period (its retiring disable has one)
		}
		is, was, audiences := "its owner is", "its owner was", []string(nil)
		if it := byFinding[a.FindingID]; it != nil {
			audiences = it.Recipients
		}
		if len(audiences) == 0 {
			is, was = "the owner cannot be mailed, so the admins are", "the owner cannot be mailed, so the admins were"
			for _, t := range Targets(b.cfg) {
				audiences = append(audiences, DigestAudience(t))
			}
		}
		first := b.firstTold(a.FindingID, a.StageAt, audiences)
		retiring := ""
		if o := b.rotationByID[a.RotationOf]; a.Kind == config.ActionDelete && o != nil && o.disabled != nil {
			// told the deletion date with the retiring disable
			first = state.Day(cmp.Or(o.disabled.FinishedAt, o.disabled.At))
			retiring = o.disabled.ID
		}
		if first != "" && first <= cutoff {
			continue
		}
		a.Status, a.ActOn = ActionWaiting, state.AddDays(cmp.Or(first, today), n)
		if retiring != "" {
			a.Reason = fmt.Sprintf(reasonNoticeRetireFmt, first, retiring, n, a.ActOn)
		} else if first == "" {
			a.Reason = fmt.Sprintf(reasonNoticeNowFmt, is, a.StageAt, n, a.ActOn)
		} else {
			a.Reason = fmt.Sprintf(reasonNoticeSentFmt, was, a.StageAt, first, n, a.ActOn)
		}
	}
}

// firstTold is the earliest day one of audiences was first told of the
// finding at stage, as the state recorded the delivery ("": none was).
func (b *builder) firstTold(finding string, stage int, audiences []string) string {
	first := ""
	for _, aud := range audiences {
		n := b.notices[state.NoticeKey{Finding: finding, Audience: aud}]
		if n == nil || n.ClosedDay != "" || n.LastDay == "" || n.FirstDay == "" || n.Stage != stage {
			continue
		}
		if first == "" || n.FirstDay < first {
			first = n.FirstDay
		}
	}
	return first
}

// noticeNext says, for the owner, what becomes of a credential whose
// action a waits for its notice period: the day from which a run may make
// the change — "may", since a guard, the window or the owner's fix can
// still stop it.
func (b *builder) noticeNext(f *policy.Finding, a *Action) string {
	change := itVerb(a) + " it"
	if a.Kind == config.ActionDelete && keyLike(a.Credential) && a.KeyActive {
		change += fmt.Sprintf(" (an active %s is disabled before it is deleted)", noun(a.Credential))
	}
	return b.limit(f) + fmt.Sprintf(". keywarden gives %d days' notice before it changes a credential (enforce.notice_before_action): "+
		"a keywarden run may %s from %s.", b.cfg.Enforce.NoticeBeforeAction, change, a.ActOn)
}
