package remediate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/state"
)

// Reader is the part of the IAM API that re-checks a credential.
type Reader interface {
	ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, optFns ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, optFns ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
	GetUser(ctx context.Context, in *iam.GetUserInput, optFns ...func(*iam.Options)) (*iam.GetUserOutput, error)
	GetLoginProfile(ctx context.Context, in *iam.GetLoginProfileInput, optFns ...func(*iam.Options)) (*iam.GetLoginProfileOutput, error)
	ListSigningCertificates(ctx context.Context, in *iam.ListSigningCertificatesInput, optFns ...func(*iam.Options)) (*iam.ListSigningCertificatesOutput, error)
	// ListServiceSpecificCredentials is asked per user (UserName).
	ListServiceSpecificCredentials(ctx context.Context, in *iam.ListServiceSpecificCredentialsInput, optFns ...func(*iam.Options)) (*iam.ListServiceSpecificCredentialsOutput, error)
}

// Writer is the part of the IAM API that changes credentials: the seam a
// dry run replaces (with a client whose writes change nothing).
type Writer interface {
	UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error)
	DeleteAccessKey(ctx context.Context, in *iam.DeleteAccessKeyInput, optFns ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error)
	DeleteLoginProfile(ctx context.Context, in *iam.DeleteLoginProfileInput, optFns ...func(*iam.Options)) (*iam.DeleteLoginProfileOutput, error)
	UpdateSigningCertificate(ctx context.Context, in *iam.UpdateSigningCertificateInput, optFns ...func(*iam.Options)) (*iam.UpdateSigningCertificateOutput, error)
	DeleteSigningCertificate(ctx context.Context, in *iam.DeleteSigningCertificateInput, optFns ...func(*iam.Options)) (*iam.DeleteSigningCertificateOutput, error)
	UpdateServiceSpecificCredential(ctx context.Context, in *iam.UpdateServiceSpecificCredentialInput, optFns ...func(*iam.Options)) (*iam.UpdateServiceSpecificCredentialOutput, error)
	DeleteServiceSpecificCredential(ctx context.Context, in *iam.DeleteServiceSpecificCredentialInput, optFns ...func(*iam.Options)) (*iam.DeleteServiceSpecificCredentialOutput, error)
}

// IAM is what the executor needs of one account; *iam.Client satisfies it.
type IAM interface {
	Reader
	Writer
}

var _ IAM = (*iam.Client)(nil)

// Audit is where actions are recorded; state.Store satisfies it.
type Audit interface {
	RecordAction(ctx context.Context, a state.Action) error
	FinishAction(ctx context.Context, id string, o state.Outcome) error
	// ProgressAction records a rotation's new key before it is written.
	ProgressAction(ctx context.Context, id, newKeyID string) error
	Actions(ctx context.Context, f state.ActionFilter) ([]state.Action, error)
	InactiveSince(ctx context.Context, k state.KeyRef) (string, error)
	RecordInactive(ctx context.Context, k state.KeyRef, day string, replace bool) error
	ForgetInactive(ctx context.Context, k state.KeyRef) error
	// Runs tells Reconcile which runs ended.
	Runs(ctx context.Context, limit int) ([]state.Run, error)
}

var _ Audit = state.Store(nil)

// DefaultLease is how old a planned action of another run must be before
// a run that finds it unfinished, and cannot confirm it was made, marks it
// failed (the other run is presumed dead).
const DefaultLease = state.DefaultLease

