package remediate

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/state"
)

// ErrCannotUndo is returned (wrapped, with the reason) for an action that
// cannot be undone.
var ErrCannotUndo = errors.New("cannot be undone")

// Undo re-enables the keys that the recorded actions ids disabled, each
// re-checked first and recorded as an enable action (UndoOf the original).
// It returns the enable records, one per id that could be undone; the
// error joins what could not (unknown IDs, deletes, keys gone, failures).
func (e *Executor) Undo(ctx context.Context, ids []string) ([]state.Action, error) {
	recs, err := e.Audit.Actions(ctx, state.ActionFilter{IDs: ids})
	if err != nil {
		return nil, fmt.Errorf("read actions: %w", err)
	}
	byID := map[string]state.Action{}
	for _, r := range recs {
		byID[r.ID] = r
	}
	var out []state.Action
	var errs []error
	for _, id := range ids {
		r, ok := byID[id]
		if !ok {
			errs = append(errs, fmt.Errorf("action %s: no such action in the state (see keywarden history)", id))
			continue
		}
		u, err := e.undo(ctx, r)
		if err != nil {
			errs = append(errs, fmt.Errorf("action %s: %w", id, err))
		}
		if u != nil {
			out = append(out, *u)
		}
	}
	return out, errors.Join(errs...)
}

func (e *Executor) undo(ctx context.Context, r state.Action) (*state.Action, error) {
	switch {
	case r.Status != state.ActionDone:
		return nil, fmt.Errorf("%w: it was not done (status %s)", ErrCannotUndo, r.Status)
	case r.Kind == state.KindDelete && kindOf(r.Credential) != nil:
		k := kindOf(r.Credential)
		return nil, fmt.Errorf("%w: it deleted %s %s of %s, and "+k.recreate, ErrCannotUndo, k.noun, r.KeyID, r.User, r.User)
	case r.Kind == state.KindRemovePassword:
		return nil, fmt.Errorf("%w: it removed the console password of %s, which cannot be restored; set a new one (aws iam create-login-profile --user-name %s --password-reset-required)",
			ErrCannotUndo, r.User, r.User)
	case r.Kind == state.KindEnable:
		return nil, fmt.Errorf("%w: it is itself an undo (of %s)", ErrCannotUndo, r.UndoOf)
	case r.Kind == state.KindRotate:
		return e.undoRotation(ctx, r)
	case r.Kind != state.KindDisable || r.KeyID == "" || kindOf(r.Credential) == nil:
		return nil, fmt.Errorf("%w: %s actions are not undone by keywarden", ErrCannotUndo, r.Kind)
	}
	return e.reenable(ctx, r, r.ID, "")
}

// undoRotation undoes rotation r (design 6): the old key is re-enabled if
// its retire step disabled it; the new key stays where it was written
// (nothing is deleted), and the undo record, UndoOf the rotation, says so
// and closes the rotation (no further retire step).
func (e *Executor) undoRotation(ctx context.Context, r state.Action) (*state.Action, error) {
	recs, err := e.Audit.Actions(ctx, state.ActionFilter{Accounts: []string{r.Account}, User: r.User, KeyID: r.KeyID})
	if err != nil {
		return nil, fmt.Errorf("read the retire steps of rotation %s: %w", r.ID, err)
	}
	stays := fmt.Sprintf("; the new key %s stays (in %s): delete it yourself if it is not wanted", r.NewKeyID, r.SecretTarget)
	for _, d := range recs {
		switch {
		case d.RotationOf != r.ID || d.Status != state.ActionDone:
		case d.Kind == state.KindDelete:
			return nil, fmt.Errorf("%w: rotation %s deleted the old key %s (action %s)%s", ErrCannotUndo, r.ID, r.KeyID, d.ID, stays)
		case d.Kind == state.KindDisable:
			return e.reenable(ctx, d, r.ID, stays)
		}
	}
	u := state.Action{ID: e.nextID(), Run: e.RunID, Account: r.Account, User: r.User, Credential: r.Credential, KeyID: r.KeyID,
		Kind: state.KindEnable, Rule: r.Rule, Stage: r.Stage, FindingID: r.FindingID, Status: state.ActionSkipped,
		Reason: "undo of rotation " + r.ID + ": the old key was not disabled, and it is no longer retired" + stays,
		Before: state.KeyActive, After: state.KeyActive, UndoOf: r.ID, At: e.now()}
	if err := e.record(ctx, u); err != nil {
		return nil, err
	}
	return &u, nil
}

