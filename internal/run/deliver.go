package run

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/state"
)

// deliver sends the plan's messages, each through its channel: claim
// every notice, send, then record (or release, so the next run retries).
// Each Delivery references the message it delivered.
func (r *runner) deliver(ctx context.Context) {
	p := r.res.Plan
	for _, g := range p.Guards {
		r.log.Warn("a guard stopped every change in the account; the admins are told", "account", g.Account, "reason", g.Reason)
	}
	// One line for them all (a large account can have hundreds); each is
	// at debug level, in the run's output and in the admins' digest.
	if n := len(p.Undeliverable); n > 0 {
		r.log.Warn(fmt.Sprintf("%d %s cannot be mailed; the admins are told (listed in the run's output)", n, plural(n, "owner", "owners")), "owners", n)
	}
	for _, u := range p.Undeliverable {
		r.log.Debug("owner cannot be mailed", "account", u.Account, "user", u.User, "reason", u.Reason)
	}
	from := fromAddress(r.cfg)
	for i := range p.Messages {
		m := &p.Messages[i]
		dl := Delivery{Kind: notify.KindUser, Channel: channelName(r.channels.User), To: []string{m.To}, Notices: len(m.Notices), Message: m}
		r.send(ctx, r.channels.User, m.Notices, &dl, func(held func(state.NoticeKey) bool) (*notify.Message, []plan.Notice, error) {
			sent := m.Without(held)
			dl.Message = &sent
			msg, err := r.tpls.User(&sent, p, from, fmt.Sprintf("%s.u%d", r.id, i+1), r.clock())
			return msg, sent.Notices, err
		})
		r.res.add(dl)
	}
	for i := range p.Digests {
		dg := &p.Digests[i]
		ch := r.channels.Digest[dg.Target]
		dl := Delivery{Kind: notify.KindDigest, Target: dg.Target, Channel: channelName(ch), To: dg.To, Notices: len(dg.Notices), Digest: dg}
		r.send(ctx, ch, dg.Notices, &dl, func(held func(state.NoticeKey) bool) (*notify.Message, []plan.Notice, error) {
			sent := dg.Without(held)
			dl.Digest = &sent
			msg, err := r.tpls.Digest(&sent, from, fmt.Sprintf("%s.d%d", r.id, i+1), r.clock())
			return msg, sent.Notices, err
		})
		r.res.add(dl)
	}
}

func channelName(ch notify.Channel) string {
	if ch == nil {
		return ""
	}
	return ch.Name()
}

func (r *Result) add(dl Delivery) {
	switch dl.Status {
	case DeliverySent:
		r.Sent++
	case DeliveryFailed:
		r.Failed++
	case DeliveryNotSent:
		r.NotSent++
	}
	r.Deliveries = append(r.Deliveries, dl)
}

// send claims the notices, renders the message without those it could
// not claim (another run holds them, or has told them since the plan was
// made: that run's message tells them) — render returns the notices the
// message is sent for; a claimed one not among them is released —, sends
// it through ch, and records the outcome in dl and in the store. A message
// is skipped when it has notices and none is left to send it for.
func (r *runner) send(ctx context.Context, ch notify.Channel, notices []plan.Notice, dl *Delivery,
	render func(held func(state.NoticeKey) bool) (*notify.Message, []plan.Notice, error)) {
	fail := func(err error) {
		dl.Status, dl.Error = DeliveryFailed, err.Error()
		r.errs = append(r.errs, err)
		r.log.Error("notification failed; it will be retried on the next run", "kind", dl.Kind, "channel", dl.Channel,
			"to", dl.To, "error", err)
	}
	// A stopped run sends nothing more: nothing is claimed, the next run
	// sends it.
	if why := halted(r.halt); why != "" {
		dl.Status, dl.Error = DeliveryNotSent, "not sent: "+why+"; the next run sends it"
		return
	}
	if ch == nil {
		fail(fmt.Errorf("no channel for %s %s", dl.Kind, dl.Target))
		return
	}
	var claimed []state.NoticeKey
	release := func(keys []state.NoticeKey) {
		for _, k := range keys {
			if err := r.store.Release(ctx, k, r.id); err != nil {
				r.errs = append(r.errs, err)
			}
		}
	}
	day := r.res.Plan.Day
	held := map[state.NoticeKey]bool{}
	for _, n := range notices {
		ok, err := r.store.Claim(ctx, state.Claim{Key: n.Key, Account: n.Account, User: n.User, KeyID: n.KeyID, Rule: n.Rule,
			Stage: n.Stage, Day: day, RemindEvery: r.cfg.Notify.Users.RemindEvery, Run: r.id, Now: r.clock(), Lease: r.o.Lease})
		if err != nil {
			release(claimed)
			fail(err)
			return
		}
		if !ok {
			held[n.Key] = true
			continue
		}
		claimed = append(claimed, n.Key)
	}
	msg, kept, err := render(func(k state.NoticeKey) bool { return held[k] })
	if msg != nil {
		dl.Subject = msg.Subject
	}
	if err != nil {
		release(claimed)
		fail(err)
		return
	}
	// Claimed notices of items the message leaves out are not told by it.
	var unsent []state.NoticeKey
	claimed = slices.DeleteFunc(claimed, func(k state.NoticeKey) bool {
		drop := !slices.ContainsFunc(kept, func(n plan.Notice) bool { return n.Key == k })
		if drop {
			unsent = append(unsent, k)
		}
		return drop
	})
	release(unsent)
	dl.Notices = len(claimed)
	if len(notices) > 0 && len(claimed) == 0 {
		dl.Status = DeliverySkipped
		dl.Error = "every notice of the message is held by another run, or was told since this plan was made"
		r.log.Info("notification skipped", "kind", dl.Kind, "to", dl.To, "why", dl.Error)
		return
	}
	if len(held) > 0 {
		r.log.Info("notification sent without what another run holds or has told", "kind", dl.Kind, "to", dl.To,
			"held", len(held), "notices", len(claimed))
	}
	if err := ch.Send(ctx, msg); err != nil {
		release(claimed)
		if errors.Is(err, errPlanned) {
			dl.Status = DeliveryPlanned
			return
		}
		fail(err)
		return
	}
	dl.Status = DeliverySent
	r.log.Info("notification sent", "kind", dl.Kind, "channel", dl.Channel, "to", dl.To, "notices", len(claimed))
	for _, k := range claimed {
		if err := r.store.Sent(ctx, k, r.id, day, r.clock()); err != nil {
			r.errs = append(r.errs, fmt.Errorf("sent, but not recorded (it may be sent again): %w", err))
		}
	}
}
