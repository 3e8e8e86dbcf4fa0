package run

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keywarden/keywarden/internal/state"
)

// StateError is an error of the run's state: what the run asked of it (Op,
// worded "record the run", "record a sent notice"…) failed. The run marks
// every error of its store so (stateErrors), and Headline names them.
type StateError struct {
	Op  string
	Err error
}

func (e *StateError) Error() string { return e.Err.Error() }

func (e *StateError) Unwrap() error { return e.Err }

// stateErrors is the run's store, its errors marked as StateErrors. It
// embeds the store: a method added to state.Store passes through unmarked
// until it is spelled out here. It keeps the errors of FinishAction, which
// remediation only logs (the action was made; its record stays planned
// until a later run reconciles it), so that the run reports them.
type stateErrors struct {
	state.Store

	mu       sync.Mutex
	finishes []error // each a StateError
}

// unreported returns the FinishAction errors that are not among errs.
func (s *stateErrors) unreported(errs []error) []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []error
	for _, e := range s.finishes {
		if !slices.ContainsFunc(errs, func(x error) bool { return errors.Is(x, e) }) {
			out = append(out, fmt.Errorf("an action's outcome may not be recorded (if not, the action stays planned until a "+
				"later run reconciles it): %w", e))
		}
	}
	s.finishes = nil
	return out
}

func stateErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return &StateError{Op: op, Err: err}
}

func (s *stateErrors) Notices(ctx context.Context, accounts []string) ([]state.Notice, error) {
	ns, err := s.Store.Notices(ctx, accounts)
	return ns, stateErr("read the notices", err)
}

func (s *stateErrors) Claim(ctx context.Context, c state.Claim) (bool, error) {
	ok, err := s.Store.Claim(ctx, c)
	return ok, stateErr("claim a notice", err)
}

func (s *stateErrors) Sent(ctx context.Context, key state.NoticeKey, run, day string, now time.Time) error {
	return stateErr("record a sent notice", s.Store.Sent(ctx, key, run, day, now))
}

func (s *stateErrors) Release(ctx context.Context, key state.NoticeKey, run string) error {
	return stateErr("release a claim", s.Store.Release(ctx, key, run))
}

func (s *stateErrors) Resolve(ctx context.Context, findings []string, day string, now time.Time) (int, error) {
	n, err := s.Store.Resolve(ctx, findings, day, now)
	return n, stateErr("close the notices of resolved findings", err)
}

func (s *stateErrors) RecordRun(ctx context.Context, r state.Run) error {
	return stateErr("record the run", s.Store.RecordRun(ctx, r))
}

func (s *stateErrors) Runs(ctx context.Context, limit int) ([]state.Run, error) {
	rs, err := s.Store.Runs(ctx, limit)
	return rs, stateErr("read the runs", err)
}

func (s *stateErrors) RecordAction(ctx context.Context, a state.Action) error {
	return stateErr("record an action", s.Store.RecordAction(ctx, a))
}

func (s *stateErrors) FinishAction(ctx context.Context, id string, o state.Outcome) error {
	err := stateErr("record an action's outcome", s.Store.FinishAction(ctx, id, o))
	if err != nil && !errors.Is(err, state.ErrActionNotPlanned) {
		s.mu.Lock()
		s.finishes = append(s.finishes, err)
		s.mu.Unlock()
	}
	return err
}

func (s *stateErrors) ProgressAction(ctx context.Context, id, newKeyID string) error {
	return stateErr("record a rotation's new key", s.Store.ProgressAction(ctx, id, newKeyID))
}

func (s *stateErrors) Actions(ctx context.Context, f state.ActionFilter) ([]state.Action, error) {
	as, err := s.Store.Actions(ctx, f)
	return as, stateErr("read the actions", err)
}

func (s *stateErrors) InactiveSince(ctx context.Context, k state.KeyRef) (string, error) {
	day, err := s.Store.InactiveSince(ctx, k)
	return day, stateErr("read when a key became inactive", err)
}

func (s *stateErrors) RecordInactive(ctx context.Context, k state.KeyRef, day string, replace bool) error {
	return stateErr("record when a key became inactive", s.Store.RecordInactive(ctx, k, day, replace))
}

func (s *stateErrors) ForgetInactive(ctx context.Context, k state.KeyRef) error {
	return stateErr("forget when a key became inactive", s.Store.ForgetInactive(ctx, k))
}

// Headline says in one line what went wrong in the run (Err): the
// notifications and actions that failed, what the state failed to do, and
// how many errors there are in all; "" when nothing did. It names only what
// happened: no "0 of 8 notifications failed".
func (r *Result) Headline() string {
	if r.Err == nil {
		return ""
	}
	errs := []error{r.Err}
	if j, ok := r.Err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var parts []string
	if r.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d notifications failed", r.Failed, len(r.Deliveries)))
	}
	if r.ActionsFailed > 0 {
		parts = append(parts, fmt.Sprintf("%d %s failed", r.ActionsFailed, plural(r.ActionsFailed, "action", "actions")))
	}
	if len(parts) > 0 {
		parts[len(parts)-1] += " (tried again on the next run)"
	}
	var ops []string
	count := map[string]int{}
	for _, err := range errs {
		var se *StateError
		if errors.As(err, &se) {
			if count[se.Op] == 0 {
				ops = append(ops, se.Op)
			}
			count[se.Op]++
		}
	}
	if len(ops) > 0 {
		for i, op := range ops {
			if n := count[op]; n > 1 {
				ops[i] = fmt.Sprintf("%s (%d times)", op, n)
			}
		}
		where := "the state"
		if r.State != "" {
			where += " " + r.State
		}
		parts = append(parts, fmt.Sprintf("%s failed to %s", where, strings.Join(ops, ", ")))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("the run had %d %s", len(errs), plural(len(errs), "error", "errors"))
	}
	return fmt.Sprintf("%s (%d %s)", strings.Join(parts, "; "), len(errs), plural(len(errs), "error", "errors"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