// Executor carries out a plan's actions, one account's IAM at a time,
// re-checking each credential first and recording every step.
type Executor struct {
	// Clients returns the IAM client of an account (its scan's
	// credentials).
	Clients func(ctx context.Context, account string) (IAM, error)
	// Audit records every step (a dry run's records nothing).
	Audit Audit
	// RunID names the run; action IDs are RunID.N.
	RunID string
	// AsOf is when the run acts (the wall clock, or a forced --as-of): its
	// UTC day counts the grace period and is the day a key is recorded
	// inactive, and the re-checks compare the last use with it.
	AsOf time.Time
	// ForcedAsOf, when set, is the --as-of the run was forced to act at:
	// stamped on every record.
	ForcedAsOf time.Time
	// Now is the wall clock of the records (default: AsOf).
	Now func() time.Time
	// Grace is enforce.grace_after_disable, in days.
	Grace int
	// Rotate is the rotate config (secret_name, overlap_days,
	// create_secret), and Targets the Secrets Manager and SSM clients of an
	// account, where rotations write (nil: no rotation can be made).
	Rotate  config.Rotate
	Targets func(ctx context.Context, account string) (Targets, error)
	// Lease is DefaultLease when zero.
	Lease time.Duration
	// OnRecord, when set, sees every record as it is written (the JSON
	// lines audit file).
	OnRecord func(state.Action)
	Logger   *slog.Logger
	// Stop, when set, is asked before each action whether to take no more
	// (the emergency stop): a reason stops this action and every later one,
	// each recorded as skipped with it; "" lets it go ahead.
	Stop func(ctx context.Context) string
	// Halt, when set and done, starts no further action (a signal, the
	// Lambda's work deadline): the actions not started are returned
	// planned, without an ID and unrecorded, with its cause as their
	// reason, for the next run to carry out. The action in flight is
	// finished under Execute's own context.
	Halt context.Context

	seq     int
	stopped string
	// superseded holds, by credential, the stale records Reconcile found
	// unmade that this run acts on again: Execute closes each as failed,
	// superseded by its own action, right before it takes the lock.
	superseded map[string]superseded
}

func (e *Executor) now() time.Time {
	if e.Now == nil {
		return e.AsOf.UTC()
	}
	return e.Now().UTC()
}

func (e *Executor) day() string { return state.Day(e.AsOf) }

func (e *Executor) log() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
}

func (e *Executor) nextID() string {
	e.seq++
	return fmt.Sprintf("%s.%d", e.RunID, e.seq)
}

// Execute carries out the planned actions and records every one the plan
// decided (planned; blocked and skipped as skipped); listed and waiting
// actions are left as they are, unrecorded, and so are the planned ones
// once Halt is done (NotStarted). It returns the actions with their
// outcomes, in order.
func (e *Executor) Execute(ctx context.Context, actions []plan.Action) []plan.Action {
	out := make([]plan.Action, len(actions))
	for i, a := range actions {
		switch a.Status {
		case plan.ActionPlanned:
			if e.Halt != nil && e.Halt.Err() != nil {
				a.Reason = NotStarted(context.Cause(e.Halt))
				out[i] = a
				continue
			}
			if reason := e.stop(ctx); reason != "" {
				a.ID = e.nextID()
				e.supersede(ctx, &a)
				out[i] = e.skip(ctx, a, reason)
				continue
			}
			out[i] = e.execute(ctx, a)
		case plan.ActionBlocked, plan.ActionSkipped:
			// Decided against by the plan (a guard, keywarden's own key):
			// recorded as skipped; a blocked action stays blocked in the
			// plan, so the run reports the guard.
			a.ID = e.nextID()
			e.record(ctx, e.newRecord(&a, state.ActionSkipped, a.Reason))
			out[i] = a
		default:
			out[i] = a
		}
	}
	e.closeSuperseded(ctx)
	return out
}

// NotStarted is the reason of an action Execute did not start because
// its run was stopped (cause).
func NotStarted(cause error) string {
	return "not started: " + cause.Error() + "; the next run carries it out"
}

// newRecord is the audit record of a (with a.ID).
func (e *Executor) newRecord(a *plan.Action, st state.ActionStatus, reason string) state.Action {
	return state.Action{ID: a.ID, Run: e.RunID, Account: a.Account, User: a.User, Credential: a.Credential, KeyID: a.KeyID,
		Kind: a.Kind, Rule: a.Rule, Stage: a.StageAt, FindingID: a.FindingID, Status: st, Reason: reason,
		Before: a.Before, After: a.After, At: e.now(), ForcedAsOf: e.ForcedAsOf, Audiences: a.Audiences, SecretTarget: a.Target,
		RotationOf: a.RotationOf}
}

// retireWhy is why a rotation's retiring step (a.RotationOf, planned by
// the plan) is taken; ok is false for any other action.
func retireWhy(a *plan.Action) (string, bool) {
	if a.RotationOf == "" {
		return "", false
	}
	return "retired by rotation " + a.RotationOf, true
}

