package state

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DayLayout is how days are stored: YYYY-MM-DD, UTC. Days in this layout
// compare correctly as strings, which conditional writes rely on.
const DayLayout = "2006-01-02"

// DefaultURL is where state is kept when neither --state nor state.url
// says otherwise: a SQLite file in the working directory.
const DefaultURL = "sqlite://keywarden.db"

// DefaultLease is how long a claim holds a notice before another run may
// take it over (the claiming run is presumed dead).
const DefaultLease = time.Hour

// ErrClaimLost is returned by Sent when the run no longer holds the claim
// (its lease ran out and another run took the notice over).
var ErrClaimLost = errors.New("claim lost to another run")

// NoticeKey identifies one notice: a finding, told to one audience.
type NoticeKey struct {
	// Finding is the finding's ID (policy.Finding.ID), or "account:ID" for
	// an account that could not be scanned.
	Finding string `json:"finding"`
	// Audience is the owner's address, or "digest:TARGET" for the admin
	// digest through one channel (email, sns, slack, webhook, outbox).
	Audience string `json:"audience"`
}

func (k NoticeKey) String() string { return k.Finding + " → " + k.Audience }

// Owed reports whether the notice is an action's outcome that was never
// delivered: the store recorded it with the outcome, and every real run
// delivers it until one records it sent (it is told once).
func (n *Notice) Owed() bool {
	return IsActionFinding(n.Finding) && n.LastDay == "" && n.ClosedDay == ""
}

// Notice is the record of one NoticeKey.
type Notice struct {
	NoticeKey
	// What the finding is about, for history and debugging.
	Account string `json:"account"`
	User    string `json:"user"`
	KeyID   string `json:"key_id,omitempty"`
	Rule    string `json:"rule"`
	// Stage is the stage (policy.Finding.StageAt) last delivered.
	Stage int `json:"stage"`
	// FirstDay is the day Stage was first delivered; LastDay the day it
	// was last delivered ("": never delivered, only claimed).
	FirstDay string `json:"first_day"`
	LastDay  string `json:"last_day"`
	// Count is how often Stage has been delivered.
	Count int `json:"count"`
	// ClaimRun is the run that holds the notice ("": none), since
	// ClaimedAt, for ClaimStage.
	ClaimRun   string    `json:"claim_run,omitempty"`
	ClaimedAt  time.Time `json:"claimed_at,omitzero"`
	ClaimStage int       `json:"claim_stage,omitempty"`
	// ClosedDay is the day the finding was seen resolved ("": open).
	ClosedDay string    `json:"closed_day,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Claim asks to hold a notice for one run so that it can be delivered.
type Claim struct {
	Key     NoticeKey
	Account string
	User    string
	KeyID   string
	Rule    string
	// Stage is the stage about to be told.
	Stage int
	// Day is the run's day (its --as-of, UTC), YYYY-MM-DD.
	Day string
	// RemindEvery is notify.users.remind_every, in days (>= 1).
	RemindEvery int
	// Run identifies the claiming run.
	Run string
	// Now is the wall-clock time of the claim; a claim older than Lease
	// (DefaultLease when 0) may be taken over.
	Now   time.Time
	Lease time.Duration
}

// Run is one `keywarden run` that changed state (dry runs record nothing).
type Run struct {
	ID         string    `json:"id"`
	Mode       string    `json:"mode"`
	AsOf       time.Time `json:"as_of"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Accounts   int       `json:"accounts"`
	Findings   int       `json:"findings"`
	Sent       int       `json:"sent"`
	Failed     int       `json:"failed"`
	// Error summarises what went wrong ("": nothing).
	Error string `json:"error,omitempty"`
	// ForcedAsOf is the --as-of a run that acted was forced to act at
	// (--force-as-of) instead of the wall clock; zero when it was not.
	ForcedAsOf time.Time `json:"forced_as_of,omitzero"`
}

