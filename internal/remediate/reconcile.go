package remediate

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/state"
)

// Reconcile finishes the actions other runs recorded as planned but never
// finished in these accounts: a run killed between acting and recording,
// or one whose write answered an error and whose re-read failed too.
// The credential says what happened: when it is in the action's target
// state the action is recorded done; when it is not, and its run is over
// (it recorded its end, or the record is older than the lease: the run is
// presumed dead), failed — this run plans it again. Younger records of
// runs that have not ended are left to their run.
//
// next are the actions this run is about to carry out (Execute's): a
// failed record on a credential one of them acts on again is left for
// Execute, which closes it as superseded by its own action right before it
// acts, and it is not returned — the new action carries the outcome. It
// returns the actions it finished, as plan actions, so that the run
// reports them.
func (e *Executor) Reconcile(ctx context.Context, accounts []string, next []plan.Action) ([]plan.Action, error) {
	pending, err := e.Audit.Actions(ctx, state.ActionFilter{Accounts: accounts, Status: state.ActionPlanned})
	if err != nil {
		return nil, fmt.Errorf("read unfinished actions: %w", err)
	}
	lease := e.Lease
	if lease <= 0 {
		lease = DefaultLease
	}
	acting := map[string]bool{}
	for _, a := range next {
		if a.Status == plan.ActionPlanned {
			acting[target(&a)] = true
		}
	}
	var ended map[string]bool // runs that recorded their end, read once when needed
	runEnded := func(id string) bool {
		if ended == nil {
			ended = map[string]bool{}
			runs, err := e.Audit.Runs(ctx, 0)
			if err != nil {
				e.log().Warn("cannot read which runs ended; unfinished actions younger than the lease are left to their runs", "error", err)
			}
			for _, r := range runs {
				ended[r.ID] = !r.FinishedAt.IsZero()
			}
		}
		return ended[id]
	}
	var out []plan.Action
	for _, r := range pending {
		if r.Run == e.RunID {
			continue
		}
		client, err := e.Clients(ctx, r.Account)
		if err != nil {
			e.log().Warn("cannot reconcile an unfinished action: no client for its account", "action", r.ID, "account", r.Account, "error", err)
			continue
		}
		// A run that recorded its end left the record planned on purpose:
		// it could not tell whether its change was made. Asked before the
		// credential is read: a run that ends after this read, having made
		// its change, is then not taken for one that did not.
		stale := e.now().Sub(r.At) > lease
		unsure := !stale && runEnded(r.Run)
		if r.Kind == state.KindRotate {
			if !stale && !unsure {
				continue // its run may still be at it
			}
			o, ok, err := e.reconcileRotation(ctx, client, &r)
			if err != nil || !ok {
				e.log().Warn("cannot reconcile an unfinished rotation", "action", r.ID, "error", err)
				continue
			}
			if e.close(ctx, r, o) {
				out = append(out, fromRecord(finished(r, o)))
			}
			continue
		}
		made, done, now, err := targetReached(ctx, client, &r)
		if err != nil {
			e.log().Warn("cannot reconcile an unfinished action", "action", r.ID, "error", err)
			continue
		}
		o := state.Outcome{Kind: done, Before: r.Before, After: now, At: e.now()}
		switch {
		case made && unsure:
			o.Status = state.ActionDone
			o.Reason = fmt.Sprintf("made by run %s, which could not confirm it (the call answered an error and the re-read failed); confirmed by run %s (the credential is %s)", r.Run, e.RunID, now)
		case made:
			o.Status = state.ActionDone
			o.Reason = fmt.Sprintf("made by run %s, which stopped before recording it; confirmed by run %s (the credential is %s)", r.Run, e.RunID, now)
		case (stale || unsure) && expiredMeanwhile(r.Kind, r.Before, now):
			want := state.KeyInactive
			if r.Kind == state.KindEnable {
				want = state.KeyActive
			}
			o.Status = state.ActionSkipped
			o.Reason = fmt.Sprintf("not made by run %s: the credential expired meanwhile (run %s finds it %s, not %s); nothing was changed",
				r.Run, e.RunID, now, want)
		case stale || unsure:
			o.Status = state.ActionFailed
			o.Reason = fmt.Sprintf("run %s stopped before making it (the credential is still %s)", r.Run, now)
			if unsure {
				o.Reason = fmt.Sprintf("not made: run %s could not confirm it, and run %s finds the credential still %s", r.Run, e.RunID, now)
			}
			if acting[r.Target()] {
				if e.superseded == nil {
					e.superseded = map[string]superseded{}
				}
				e.superseded[r.Target()] = superseded{rec: r, o: o}
				continue
			}
			o.Reason += "; it is planned again when due"
		default:
			continue // its run may still be at it
		}
		if e.close(ctx, r, o) {
			out = append(out, fromRecord(finished(r, o)))
		}
	}
	return out, nil
}

// superseded is a stale record Reconcile found unmade, with its outcome,
// waiting for the action of this run that acts on its credential again.
type superseded struct {
	rec state.Action
	o   state.Outcome
}