// record writes a finished (skipped) record, or a planned one.
func (e *Executor) record(ctx context.Context, r state.Action) error {
	if err := e.Audit.RecordAction(ctx, r); err != nil {
		e.log().Error("cannot record action", "id", r.ID, "error", err)
		return err
	}
	if e.OnRecord != nil {
		e.OnRecord(r)
	}
	return nil
}

// finish closes a planned record with a's outcome.
func (e *Executor) finish(ctx context.Context, r state.Action, a *plan.Action) {
	o := state.Outcome{Status: state.ActionStatus(a.Status), Reason: a.Reason, Kind: a.Done, Before: a.Before, After: a.After, At: e.now()}
	if a.Kind == config.ActionRotate && a.Status == plan.ActionDone {
		o.Kind, o.SecretTarget = "", a.Target
	}
	if err := e.Audit.FinishAction(ctx, r.ID, o); err != nil {
		e.log().Error("cannot record the outcome of an action", "id", r.ID, "status", o.Status, "error", err)
		return
	}
	if e.OnRecord != nil {
		e.OnRecord(finished(r, o))
	}
}

// execute records a as planned (the in-flight lock), re-checks the
// credential, acts, and records the outcome — after a write that answered
// an error, the outcome a re-read of the credential shows (confirm). A done action is not logged
// here: the caller reports it (a dry run's was made against a client that
// changes nothing).
func (e *Executor) execute(ctx context.Context, a plan.Action) plan.Action {
	a.ID = e.nextID()
	e.supersede(ctx, &a)
	log := e.log().With("action", a.ID, "account", a.Account, "user", a.User, "key_id", a.KeyID, "kind", a.Kind)
	if k := kindOf(a.Credential); k != nil && a.KeyID == "" {
		return e.skip(ctx, a, "the "+k.noun+"'s ID is not known (it could not be matched to the credential report); nothing was changed")
	}
	// The planned record's Before is what the report saw; the re-check
	// under the lock replaces it.
	a.Before = reportState(&a)
	r := e.newRecord(&a, state.ActionPlanned, "")
	if err := e.record(ctx, r); err != nil {
		if errors.Is(err, state.ErrActionInFlight) {
			a.Status, a.Reason = plan.ActionSkipped, "another keywarden run is acting on this credential now ("+err.Error()+"); nothing was changed"
			log.Warn("action skipped", "reason", a.Reason)
			return a
		}
		a.Status, a.Reason = plan.ActionFailed, "cannot record the action before making it, so it was not made: "+err.Error()
		return a
	}
	client, err := e.Clients(ctx, a.Account)
	if err == nil {
		err = e.act(ctx, client, &a)
	}
	var unknown *unconfirmedError
	switch {
	case errors.As(err, &unknown):
		// The record stays planned: the next run's Reconcile re-reads the
		// credential and records what it finds, instead of trusting a
		// failure that may have been made.
		a.Status, a.Reason, a.Unsettled = plan.ActionFailed, err.Error(), true
		log.Error("action failed, and whether it was made is not known; its record stays planned for the next run to re-read", "error", err)
		return a
	case err != nil:
		a.Status, a.Reason = plan.ActionFailed, err.Error()
		log.Error("action failed", "error", err)
	case a.Status == plan.ActionSkipped:
		log.Info("action skipped", "reason", a.Reason)
	}
	e.finish(ctx, r, &a)
	return a
}

// skip records a as skipped at once.
func (e *Executor) skip(ctx context.Context, a plan.Action, reason string) plan.Action {
	a.Status, a.Reason = plan.ActionSkipped, reason
	e.record(ctx, e.newRecord(&a, state.ActionSkipped, reason))
	e.log().Info("action skipped", "action", a.ID, "account", a.Account, "user", a.User, "key_id", a.KeyID, "reason", reason)
	return a
}