// reenable re-enables the key r disabled, recorded as an enable UndoOf
// undoOf, note ending its reason.
func (e *Executor) reenable(ctx context.Context, r state.Action, undoOf, note string) (*state.Action, error) {
	k := kindOf(r.Credential)
	u := state.Action{ID: e.nextID(), Run: e.RunID, Account: r.Account, User: r.User, Credential: r.Credential, KeyID: r.KeyID,
		Kind: state.KindEnable, Rule: r.Rule, Stage: r.Stage, FindingID: r.FindingID, Status: state.ActionPlanned,
		Before: state.KeyInactive, UndoOf: undoOf, At: e.now()}
	extra := note
	if err := e.record(ctx, u); err != nil {
		return nil, err
	}
	finish := func(st state.ActionStatus, reason, before, after string) *state.Action {
		reason += extra
		u.Status, u.Reason, u.Before, u.After, u.FinishedAt = st, reason, before, after, e.now()
		if err := e.Audit.FinishAction(ctx, u.ID, state.Outcome{Status: st, Reason: reason, Before: before, After: after, At: u.FinishedAt}); err != nil {
			e.log().Error("cannot record the outcome of the undo", "id", u.ID, "error", err)
		} else if e.OnRecord != nil {
			e.OnRecord(u)
		}
		return &u
	}
	client, err := e.Clients(ctx, r.Account)
	if err != nil {
		finish(state.ActionFailed, err.Error(), "", "")
		return nil, err
	}
	cur, err := k.read(ctx, client, r.User, r.KeyID)
	switch {
	case err != nil:
		finish(state.ActionFailed, err.Error(), "", "")
		return nil, err
	case cur == nil:
		finish(state.ActionSkipped, "the "+k.short+" no longer exists; nothing was changed", state.StateNotFound, state.StateNotFound)
		return nil, fmt.Errorf("%w: %s %s of %s no longer exists", ErrCannotUndo, k.noun, r.KeyID, r.User)
	case cur.active():
		return finish(state.ActionSkipped, "the "+k.short+" is already active; nothing was changed", state.KeyActive, state.KeyActive), nil
	case cur.Status != types.StatusTypeInactive:
		// Expired: IAM sets it, and re-enabling cannot make it usable.
		finish(state.ActionSkipped, fmt.Sprintf("the %s is %s; nothing was changed", k.short, cur.Status), string(cur.Status), string(cur.Status))
		return nil, fmt.Errorf("%w: %s %s of %s is %s, which re-enabling cannot change", ErrCannotUndo, k.noun, r.KeyID, r.User, cur.Status)
	}
	note = ""
	if err := k.setStatus(ctx, client, r.User, r.KeyID, types.StatusTypeActive); err != nil {
		werr := fmt.Errorf("re-enable %s %s of %s in account %s: %w", k.noun, r.KeyID, r.User, r.Account, err)
		a := plan.Action{ID: u.ID, Account: r.Account, User: r.User, Credential: r.Credential, KeyID: r.KeyID, Before: state.KeyInactive}
		if note, err = e.confirm(ctx, client, &a, state.KindEnable, werr); err != nil {
			if expiredMeanwhile(state.KindEnable, state.KeyInactive, a.After) {
				finish(state.ActionSkipped, fmt.Sprintf("the %s expired meanwhile: the re-enable answered an error and a re-read shows it %s; nothing was changed (%v)",
					k.short, a.After, werr), state.KeyInactive, a.After)
				return nil, fmt.Errorf("%w: %s %s of %s expired meanwhile (%s), which re-enabling cannot change", ErrCannotUndo, k.noun, r.KeyID, r.User, a.After)
			}
			var unknown *unconfirmedError
			if !errors.As(err, &unknown) { // else the record stays planned: the next run re-reads the key
				finish(state.ActionFailed, err.Error(), state.KeyInactive, cmp.Or(a.After, state.KeyInactive))
			}
			return nil, err
		}
	}
	if err := e.Audit.ForgetInactive(ctx, state.KeyRef{Account: r.Account, User: r.User, KeyID: r.KeyID}); err != nil {
		e.log().Warn(k.short+" re-enabled, but its inactive record is kept", "key_id", r.KeyID, "error", err)
	}
	return finish(state.ActionDone, "re-enabled: undo of "+undoOf+note, state.KeyInactive, state.KeyActive), nil
}