// close finishes a planned record of another run with o; it reports
// whether it did (else its run just finished it, or the store failed).
func (e *Executor) close(ctx context.Context, r state.Action, o state.Outcome) bool {
	if err := e.Audit.FinishAction(ctx, r.ID, o); err != nil {
		if !errors.Is(err, state.ErrActionNotPlanned) { // else its run just finished it
			e.log().Warn("cannot record the outcome of an unfinished action", "action", r.ID, "error", err)
		}
		return false
	}
	r = finished(r, o)
	if e.OnRecord != nil {
		e.OnRecord(r)
	}
	if o.Status == state.ActionDone && r.Kind == state.KindDisable && r.KeyID != "" {
		if err := e.Audit.RecordInactive(ctx, state.KeyRef{Account: r.Account, User: r.User, KeyID: r.KeyID}, state.Day(r.At), true); err != nil {
			e.log().Warn("cannot record when the key became inactive", "key_id", r.KeyID, "error", err)
		}
	}
	e.log().Info("unfinished action reconciled", "action", r.ID, "status", o.Status, "reason", o.Reason)
	return true
}

// supersede closes the stale record on a's credential, if Reconcile left
// one, as failed and superseded by a (which has its ID): a's outcome is
// the credential's, so the stale record is no failure of this run.
func (e *Executor) supersede(ctx context.Context, a *plan.Action) {
	t := target(a)
	s, ok := e.superseded[t]
	if !ok {
		return
	}
	delete(e.superseded, t)
	s.o.Reason += fmt.Sprintf("; superseded by action %s of run %s, which acts on it again", a.ID, e.RunID)
	s.o.At = e.now()
	e.close(ctx, s.rec, s.o)
}

// closeSuperseded closes the stale records no action of this run took
// over (Reconcile's next was not what Execute carried out) as plain
// failures: planned again when due.
func (e *Executor) closeSuperseded(ctx context.Context) {
	for t, s := range e.superseded {
		delete(e.superseded, t)
		s.o.Reason += "; it is planned again when due"
		e.close(ctx, s.rec, s.o)
	}
}

// finished is r closed with o.
func finished(r state.Action, o state.Outcome) state.Action {
	r.Status, r.Reason, r.Before, r.After, r.FinishedAt = o.Status, o.Reason, o.Before, o.After, o.At
	r.Kind = cmp.Or(o.Kind, r.Kind)
	r.SecretTarget = cmp.Or(o.SecretTarget, r.SecretTarget)
	return r
}

// target is the credential a plan action changes, as state.Action.Target
// names it.
func target(a *plan.Action) string {
	return (&state.Action{Account: a.Account, User: a.User, Credential: a.Credential, KeyID: a.KeyID}).Target()
}

// targetReached re-reads the credential of a recorded action: whether
// the action was made, what was done (a delete of a key the report saw
// active disables it first), and the credential's state now. The planned
// record's Before is the state the credential report showed.
func targetReached(ctx context.Context, r Reader, a *state.Action) (made bool, done, now string, err error) {
	if a.Credential == policy.CredentialPassword {
		_, err := r.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(a.User)})
		var noSuch *types.NoSuchEntityException
		switch {
		case errors.As(err, &noSuch):
			return a.Kind == state.KindRemovePassword, "", state.PasswordNone, nil
		case err != nil:
			return false, "", "", fmt.Errorf("re-check the console password of %s: %w", a.User, err)
		}
		return false, "", state.PasswordSet, nil
	}
	k := kindOf(a.Credential)
	if k == nil {
		return false, "", "", fmt.Errorf("keywarden does not change %s credentials", a.Credential)
	}
	cur, err := k.read(ctx, r, a.User, a.KeyID)
	if err != nil {
		return false, "", "", err
	}
	if cur == nil {
		return a.Kind == state.KindDelete, "", state.KeyDeleted, nil
	}
	now = string(cur.Status)
	// Only Inactive shows a disable made: Expired is IAM's own status for a
	// service-specific credential past its expiration, whoever tried what.
	disabled := cur.Status == types.StatusTypeInactive
	switch a.Kind {
	case state.KindDisable:
		return disabled, "", now, nil
	case state.KindDelete:
		if disabled && a.Before == state.KeyActive {
			return true, state.KindDisable, now, nil
		}
	case state.KindEnable:
		return cur.active(), "", now, nil
	}
	return false, "", now, nil
}

// expiredMeanwhile reports whether a change of kind (a delete of a
// credential that was active disables it first), not made, is moot
// because the credential is now Expired: IAM expired it, so there is
// nothing left to disable or re-enable. It is recorded as skipped, never
// as a disable keywarden made, and no inactive-since day is recorded for
// it: the delete stage counts its grace period from the first run that
// sees it expired, as for any expired credential.
func expiredMeanwhile(kind, before, now string) bool {
	if now != string(types.StatusTypeExpired) {
		return false
	}
	return kind == state.KindDisable || kind == state.KindEnable || kind == state.KindDelete && before == state.KeyActive
}

// fromRecord is a recorded action as a plan action; a done one was made
// on the day its run recorded it.
func fromRecord(r state.Action) plan.Action {
	a := plan.Action{ID: r.ID, Kind: r.Kind, FindingID: r.FindingID, Account: r.Account, User: r.User, Credential: r.Credential,
		KeyID: r.KeyID, Rule: r.Rule, StageAt: r.Stage, Title: title(&r), Status: string(r.Status), Reason: r.Reason,
		Done: doneKind(&r), Before: r.Before, After: r.After}
	if r.Status == state.ActionDone {
		a.On = state.Day(r.At)
	}
	return a
}

func doneKind(r *state.Action) string {
	if r.Status == state.ActionDone {
		return r.Kind
	}
	return ""
}

func title(r *state.Action) string {
	if k := kindOf(r.Credential); k != nil && r.KeyID != "" {
		return k.noun + " " + r.KeyID
	}
	if r.KeyID != "" {
		return "access key " + r.KeyID
	}
	if r.Credential == policy.CredentialPassword {
		return "console password"
	}
	return r.Credential
}