// act re-checks a's credential and changes it; it sets a's status (done or
// skipped), reason, before and after. An error means the action failed.
func (e *Executor) act(ctx context.Context, c IAM, a *plan.Action) error {
	if a.Credential == policy.CredentialPassword {
		return e.removePassword(ctx, c, a)
	}
	k := kindOf(a.Credential)
	if k == nil {
		return fmt.Errorf("keywarden does not change %s credentials (%s of %s in account %s)", a.Credential, a.Kind, a.User, a.Account)
	}
	cur, err := k.read(ctx, c, a.User, a.KeyID)
	if err != nil {
		return err
	}
	if cur == nil {
		a.Status, a.Before, a.After = plan.ActionSkipped, state.StateNotFound, state.StateNotFound
		a.Reason = fmt.Sprintf("the %s no longer exists (%s); nothing was changed", k.short, k.gone)
		return nil
	}
	a.Before = string(cur.Status)
	if !a.KeyCreated.IsZero() && !cur.Created.Truncate(time.Second).Equal(a.KeyCreated.Truncate(time.Second)) {
		a.Status, a.After = plan.ActionSkipped, a.Before
		a.Reason = fmt.Sprintf("the %s was %s %s, not %s as in %s: it was %s since; nothing was changed", k.short, k.created,
			cur.Created.UTC().Format(time.RFC3339), a.KeyCreated.UTC().Format(time.RFC3339), k.source, k.replaced)
		return nil
	}
	if a.Rule == config.RuleAccessKeyUnused {
		if cutoff := e.AsOf.AddDate(0, 0, -a.StageAt); cur.LastUsed.After(cutoff) {
			a.Status, a.After = plan.ActionSkipped, a.Before
			a.Reason = fmt.Sprintf("the key was used on %s, since the credential report: it is no longer unused for %d days; nothing was changed",
				cur.LastUsed.UTC().Format(time.RFC3339), a.StageAt)
			return nil
		}
	}
	ref := state.KeyRef{Account: a.Account, User: a.User, KeyID: a.KeyID}
	active := cur.active()
	if a.Kind == config.ActionRotate {
		if !active {
			a.Status, a.After = plan.ActionSkipped, a.Before
			a.Reason = fmt.Sprintf("the key is %s: only an active key is rotated; nothing was created", strings.ToLower(string(cur.Status)))
			return nil
		}
		return e.rotate(ctx, c, a)
	}
	if a.Kind == config.ActionDelete && a.RotationOf != "" && active {
		// A retiring delete never disables: the rotation's disable was undone by hand.
		a.Status, a.After = plan.ActionSkipped, a.Before
		a.Reason = ReasonRetireReenabled
		return nil
	}
	switch {
	case a.Kind == config.ActionDisable && !active:
		// The state moved since the plan (or the report): nothing to disable.
		a.Status, a.After = plan.ActionSkipped, a.Before
		a.Reason = fmt.Sprintf("the %s is already %s; nothing was changed", k.short, strings.ToLower(string(cur.Status)))
		return nil
	case a.Kind == config.ActionDisable || a.Kind == config.ActionDelete && active:
		var note string
		if err := k.setStatus(ctx, c, a.User, a.KeyID, types.StatusTypeInactive); err != nil {
			werr := fmt.Errorf("disable %s %s of %s in account %s: %w", k.noun, a.KeyID, a.User, a.Account, err)
			if note, err = e.confirm(ctx, c, a, state.KindDisable, werr); err != nil {
				if expiredMeanwhile(state.KindDisable, a.Before, a.After) {
					a.Status = plan.ActionSkipped
					a.Reason = fmt.Sprintf("the %s expired meanwhile: the disable answered an error and a re-read shows it %s, not %s; nothing was changed (%v)",
						k.short, a.After, state.KeyInactive, werr)
					return nil
				}
				return err
			}
		}
		a.Status, a.Done, a.After = plan.ActionDone, config.ActionDisable, state.KeyInactive
		a.Reason = fmt.Sprintf("disabled: the %s reached its %d-day %s stage", k.short, a.StageAt, a.Kind)
		if why, ok := retireWhy(a); ok {
			a.Reason = "disabled: " + why
		} else if a.Kind == config.ActionDelete {
			a.DeleteOn = state.AddDays(e.day(), e.Grace)
			a.Reason += fmt.Sprintf(" while active, so it is disabled first and deleted once inactive for %d days (on %s)", e.Grace, a.DeleteOn)
		}
		a.Reason += note
		// The credential is disabled whatever the state says: a failure to
		// record the day is not the action's. The next run that sees it
		// inactive records its own day, so the grace period can only start
		// later, never sooner; the store's error is the run's (its headline).
		if err := e.Audit.RecordInactive(ctx, ref, e.day(), true); err != nil {
			e.log().Error(k.short+" disabled, but the day it became inactive is not recorded; the grace period counts from the next run that sees it inactive",
				"key_id", a.KeyID, "error", err)
		}
		return nil
	}
	// Delete an inactive (or expired) credential, once it has been inactive
	// for the grace period.
	since, err := e.inactiveSince(ctx, ref)
	if err != nil {
		return err
	}
	if days := daysBetween(since, e.day()); days < e.Grace {
		a.Status, a.After, a.DeleteOn = plan.ActionSkipped, a.Before, state.AddDays(since, e.Grace)
		a.Reason = fmt.Sprintf("inactive since %s (%d of the %d days of enforce.grace_after_disable): it will be deleted on %s",
			since, days, e.Grace, a.DeleteOn)
		return nil
	}
	var note string
	if err := k.remove(ctx, c, a.User, a.KeyID); err != nil {
		werr := fmt.Errorf("delete %s %s of %s in account %s: %w", k.noun, a.KeyID, a.User, a.Account, err)
		if note, err = e.confirm(ctx, c, a, state.KindDelete, werr); err != nil {
			return err
		}
	}
	a.Status, a.Done, a.After = plan.ActionDone, config.ActionDelete, state.KeyDeleted
	a.Reason = fmt.Sprintf("deleted: inactive since %s, past the %d days of enforce.grace_after_disable", since, e.Grace) + note
	if why, ok := retireWhy(a); ok {
		a.Reason = "deleted: " + why + note
	}
	if err := e.Audit.ForgetInactive(ctx, ref); err != nil {
		e.log().Warn(k.short+" deleted, but its inactive record is kept", "key_id", a.KeyID, "error", err)
	}
	return nil
}

