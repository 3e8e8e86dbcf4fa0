package run

import (
	"context"
	"slices"

	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/state"
)

// rotations reads the open rotations of the scanned accounts for the plan
// (plan.Input.Rotations): the done rotations whose old key the scan still
// found (a key gone needs no retiring), and the records on each old key
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
		if !filter.Match(&rot) || !found[rot.Account+"/"+rot.KeyID] {
			continue
		}
		out = append(out, rot)
		onKey, err := r.store.Actions(ctx, state.ActionFilter{Accounts: []string{rot.Account}, KeyID: rot.KeyID})
		if err != nil {
			return nil, err
		}
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
