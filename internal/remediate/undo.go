package remediate

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keywarden/keywarden/internal/awsapi"
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
	case r.Kind == state.KindDelete:
		return nil, fmt.Errorf("%w: it deleted access key %s of %s, and a deleted key cannot be restored; the owner creates a new key (aws iam create-access-key --user-name %s)",
			ErrCannotUndo, r.KeyID, r.User, r.User)
	case r.Kind == state.KindRemovePassword:
		return nil, fmt.Errorf("%w: it removed the console password of %s, which cannot be restored; set a new one (aws iam create-login-profile --user-name %s --password-reset-required)",
			ErrCannotUndo, r.User, r.User)
	case r.Kind == state.KindEnable:
		return nil, fmt.Errorf("%w: it is itself an undo (of %s)", ErrCannotUndo, r.UndoOf)
	case r.Kind != state.KindDisable || r.KeyID == "":
		return nil, fmt.Errorf("%w: %s actions are not undone by keywarden", ErrCannotUndo, r.Kind)
	}
	u := state.Action{ID: e.nextID(), Run: e.RunID, Account: r.Account, User: r.User, Credential: r.Credential, KeyID: r.KeyID,
		Kind: state.KindEnable, Rule: r.Rule, Stage: r.Stage, FindingID: r.FindingID, Status: state.ActionPlanned,
		Before: state.KeyInactive, UndoOf: r.ID, At: e.now()}
	if err := e.record(ctx, u); err != nil {
		return nil, err
	}
	finish := func(st state.ActionStatus, reason, before, after string) *state.Action {
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
	key, _, err := recheckKey(ctx, client, r.User, r.KeyID)
	switch {
	case err != nil:
		finish(state.ActionFailed, err.Error(), "", "")
		return nil, err
	case key == nil:
		finish(state.ActionSkipped, "the key no longer exists; nothing was changed", state.StateNotFound, state.StateNotFound)
		return nil, fmt.Errorf("%w: access key %s of %s no longer exists", ErrCannotUndo, r.KeyID, r.User)
	case key.Status == types.StatusTypeActive:
		return finish(state.ActionSkipped, "the key is already active; nothing was changed", state.KeyActive, state.KeyActive), nil
	}
	note := ""
	if _, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(r.User), AccessKeyId: aws.String(r.KeyID),
		Status: types.StatusTypeActive}); err != nil {
		err = fmt.Errorf("re-enable access key %s of %s in account %s: %w", r.KeyID, r.User, r.Account, err)
		// The write may have taken effect and its answer been lost: the
		// key as IAM now has it decides the record.
		now, rerr := keyStatusAfter(ctx, client, r.User, r.KeyID)
		switch {
		case rerr != nil:
			err = fmt.Errorf("%w; and re-reading the key failed, so whether it is enabled is unknown (keywarden history shows it failed; check the key): %w", err, rerr)
			finish(state.ActionFailed, err.Error(), state.KeyInactive, "")
			return nil, err
		case now == state.KeyActive:
			note = " (IAM answered " + cmp.Or(awsapi.ErrorCode(err), "no answer") + ", but the key is active: the write took effect)"
		default:
			finish(state.ActionFailed, err.Error(), state.KeyInactive, now)
			return nil, err
		}
	}
	if err := e.Audit.ForgetInactive(ctx, state.KeyRef{Account: r.Account, User: r.User, KeyID: r.KeyID}); err != nil {
		e.log().Warn("key re-enabled, but its inactive record is kept", "key_id", r.KeyID, "error", err)
	}
	return finish(state.ActionDone, "re-enabled: undo of "+r.ID+note, state.KeyInactive, state.KeyActive), nil
}

// keyStatusAfter re-reads an access key after a write that answered an
// error: Active, Inactive, or not found. (Undo's own: remediation's
// outcome logic re-reads keys in remediate.go.)
func keyStatusAfter(ctx context.Context, r Reader, user, keyID string) (string, error) {
	p := iam.NewListAccessKeysPaginator(r, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		var noSuch *types.NoSuchEntityException
		if errors.As(err, &noSuch) {
			return state.StateNotFound, nil
		}
		if err != nil {
			return "", fmt.Errorf("re-read the access keys of %s: %w", user, err)
		}
		for _, k := range out.AccessKeyMetadata {
			if aws.ToString(k.AccessKeyId) == keyID {
				if k.Status == types.StatusTypeActive {
					return state.KeyActive, nil
				}
				return state.KeyInactive, nil
			}
		}
	}
	return state.StateNotFound, nil
}
