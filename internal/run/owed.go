package run

import (
	"context"

	"github.com/keywarden/keywarden/internal/state"
)

// notices reads the open notices of the scanned accounts and the records
// of the actions whose outcomes the owed ones among them tell
// (docs/reliability.md, "Owed messages").
func (r *runner) notices(ctx context.Context) ([]state.Notice, []state.Action, error) {
	rep := r.res.Report
	ids := make([]string, len(rep.Accounts))
	for i, a := range rep.Accounts {
		ids[i] = a.ID
	}
	notices, err := r.store.Notices(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	var owed []string
	for i := range notices {
		if id := state.ActionOf(notices[i].Finding); id != "" && notices[i].Owed() {
			owed = append(owed, id)
		}
	}
	if len(owed) == 0 {
		return notices, nil, nil
	}
	actions, err := r.store.Actions(ctx, state.ActionFilter{IDs: owed})
	if err != nil {
		return nil, nil, err
	}
	return notices, actions, nil
}

// rereadNotices reads the notices again once remediation has recorded its
// outcomes, so that the messages tell the outcomes owed now — this run's,
// those of the runs it reconciled, and those of runs acting meanwhile.
// When it cannot, the notices read before stay: what is owed is told by
// the next run.
func (r *runner) rereadNotices(ctx context.Context) {
	notices, owed, err := r.notices(ctx)
	if err != nil {
		r.log.Warn("cannot read the owed notices after remediation; the next run tells them", "error", err)
		return
	}
	r.in.Notices, r.in.OwedActions = notices, owed
	rotations, err := r.rotations(ctx)
	if err != nil {
		r.log.Warn("cannot read the open rotations after remediation; the messages tell them as read before", "error", err)
		return
	}
	r.in.Rotations = rotations // with the retirements remediation recorded
}