// Store keeps notices, runs and the audit trail of actions. Implementations are safe for concurrent
// use, also by several processes sharing the same backing store.
type Store interface {
	// Notices returns the open notices (ClosedDay "") of these accounts, or
	// of every account when accounts is empty, in key order.
	Notices(ctx context.Context, accounts []string) ([]Notice, error)
	// Claim atomically holds c.Key for c.Run when Due allows c.Stage on
	// c.Day and no other run holds an unexpired claim; it reports whether
	// it did. A closed notice is claimable as new. Claiming again what the
	// same run holds succeeds.
	Claim(ctx context.Context, c Claim) (bool, error)
	// Sent records that the notice run claimed was delivered on day: its
	// stage becomes the claimed one, LastDay day, and the claim is dropped.
	// It returns ErrClaimLost when run does not hold the claim, unless the
	// same Sent (day, now) was recorded already (SentAt): a repeat after a
	// lost answer succeeds and records nothing twice.
	Sent(ctx context.Context, key NoticeKey, run, day string, now time.Time) error
	// Release drops run's claim without recording a delivery, so the next
	// run tries again. Releasing what run does not hold does nothing.
	Release(ctx context.Context, key NoticeKey, run string) error
	// Resolve closes the open notices (every audience) of these findings
	// as of day and returns how many it closed.
	Resolve(ctx context.Context, findings []string, day string, now time.Time) (int, error)
	// RecordRun stores (or replaces) a run's summary; Runs lists the most
	// recent first, at most limit (all when limit <= 0).
	RecordRun(ctx context.Context, r Run) error
	Runs(ctx context.Context, limit int) ([]Run, error)

	// RecordAction stores a new action record. A planned action fails
	// with ErrActionInFlight while another planned action has the same
	// Target, so two runs never act on one credential at once. Recording
	// again the action recorded under its ID (SameRecord) succeeds and
	// records nothing; another action with that ID is an error.
	RecordAction(ctx context.Context, a Action) error
	// FinishAction moves a planned action to its outcome. It returns
	// ErrActionNotPlanned when the action is unknown or finished already,
	// unless with this very outcome (FinishedWith): a repeat succeeds.
	// In the same write (RecordAction's too, for an action recorded
	// finished) it records the outcome's owed notices (OwedNotices: one per
	// audience in OwedAudiences, never delivered), unless they exist.
	FinishAction(ctx context.Context, id string, o Outcome) error
	// ProgressAction records a planned rotation's new key (NewKeyID, never
	// its secret) before the key is written anywhere, so that a run killed
	// after creating it finds it. It returns ErrActionNotPlanned when the
	// action is unknown or finished, ErrNewKeyRecorded when it records
	// another new key; setting the same key again succeeds.
	ProgressAction(ctx context.Context, id, newKeyID string) error
	// Actions lists the recorded actions f selects, most recent first.
	Actions(ctx context.Context, f ActionFilter) ([]Action, error)
	// InactiveSince returns the day keywarden first knew k to be inactive
	// ("" when it knows nothing).
	InactiveSince(ctx context.Context, k KeyRef) (string, error)
	// RecordInactive records that k is inactive since day: when nothing is
	// known (a run first sees it inactive), or, with replace, whatever was
	// known (keywarden disabled it just now).
	RecordInactive(ctx context.Context, k KeyRef, day string, replace bool) error
	// ForgetInactive forgets k's inactive day (it is active again, or
	// gone).
	ForgetInactive(ctx context.Context, k KeyRef) error
	// Close releases the store's resources.
	Close() error
}

// Status says why a notice is (or is not) due.
type Status string

// Statuses returned by Due.
const (
	// StatusNew: never delivered, or closed since (the finding came back).
	StatusNew Status = "new"
	// StatusStage: delivered at another stage; a new stage is told at once.
	StatusStage Status = "stage"
	// StatusReminder: the same stage, delivered RemindEvery or more days ago.
	StatusReminder Status = "reminder"
	// StatusNotDue: the same stage, delivered fewer than RemindEvery days ago.
	StatusNotDue Status = "not_due"
)

// Due is the cadence: whether a notice may be told at stage on day, given
// its record n (nil when there is none). Claims are not considered. Every
// Store's Claim applies the same rule. An action's notice (IsActionFinding)
// is told once: once delivered it is never due again, closed or not.
func Due(n *Notice, stage int, day string, remindEvery int) Status {
	switch {
	case n != nil && IsActionFinding(n.Finding) && n.LastDay != "":
		return StatusNotDue
	case n == nil || n.ClosedDay != "" || n.LastDay == "":
		return StatusNew
	case n.Stage != stage:
		return StatusStage
	case n.LastDay <= RemindCutoff(day, remindEvery):
		return StatusReminder
	}
	return StatusNotDue
}

// RemindCutoff is the latest LastDay at which a notice is due again on day:
// day minus remindEvery days (at least one). A store that cannot do date
// arithmetic in a conditional write compares LastDay <= RemindCutoff.
func RemindCutoff(day string, remindEvery int) string {
	t, err := time.Parse(DayLayout, day)
	if err != nil {
		return "" // never due by reminder; Validate rejects such days
	}
	return t.AddDate(0, 0, -max(remindEvery, 1)).Format(DayLayout)
}

// Day is t's UTC day, YYYY-MM-DD.
func Day(t time.Time) string { return t.UTC().Format(DayLayout) }

// AddDays is the day n days after day (before, for negative n); day
// itself when it is not YYYY-MM-DD.
func AddDays(day string, n int) string {
	t, err := time.Parse(DayLayout, day)
	if err != nil {
		return day
	}
	return t.AddDate(0, 0, n).Format(DayLayout)
}

// Validate checks a claim before it is sent to a store.
func (c *Claim) Validate() error {
	switch {
	case c.Key.Finding == "" || c.Key.Audience == "":
		return fmt.Errorf("claim %v: empty key", c.Key)
	case c.Run == "":
		return fmt.Errorf("claim %v: no run ID", c.Key)
	case c.RemindEvery < 1:
		return fmt.Errorf("claim %v: remind_every %d (want >= 1)", c.Key, c.RemindEvery)
	}
	if _, err := time.Parse(DayLayout, c.Day); err != nil {
		return fmt.Errorf("claim %v: day %q is not YYYY-MM-DD", c.Key, c.Day)
	}
	return nil
}

// LeaseCutoff is the claim time before which another run's claim has
// expired.
func (c *Claim) LeaseCutoff() time.Time {
	lease := c.Lease
	if lease <= 0 {
		lease = DefaultLease
	}
	return c.Now.Add(-lease)
}
