package remediate

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/state"
)

// retiring is an old key's retire step: the rotation it belongs to and
// why it is taken now.
type retiring struct {
	rotation string
	why      string
}

// openRotation is a done rotation whose old key is not yet deleted, with
// its retiring disable (nil until the old key is disabled).
type openRotation struct {
	rot     state.Action
	disable *state.Action
}

// OpenRotations are the done rotations in accounts whose old key keywarden
// has not deleted yet, and that no undo closed, oldest first, each
// followed by its retiring disable once there is one (plan.Input.Rotations).
func OpenRotations(ctx context.Context, trail ActionReader, accounts []string) ([]state.Action, error) {
	open, err := openRotations(ctx, trail, accounts)
	out := make([]state.Action, 0, len(open))
	for _, o := range open {
		out = append(out, o.rot)
		if o.disable != nil {
			out = append(out, *o.disable)
		}
	}
	return out, err
}

// ActionReader reads the audit trail; state.Store satisfies it.
type ActionReader interface {
	Actions(ctx context.Context, f state.ActionFilter) ([]state.Action, error)
}

func openRotations(ctx context.Context, trail ActionReader, accounts []string) ([]openRotation, error) {
	recs, err := trail.Actions(ctx, state.ActionFilter{Accounts: accounts})
	if err != nil {
		return nil, fmt.Errorf("read the rotations: %w", err)
	}
	closed := map[string]bool{}
	disabled := map[string]*state.Action{}
	for i := range recs {
		r := &recs[i]
		switch {
		case r.Kind == state.KindEnable && r.UndoOf != "" && r.Status != state.ActionFailed:
			closed[r.UndoOf] = true
		case r.RotationOf == "":
		case r.After == state.KeyDeleted || r.After == state.StateNotFound:
			closed[r.RotationOf] = true // deleted, or gone meanwhile
		case r.Kind == state.KindDisable && r.After == state.KeyInactive && disabled[r.RotationOf] == nil:
			disabled[r.RotationOf] = r // disabled (or found so) by the retire step
		}
	}
	var out []openRotation
	for i := len(recs) - 1; i >= 0; i-- { // Actions lists the newest first
		r := recs[i]
		if r.Kind == state.KindRotate && r.Status == state.ActionDone && !closed[r.ID] {
			out = append(out, openRotation{rot: r, disable: disabled[r.ID]})
		}
	}
	return out, nil
}

// Advance moves each open rotation of accounts on (design 5): the old key
// is disabled once the new key has been used since the rotation, or
// rotate.overlap_days after it; then deleted once inactive for
// enforce.grace_after_disable days. Each step is an action of its own
// (RotationOf the rotation), re-checked and recorded as any disable or
// delete. It returns the actions it carried out.
func (e *Executor) Advance(ctx context.Context, accounts []string) ([]plan.Action, error) {
	open, err := openRotations(ctx, e.Audit, accounts)
	if err != nil {
		return nil, err
	}
	var out []plan.Action
	for _, o := range open {
		if e.Halt != nil && e.Halt.Err() != nil || e.stop(ctx) != "" {
			break // stopped: the next run moves it on
		}
		r := o.rot
		a := plan.Action{Account: r.Account, User: r.User, Credential: policy.CredentialAccessKey, KeyID: r.KeyID, Rule: r.Rule,
			StageAt: r.Stage, FindingID: r.FindingID, Title: "access key " + r.KeyID, Status: plan.ActionPlanned, Audiences: r.Audiences}
		var why string
		if o.disable == nil {
			rotated := state.Day(r.At)
			if !r.FinishedAt.IsZero() {
				rotated = state.Day(r.FinishedAt)
			}
			used, err := e.newKeyUsed(ctx, &r)
			switch {
			case err != nil:
				e.log().Warn("cannot tell whether a rotation's new key is used", "rotation", r.ID, "new_key_id", r.NewKeyID, "error", err)
				continue
			case used != "":
				why = fmt.Sprintf("retired by rotation %s: the new key %s was used on %s", r.ID, r.NewKeyID, used)
			case e.day() >= e.retireDay(rotated):
				why = fmt.Sprintf("retired by rotation %s: the %d days of rotate.overlap_days ended on %s (the new key %s is not used yet)",
					r.ID, e.overlapDays(), e.retireDay(rotated), r.NewKeyID)
			default:
				continue
			}
			a.Kind, a.KeyActive = config.ActionDisable, true
			why += fmt.Sprintf("; it is deleted after %d days", e.Grace)
		} else {
			since, err := e.Audit.InactiveSince(ctx, state.KeyRef{Account: r.Account, User: r.User, KeyID: r.KeyID})
			if err != nil {
				e.log().Warn("cannot read when a rotation's old key became inactive", "rotation", r.ID, "error", err)
				continue
			}
			if since == "" {
				since = state.Day(o.disable.At)
			}
			if daysBetween(since, e.day()) < e.Grace {
				continue
			}
			a.Kind = config.ActionDelete
			why = fmt.Sprintf("retired by rotation %s: inactive since %s, past the %d days of enforce.grace_after_disable", r.ID, since, e.Grace)
		}
		if e.retiring == nil {
			e.retiring = map[string]retiring{}
		}
		e.retiring[target(&a)] = retiring{rotation: r.ID, why: why}
		out = append(out, e.execute(ctx, a))
		delete(e.retiring, target(&a))
	}
	return out, nil
}

// newKeyUsed is the day the rotation's new key was last used, when that
// is after the rotation ("" when not).
func (e *Executor) newKeyUsed(ctx context.Context, r *state.Action) (string, error) {
	c, err := e.Clients(ctx, r.Account)
	if err != nil {
		return "", err
	}
	out, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(r.NewKeyID)})
	if err != nil {
		return "", fmt.Errorf("read the last use of the new key %s of %s: %w", r.NewKeyID, r.User, err)
	}
	if out.AccessKeyLastUsed == nil || out.AccessKeyLastUsed.LastUsedDate == nil {
		return "", nil
	}
	used := aws.ToTime(out.AccessKeyLastUsed.LastUsedDate)
	// IAM's last use has a granularity of about a day (hours): a use on or
	// after the rotation's day counts.
	if state.Day(used) < state.Day(r.At) {
		return "", nil
	}
	return state.Day(used), nil
}