// inactiveSince is the day keywarden first knew the key inactive,
// recording today when it knew nothing.
func (e *Executor) inactiveSince(ctx context.Context, k state.KeyRef) (string, error) {
	since, err := e.Audit.InactiveSince(ctx, k)
	if err != nil {
		return "", err
	}
	if since != "" {
		return since, nil
	}
	return e.day(), e.Audit.RecordInactive(ctx, k, e.day(), false)
}

func (e *Executor) removePassword(ctx context.Context, c IAM, a *plan.Action) error {
	_, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(a.User)})
	var noSuch *types.NoSuchEntityException
	switch {
	case errors.As(err, &noSuch):
		a.Status, a.Before, a.After = plan.ActionSkipped, state.PasswordNone, state.PasswordNone
		a.Reason = "the user has no console password any more; nothing was changed"
		return nil
	case err != nil:
		return fmt.Errorf("re-check the console password of %s in account %s: %w", a.User, a.Account, err)
	}
	a.Before = state.PasswordSet
	if a.Rule == config.RulePasswordUnused {
		u, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(a.User)})
		if err != nil {
			return fmt.Errorf("re-check when %s in account %s last signed in: %w", a.User, a.Account, err)
		}
		if used := aws.ToTime(u.User.PasswordLastUsed); used.After(e.AsOf.AddDate(0, 0, -a.StageAt)) {
			a.Status, a.After = plan.ActionSkipped, a.Before
			a.Reason = fmt.Sprintf("the password was used on %s, since the credential report; nothing was changed", used.UTC().Format(time.RFC3339))
			return nil
		}
	}
	var note string
	if _, err := c.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String(a.User)}); err != nil {
		werr := fmt.Errorf("remove the console password of %s in account %s: %w", a.User, a.Account, err)
		if note, err = e.confirm(ctx, c, a, state.KindRemovePassword, werr); err != nil {
			return err
		}
	}
	a.Status, a.Done, a.After = plan.ActionDone, config.ActionRemovePassword, state.PasswordNone
	a.Reason = fmt.Sprintf("console password removed: not used for %d days or more", a.StageAt) + note
	return nil
}

