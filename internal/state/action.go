package state

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Action kinds, as recorded. Enable is what `keywarden undo` does.
const (
	KindDisable        = "disable"
	KindDelete         = "delete"
	KindRemovePassword = "remove_password"
	KindEnable         = "enable"
	// KindRotate: a new access key created (NewKeyID) and written to
	// SecretTarget; the old key (KeyID) is retired later, by disable and delete
	// records whose RotationOf names this one.
	KindRotate = "rotate"
)

// ActionStatus is where a recorded action stands.
type ActionStatus string

// Action statuses. An action is recorded as planned before it is carried
// out and finished as done or failed afterwards; an action decided against
// (re-check, guard, grace period) is recorded as skipped at once.
const (
	ActionPlanned ActionStatus = "planned"
	ActionDone    ActionStatus = "done"
	ActionSkipped ActionStatus = "skipped"
	ActionFailed  ActionStatus = "failed"
)

// Credential states recorded as an action's Before and After.
const (
	KeyActive     = "Active"
	KeyInactive   = "Inactive"
	KeyDeleted    = "deleted"
	PasswordSet   = "password"
	PasswordNone  = "no password"
	StateNotFound = "not found"
)

// ErrActionInFlight is returned by RecordAction when another planned
// action on the same credential has not finished: another run is acting on
// it (or was killed while it did, until a run reconciles it).
var ErrActionInFlight = errors.New("another action on this credential has not finished")

// ErrActionNotPlanned is returned by FinishAction (and ProgressAction) when the action is not
// (or no longer) planned: unknown, or finished already.
var ErrActionNotPlanned = errors.New("action is not planned")

