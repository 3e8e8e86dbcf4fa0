// Package memstore is a state.Store held in memory: for tests, and for dry
// runs when no state file exists yet. It forgets everything when the
// process ends.
package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/keywarden/keywarden/internal/state"
)

// Store is an in-memory state.Store, safe for concurrent use.
type Store struct {
	mu      sync.Mutex
	notices map[state.NoticeKey]*state.Notice
	runs    map[string]state.Run
	actions map[string]*state.Action
	// order keeps actions in the order they were recorded.
	order    []string
	inactive map[[2]string]string // account, key ID → since day
}

var _ state.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{notices: map[state.NoticeKey]*state.Notice{}, runs: map[string]state.Run{},
		actions: map[string]*state.Action{}, inactive: map[[2]string]string{}}
}

// Notices implements state.Store.
func (s *Store) Notices(_ context.Context, accounts []string) ([]state.Notice, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []state.Notice
	for _, n := range s.notices {
		if n.ClosedDay != "" || (len(accounts) > 0 && !slices.Contains(accounts, n.Account)) {
			continue
		}
		out = append(out, *n)
	}
	slices.SortFunc(out, func(a, b state.Notice) int {
		return cmp.Or(cmp.Compare(a.Finding, b.Finding), cmp.Compare(a.Audience, b.Audience))
	})
	return out, nil
}

// Claim implements state.Store.
func (s *Store) Claim(_ context.Context, c state.Claim) (bool, error) {
	if err := c.Validate(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.notices[c.Key]
	if n != nil {
		if state.Due(n, c.Stage, c.Day, c.RemindEvery) == state.StatusNotDue {
			return false, nil
		}
		if n.ClaimRun != "" && n.ClaimRun != c.Run && !n.ClaimedAt.Before(c.LeaseCutoff()) {
			return false, nil
		}
	} else {
		n = &state.Notice{NoticeKey: c.Key}
		s.notices[c.Key] = n
	}
	n.Account, n.User, n.KeyID, n.Rule = c.Account, c.User, c.KeyID, c.Rule
	n.ClaimRun, n.ClaimedAt, n.ClaimStage = c.Run, c.Now.UTC(), c.Stage
	n.UpdatedAt = c.Now.UTC()
	return true, nil
}

// Sent implements state.Store.
func (s *Store) Sent(_ context.Context, key state.NoticeKey, run, day string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.notices[key]
	if n != nil && run != "" && state.SentAt(n, day, now) {
		return nil // recorded already: a repeat
	}
	if n == nil || n.ClaimRun != run || run == "" {
		return state.ErrClaimLost
	}
	if n.ClosedDay != "" || n.LastDay == "" || n.Stage != n.ClaimStage {
		n.FirstDay, n.Count = day, 0
	}
	n.Stage, n.LastDay, n.ClosedDay = n.ClaimStage, day, ""
	n.Count++
	n.ClaimRun, n.ClaimedAt, n.ClaimStage = "", time.Time{}, 0
	n.UpdatedAt = now.UTC()
	return nil
}

// Release implements state.Store.
func (s *Store) Release(_ context.Context, key state.NoticeKey, run string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.notices[key]; n != nil && n.ClaimRun == run {
		n.ClaimRun, n.ClaimedAt, n.ClaimStage = "", time.Time{}, 0
	}
	return nil
}

// Resolve implements state.Store.
func (s *Store) Resolve(_ context.Context, findings []string, day string, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[string]bool{}
	for _, f := range findings {
		want[f] = true
	}
	closed := 0
	for _, n := range s.notices {
		if want[n.Finding] && n.ClosedDay == "" {
			n.ClosedDay, n.UpdatedAt = day, now.UTC()
			closed++
		}
	}
	return closed, nil
}

// RecordRun implements state.Store.
func (s *Store) RecordRun(_ context.Context, r state.Run) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs[r.ID] = r
	return nil
}