// recheckKey reads the key's current metadata and last use; a nil key
// means it no longer exists (or its user does not).
func recheckKey(ctx context.Context, r Reader, user, keyID string) (*types.AccessKeyMetadata, time.Time, error) {
	p := iam.NewListAccessKeysPaginator(r, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	var key *types.AccessKeyMetadata
	for p.HasMorePages() && key == nil {
		out, err := p.NextPage(ctx)
		var noSuch *types.NoSuchEntityException
		if errors.As(err, &noSuch) {
			return nil, time.Time{}, nil
		}
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("re-check the access keys of %s: %w", user, err)
		}
		for i := range out.AccessKeyMetadata {
			if aws.ToString(out.AccessKeyMetadata[i].AccessKeyId) == keyID {
				key = &out.AccessKeyMetadata[i]
			}
		}
	}
	if key == nil {
		return nil, time.Time{}, nil
	}
	lu, err := r.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(keyID)})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("re-check the last use of access key %s of %s: %w", keyID, user, err)
	}
	var used time.Time
	if lu.AccessKeyLastUsed != nil {
		used = aws.ToTime(lu.AccessKeyLastUsed.LastUsedDate)
	}
	return key, used, nil
}

// reportState is the credential's state as the credential report saw it.
func reportState(a *plan.Action) string {
	switch {
	case a.Credential == policy.CredentialPassword:
		return state.PasswordSet
	case a.KeyActive:
		return state.KeyActive
	}
	return state.KeyInactive
}

func daysBetween(from, to string) int {
	a, err1 := time.Parse(state.DayLayout, from)
	b, err2 := time.Parse(state.DayLayout, to)
	if err1 != nil || err2 != nil {
		return 0
	}
	return int(b.Sub(a).Hours() / 24)
}

// ConfirmTimeout bounds the re-read of a credential after a write
// answered an error (the SDK's retries included).
const ConfirmTimeout = 30 * time.Second

// unconfirmedError is a write that answered an error and a re-read that
// failed too: whether the change was made is not known.
type unconfirmedError struct{ write, read error }

func (u *unconfirmedError) Error() string {
	return fmt.Sprintf("the change may or may not have been made; the next run re-reads it (%v; re-reading it failed too: %v)", u.write, u.read)
}

func (u *unconfirmedError) Unwrap() error { return u.write }

// confirm settles a write of kind on a's credential that answered werr
// from the credential itself: an SDK retry of a write whose first attempt
// took effect (or whose answer was lost) answers an error for a change
// that was made. The credential is re-read with a context that is not
// cancelled with ctx, bounded by ConfirmTimeout. When the change is
// there, confirm returns a note for the done action's reason and no
// error; a delete answered NoSuchEntity is done ("already deleted"). When
// the re-read shows the old state, it returns werr (the action failed);
// when the re-read fails too, an *unconfirmedError.
func (e *Executor) confirm(ctx context.Context, c Reader, a *plan.Action, kind string, werr error) (string, error) {
	var noSuch *types.NoSuchEntityException
	if errors.As(werr, &noSuch) && (kind == state.KindDelete || kind == state.KindRemovePassword) {
		what := map[string]string{state.KindDelete: "deleted", state.KindRemovePassword: "removed"}[kind]
		e.log().Warn("the write answered NoSuchEntity: already made", "action", a.ID, "kind", kind, "error", werr)
		return fmt.Sprintf(" (already %s: IAM answered NoSuchEntity, as it does to a retry whose first attempt made the change)", what), nil
	}
	// Not cancelled with the run (a signal, the work deadline), but never
	// past the run's own deadline (the Lambda's): ConfirmTimeout or that,
	// whichever comes first.
	deadline := time.Now().Add(ConfirmTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	rctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	rec := state.Action{Account: a.Account, User: a.User, Credential: a.Credential, KeyID: a.KeyID, Kind: kind, Before: a.Before}
	made, _, now, err := targetReached(rctx, c, &rec)
	if err != nil {
		return "", &unconfirmedError{write: werr, read: err}
	}
	if !made {
		a.After = now
		return "", fmt.Errorf("%w (a re-read shows %s: not made)", werr, shows(a, now))
	}
	e.log().Warn("the write answered an error, but a re-read shows it made", "action", a.ID, "kind", kind, "state", now, "error", werr)
	return fmt.Sprintf(" (the call answered an error, but a re-read shows %s)", shows(a, now)), nil
}

// shows is a credential's state as a re-read shows it: "the key
// Inactive", "the certificate Inactive", "no console password".
func shows(a *plan.Action, now string) string {
	switch {
	case a.Credential != policy.CredentialPassword:
		short := "key"
		if k := kindOf(a.Credential); k != nil {
			short = k.short
		}
		return "the " + short + " " + now
	case now == state.PasswordNone:
		return "no console password"
	}
	return "the console password still set"
}
