package remediate

import (
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
// finished in these accounts: a run killed between acting and recording.
// The credential says what happened: when it is in the action's target
// state the action is recorded done; when it is not, and the record is
// older than the lease (its run is presumed dead), failed — this run
// plans it again. Younger ones are left to their run. It returns the
// actions it finished, as plan actions, so that the run reports them.
func (e *Executor) Reconcile(ctx context.Context, accounts []string) ([]plan.Action, error) {
	pending, err := e.Audit.Actions(ctx, state.ActionFilter{Accounts: accounts, Status: state.ActionPlanned})
	if err != nil {
		return nil, fmt.Errorf("read unfinished actions: %w", err)
	}
	lease := e.Lease
	if lease <= 0 {
		lease = DefaultLease
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
		made, done, now, err := targetReached(ctx, client, &r)
		if err != nil {
			e.log().Warn("cannot reconcile an unfinished action", "action", r.ID, "error", err)
			continue
		}
		o := state.Outcome{Kind: done, Before: r.Before, After: now, At: e.now()}
		switch {
		case made:
			o.Status = state.ActionDone
			o.Reason = fmt.Sprintf("made by run %s, which stopped before recording it; confirmed by run %s (the credential is %s)", r.Run, e.RunID, now)
		case e.now().Sub(r.At) > lease:
			o.Status = state.ActionFailed
			o.Reason = fmt.Sprintf("run %s stopped before making it (the credential is still %s); it is planned again when due", r.Run, now)
		default:
			continue // its run may still be at it
		}
		if err := e.Audit.FinishAction(ctx, r.ID, o); err != nil {
			if !errors.Is(err, state.ErrActionNotPlanned) { // else its run just finished it
				e.log().Warn("cannot record the outcome of an unfinished action", "action", r.ID, "error", err)
			}
			continue
		}
		r.Status, r.Reason, r.After, r.FinishedAt = o.Status, o.Reason, o.After, o.At
		if done != "" {
			r.Kind = done
		}
		if e.OnRecord != nil {
			e.OnRecord(r)
		}
		if made && r.Kind == state.KindDisable && r.KeyID != "" {
			if err := e.Audit.RecordInactive(ctx, state.KeyRef{Account: r.Account, User: r.User, KeyID: r.KeyID}, state.Day(r.At), true); err != nil {
				e.log().Warn("cannot record when the key became inactive", "key_id", r.KeyID, "error", err)
			}
		}
		e.log().Info("unfinished action reconciled", "action", r.ID, "status", o.Status, "reason", o.Reason)
		out = append(out, fromRecord(r))
	}
	return out, nil
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
	key, _, err := recheckKey(ctx, r, a.User, a.KeyID)
	if err != nil {
		return false, "", "", err
	}
	if key == nil {
		return a.Kind == state.KindDelete, "", state.KeyDeleted, nil
	}
	now = string(key.Status)
	inactive := key.Status == types.StatusTypeInactive
	switch a.Kind {
	case state.KindDisable:
		return inactive, "", now, nil
	case state.KindDelete:
		if inactive && a.Before == state.KeyActive {
			return true, state.KindDisable, now, nil
		}
	case state.KindEnable:
		return !inactive, "", now, nil
	}
	return false, "", now, nil
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
	if r.KeyID != "" {
		return "access key " + r.KeyID
	}
	if r.Credential == policy.CredentialPassword {
		return "console password"
	}
	return r.Credential
}