// Runs implements state.Store.
func (s *Store) Runs(_ context.Context, limit int) ([]state.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []state.Run
	for _, r := range s.runs {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b state.Run) int {
		return cmp.Or(b.StartedAt.Compare(a.StartedAt), cmp.Compare(b.ID, a.ID))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// RecordAction implements state.Store.
func (s *Store) RecordAction(_ context.Context, a state.Action) error {
	if err := a.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if got, ok := s.actions[a.ID]; ok {
		if state.SameRecord(got, &a) {
			return nil // recorded already: a repeat
		}
		return fmt.Errorf("record action %s: an action with this ID exists", a.ID)
	}
	if a.Status == state.ActionPlanned {
		for _, b := range s.actions {
			if b.Status == state.ActionPlanned && b.Target() == a.Target() {
				return fmt.Errorf("record action %s on %s: %w (%s of run %s)", a.ID, a.Target(), state.ErrActionInFlight, b.ID, b.Run)
			}
		}
	}
	a.At = a.At.UTC()
	a.Audiences = slices.Clone(a.Audiences)
	s.actions[a.ID] = &a
	s.order = append(s.order, a.ID)
	s.owe(&a, a.Status, a.At)
	return nil
}

// owe records the owed notices of a finished as status (with the lock held).
func (s *Store) owe(a *state.Action, status state.ActionStatus, now time.Time) {
	for _, n := range state.OwedNotices(a, status, now) {
		if _, ok := s.notices[n.NoticeKey]; !ok {
			s.notices[n.NoticeKey] = &n
		}
	}
}

// FinishAction implements state.Store.
func (s *Store) FinishAction(_ context.Context, id string, o state.Outcome) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.actions[id]
	if a != nil && a.Status != state.ActionPlanned && state.FinishedWith(a, o) {
		return nil // finished already with o: a repeat
	}
	if a == nil || a.Status != state.ActionPlanned {
		return fmt.Errorf("finish action %s: %w", id, state.ErrActionNotPlanned)
	}
	a.Status, a.Reason, a.Before, a.After, a.FinishedAt = o.Status, o.Reason, o.Before, o.After, o.At.UTC()
	a.Kind = cmp.Or(o.Kind, a.Kind)
	a.SecretTarget = cmp.Or(o.SecretTarget, a.SecretTarget)
	s.owe(a, o.Status, o.At)
	return nil
}

// ProgressAction implements state.Store.
func (s *Store) ProgressAction(_ context.Context, id, newKeyID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.actions[id]
	if a == nil || a.Status != state.ActionPlanned {
		return fmt.Errorf("progress action %s: %w", id, state.ErrActionNotPlanned)
	}
	if a.NewKeyID != "" && a.NewKeyID != newKeyID {
		return fmt.Errorf("progress action %s: %w (%s)", id, state.ErrNewKeyRecorded, a.NewKeyID)
	}
	a.NewKeyID = newKeyID
	return nil
}

// Actions implements state.Store.
func (s *Store) Actions(_ context.Context, f state.ActionFilter) ([]state.Action, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []state.Action
	for i := len(s.order) - 1; i >= 0; i-- {
		if a := s.actions[s.order[i]]; f.Match(a) {
			c := *a
			c.Audiences = slices.Clone(a.Audiences)
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b state.Action) int { return b.At.Compare(a.At) })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// InactiveSince implements state.Store.
func (s *Store) InactiveSince(_ context.Context, k state.KeyRef) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inactive[[2]string{k.Account, k.KeyID}], nil
}

// RecordInactive implements state.Store.
func (s *Store) RecordInactive(_ context.Context, k state.KeyRef, day string, replace bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := [2]string{k.Account, k.KeyID}
	if _, ok := s.inactive[key]; !ok || replace {
		s.inactive[key] = day
	}
	return nil
}

// ForgetInactive implements state.Store.
func (s *Store) ForgetInactive(_ context.Context, k state.KeyRef) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inactive, [2]string{k.Account, k.KeyID})
	return nil
}

// Close implements state.Store; it keeps the data.
func (s *Store) Close() error { return nil }
