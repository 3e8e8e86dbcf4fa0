package state

import "time"

// A write whose answer was lost (a connection dropped after DynamoDB
// applied it, an error after the write took effect) is tried again by the
// SDK or by its caller. Every store answers such a repeat as the first
// call would have been answered, without recording anything twice: a
// repeat finds its own write, which these tell from another writer's.

// SameRecord reports whether a, a RecordAction asked again, is the action
// recorded as got: the same ID, run, target, time and status (an action ID
// is its run's, and its time the run's clock when it recorded it).
func SameRecord(got, a *Action) bool {
	return got.ID == a.ID && got.Run == a.Run && got.Target() == a.Target() && got.At.Equal(a.At) && got.Status == a.Status
}

// FinishedWith reports whether got, an action that is no longer planned,
// was finished with o (FinishAction asked again): its status, reason and
// time.
func FinishedWith(got *Action, o Outcome) bool {
	return got.Status == o.Status && got.Reason == o.Reason && got.FinishedAt.Equal(o.At)
}

// SentAt reports whether n, a notice that run no longer holds, was
// recorded delivered on day at now (Sent asked again): no claim, told last
// on day, updated at now.
func SentAt(n *Notice, day string, now time.Time) bool {
	return n.ClaimRun == "" && n.LastDay == day && n.UpdatedAt.Equal(now)
}