// Action is the audit record of one remediation: planned, done, skipped
// (with the reason) or failed.
type Action struct {
	// ID identifies the action (`keywarden undo ID`).
	ID string `json:"id"`
	// Run is the run that recorded it.
	Run     string `json:"run"`
	Account string `json:"account"`
	User    string `json:"user"`
	// Credential is access_key or password; KeyID is set for keys.
	Credential string `json:"credential"`
	KeyID      string `json:"key_id"`
	// Kind is what was (to be) done: disable, delete, remove_password or
	// enable.
	Kind string `json:"action"`
	// Rule and Stage are the finding's (empty for undo).
	Rule      string       `json:"rule,omitempty"`
	Stage     int          `json:"stage,omitempty"`
	FindingID string       `json:"finding_id,omitempty"`
	Status    ActionStatus `json:"status"`
	Reason    string       `json:"reason"`
	// Before and After are the credential's state around the action
	// (Active, Inactive, deleted, password, no password, not found).
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	// UndoOf is the action an enable undoes.
	UndoOf string `json:"undo_of,omitempty"`
	// NewKeyID is a rotation's new access key (never its secret), and
	// SecretTarget where it was written (a secret's ARN, or ssm:/path).
	NewKeyID     string `json:"new_key_id,omitempty"`
	SecretTarget string `json:"secret_target,omitempty"`
	// RotationOf is the rotation a disable or delete of its old key
	// retires.
	RotationOf string `json:"rotation_of,omitempty"`
	// At is when the action was recorded; FinishedAt when it was finished
	// (zero while planned).
	At         time.Time `json:"at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// ForcedAsOf is the --as-of the recording run was forced to act at
	// (--force-as-of) instead of the wall clock; zero when it was not.
	ForcedAsOf time.Time `json:"forced_as_of,omitzero"`
	// Audiences are who must hear the action's outcome: the owner's
	// addresses and the digest audiences ("digest:TARGET"). The store
	// records the outcome's notices as owed (OwedAudiences) in the same
	// write that records the outcome, so that no run can lose them.
	Audiences []string `json:"-"`
}

// ActionNoticePrefix starts the finding ID of an action's notices:
// "action:ID" tells what action ID did (or failed to do).
const ActionNoticePrefix = "action:"

// ActionFinding is the notice finding ID that tells what action id did.
func ActionFinding(id string) string { return ActionNoticePrefix + id }

// IsActionFinding reports whether a notice's finding ID is an action's.
func IsActionFinding(finding string) bool { return strings.HasPrefix(finding, ActionNoticePrefix) }

// ActionOf is the action ID of an action notice's finding ID ("" for
// any other notice).
func ActionOf(finding string) string {
	if !IsActionFinding(finding) {
		return ""
	}
	return strings.TrimPrefix(finding, ActionNoticePrefix)
}

// OwedAudiences are the audiences that are owed a notice of an action
// finished as status: a change made (done) is told to the owner and the
// admins, one that failed to the admins (the digest audiences) only;
// nothing else is owed.
func OwedAudiences(status ActionStatus, audiences []string) []string {
	var out []string
	for _, a := range audiences {
		switch {
		case status == ActionDone, status == ActionFailed && IsDigestAudience(a):
			out = append(out, a)
		}
	}
	return out
}

// DigestPrefix starts the audience of an admin digest: "digest:TARGET".
const DigestPrefix = "digest:"

// IsDigestAudience reports whether a notice's audience is a digest's.
func IsDigestAudience(audience string) bool { return strings.HasPrefix(audience, DigestPrefix) }

// OwedNotices are the notices the store records as owed when a is
// finished as status (done or failed): one per owed audience, never
// delivered.
func OwedNotices(a *Action, status ActionStatus, now time.Time) []Notice {
	var out []Notice
	for _, aud := range OwedAudiences(status, a.Audiences) {
		out = append(out, Notice{NoticeKey: NoticeKey{Finding: ActionFinding(a.ID), Audience: aud}, Account: a.Account, User: a.User,
			KeyID: a.KeyID, Rule: a.Rule, Stage: a.Stage, UpdatedAt: now.UTC()})
	}
	return out
}

// Target names the credential an action changes: the in-flight lock's key.
func (a *Action) Target() string {
	if a.KeyID != "" {
		return a.Account + "/" + a.User + "/" + a.KeyID
	}
	return a.Account + "/" + a.User + "/" + a.Credential
}

// Validate checks an action before it is recorded.
func (a *Action) Validate() error {
	switch {
	case a.ID == "":
		return errors.New("record action: empty ID")
	case a.Account == "" || a.User == "":
		return fmt.Errorf("record action %s: account and user are required", a.ID)
	case a.Kind == "":
		return fmt.Errorf("record action %s: no kind", a.ID)
	case a.At.IsZero():
		return fmt.Errorf("record action %s: no time", a.ID)
	}
	switch a.Status {
	case ActionPlanned, ActionDone, ActionSkipped, ActionFailed:
	default:
		return fmt.Errorf("record action %s: unknown status %q", a.ID, a.Status)
	}
	return nil
}

// ErrNewKeyRecorded is returned by ProgressAction when the planned
// rotation records another new key already (it is never replaced: that key
// would be lost to reconciliation).
var ErrNewKeyRecorded = errors.New("the rotation records another new key already")

// Outcome finishes a planned action.
type Outcome struct {
	Status ActionStatus // done or failed (or skipped, when a re-check says so)
	Reason string
	// Kind, when set, is what was done instead of the planned kind (an
	// active key at its delete stage is disabled first).
	Kind string
	// Before and After are the credential's state the re-check found and
	// the action left.
	Before string
	After  string
	At     time.Time
	// SecretTarget, when set, is where a rotation wrote its new key (the
	// secret's ARN, or ssm:/path), replacing what was recorded planned.
	SecretTarget string
}

// ActionFilter selects recorded actions; zero fields select everything.
type ActionFilter struct {
	IDs      []string
	Accounts []string
	User     string
	KeyID    string
	Status   ActionStatus
	Run      string
	// Kind selects actions of one kind (rotate, …). A store may ignore it
	// in its query: callers that need it filter the result with Match too.
	Kind string
	// Since selects actions recorded at or after it.
	Since time.Time
	// Limit bounds the result (most recent first); 0 means no bound.
	Limit int
}

// Match reports whether a is selected by f (Limit aside). Stores that
// cannot filter in their query filter with it.
func (f *ActionFilter) Match(a *Action) bool {
	switch {
	case len(f.IDs) > 0 && !slices.Contains(f.IDs, a.ID),
		len(f.Accounts) > 0 && !slices.Contains(f.Accounts, a.Account),
		f.User != "" && a.User != f.User,
		f.KeyID != "" && a.KeyID != f.KeyID,
		f.Status != "" && a.Status != f.Status,
		f.Run != "" && a.Run != f.Run,
		f.Kind != "" && a.Kind != f.Kind,
		!f.Since.IsZero() && a.At.Before(f.Since):
		return false
	}
	return true
}

// KeyRef names one access key.
type KeyRef struct {
	Account string
	User    string
	KeyID   string
}
