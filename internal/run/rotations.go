package run

import (
	"context"
	"errors"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/state"
)

// rotations reads the open rotations of the scanned accounts for the plan
// (plan.Input.Rotations): the done rotations whose old key the scan still
// found (a key gone needs no retiring) or that disabled it (an inactive
// key may have no finding), and the records on each old key
// that retire or undo it. The store may not filter by kind in its query:
// the result is filtered here.
func (r *runner) rotations(ctx context.Context) ([]state.Action, error) {
	rep := r.res.Report
	ids := make([]string, len(rep.Accounts))
	for i, a := range rep.Accounts {
		ids[i] = a.ID
	}
	found := map[string]bool{}
	for _, f := range rep.Findings {
		if f.Credential == policy.CredentialAccessKey && f.KeyID != "" {
			found[f.Account+"/"+f.KeyID] = true
		}
	}
	filter := state.ActionFilter{Accounts: ids, Kind: state.KindRotate, Status: state.ActionDone}
	recs, err := r.store.Actions(ctx, filter)
	if err != nil {
		return nil, err
	}
	var out []state.Action
	for _, rot := range recs {
		if !filter.Match(&rot) {
			continue
		}
		onKey, err := r.store.Actions(ctx, state.ActionFilter{Accounts: []string{rot.Account}, KeyID: rot.KeyID})
		if err != nil {
			return nil, err
		}
		// An old key the rotation disabled may have no finding (no delete
		// stage in its class): its rotation still deletes it.
		if !found[rot.Account+"/"+rot.KeyID] && !slices.ContainsFunc(onKey, func(a state.Action) bool {
			return a.RotationOf == rot.ID && a.Kind == state.KindDisable && a.Status == state.ActionDone && a.After == state.KeyInactive
		}) {
			continue
		}
		out = append(out, rot)
		var retiring []string
		for _, a := range onKey {
			if a.RotationOf == rot.ID {
				out = append(out, a)
				retiring = append(retiring, a.ID)
			}
		}
		for _, a := range onKey {
			if a.Kind == state.KindEnable && (a.UndoOf == rot.ID || slices.Contains(retiring, a.UndoOf)) {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// newKeyUse reads, before planning, whether each rotation's new key has
// been used since the rotation: one GetAccessKeyLastUsed per open
// rotation, through its account's IAM client (plan.Input.NewKeyUse). A
// read that fails holds the rotation this run (logged); a new key that
// no longer exists (NoSuchEntity) breaks it. An offline report reads
// nothing (nothing is retired from it).
func (r *runner) newKeyUse(ctx context.Context, recs []state.Action) map[string]plan.NewKeyUse {
	if r.offline || r.clients == nil {
		return nil
	}
	out := map[string]plan.NewKeyUse{}
	for _, rot := range recs {
		if rot.Kind != state.KindRotate || rot.NewKeyID == "" {
			continue
		}
		c, err := r.clients(ctx, rot.Account)
		if err != nil {
			r.log.Warn("cannot tell whether a rotation's new key is used: no IAM client; the rotation is not advanced this run",
				"rotation", rot.ID, "account", rot.Account, "error", err)
			out[rot.ID] = plan.NewKeyUse{Unread: true}
			continue
		}
		got, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(rot.NewKeyID)})
		var gone *iamtypes.NoSuchEntityException
		switch {
		case errors.As(err, &gone) || awsapi.ErrorCode(err) == "NoSuchEntity": // unmodeled for this operation
			r.log.Warn("a rotation's new key no longer exists: the rotation is broken and retires nothing; the class's stages apply to the old key again",
				"rotation", rot.ID, "account", rot.Account, "user", rot.User, "new_key_id", rot.NewKeyID, "old_key_id", rot.KeyID)
			out[rot.ID] = plan.NewKeyUse{Gone: true}
		case err != nil:
			r.log.Warn("cannot tell whether a rotation's new key is used; the rotation is not advanced this run",
				"rotation", rot.ID, "account", rot.Account, "user", rot.User, "new_key_id", rot.NewKeyID, "error", err)
			out[rot.ID] = plan.NewKeyUse{Unread: true}
		default:
			var use plan.NewKeyUse
			if got.AccessKeyLastUsed != nil && got.AccessKeyLastUsed.LastUsedDate != nil {
				// IAM keeps the last use to about the hour: a use on or
				// after the rotation's day counts.
				if day := state.Day(aws.ToTime(got.AccessKeyLastUsed.LastUsedDate)); day >= state.Day(rot.At) {
					use.UsedOn = day
				}
			}
			out[rot.ID] = use
		}
	}
	return out
}

// oldKeys reads, before planning, the status of each retired rotation's
// old key that has no finding (plan.Input.OldKeys): the report carries
// no key IDs, and the plan deletes such a key from the records only when
// it is known to be inactive. One ListAccessKeys per such rotation (its
// retiring disable done); a read that fails leaves the key unknown (the
// delete is held, logged); a user or key no longer there is Gone.
func (r *runner) oldKeys(ctx context.Context, recs []state.Action) map[string]plan.OldKey {
	if r.offline || r.clients == nil {
		return nil
	}
	found := map[string]bool{}
	for _, f := range r.res.Report.Findings {
		if f.Credential == policy.CredentialAccessKey && f.KeyID != "" {
			found[f.Account+"/"+f.KeyID] = true
		}
	}
	disabled := map[string]bool{}
	for _, a := range recs {
		if a.RotationOf != "" && a.Kind == state.KindDisable && a.Status == state.ActionDone {
			disabled[a.RotationOf] = true
		}
	}
	out := map[string]plan.OldKey{}
	for _, rot := range recs {
		if rot.Kind != state.KindRotate || !disabled[rot.ID] || found[rot.Account+"/"+rot.KeyID] {
			continue
		}
		k, err := r.readKey(ctx, rot.Account, rot.User, rot.KeyID)
		if err != nil {
			r.log.Warn("cannot read a rotation's old key: its deletion is held this run",
				"rotation", rot.ID, "account", rot.Account, "user", rot.User, "key_id", rot.KeyID, "error", err)
			continue
		}
		out[rot.ID] = k
	}
	return out
}

// readKey reads user's access key id in account (ListAccessKeys).
func (r *runner) readKey(ctx context.Context, account, user, id string) (plan.OldKey, error) {
	c, err := r.clients(ctx, account)
	if err != nil {
		return plan.OldKey{}, err
	}
	p := iam.NewListAccessKeysPaginator(c, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		var gone *iamtypes.NoSuchEntityException
		if errors.As(err, &gone) {
			return plan.OldKey{Gone: true}, nil
		}
		if err != nil {
			return plan.OldKey{}, err
		}
		for _, k := range page.AccessKeyMetadata {
			if aws.ToString(k.AccessKeyId) == id {
				return plan.OldKey{Active: k.Status == iamtypes.StatusTypeActive, Created: aws.ToTime(k.CreateDate)}, nil
			}
		}
	}
	return plan.OldKey{Gone: true}, nil
}
