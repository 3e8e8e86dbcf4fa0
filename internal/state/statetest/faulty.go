package statetest

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/keywarden/keywarden/internal/state"
)

// ErrInjected is the error a Fault answers unless it names another.
var ErrInjected = errors.New("state fault injected by the test")

// Fault makes calls of a Faulty store fail.
type Fault struct {
	// Op is the method whose calls fail ("Claim", "Sent", "RecordRun",
	// "FinishAction"…); "" matches every method.
	Op string
	// After lets the call reach the store first, so that a write takes
	// effect, and then answers Err: a write whose answer was lost. Without
	// it the call fails before it reaches the store (throttling, a
	// transient error): nothing changes.
	After bool
	// Err is the error answered (ErrInjected when nil).
	Err error
	// Times bounds how many calls fail (0: every one).
	Times int
	// Chance, between 0 and 1, fails each matching call with that
	// probability (0: every one), drawn from a generator seeded with Seed;
	// Times counts only the failed ones.
	Chance float64
	Seed   uint64
	// Before runs before a matching call reaches the store, whether or
	// not it then fails (another writer that wins the race between a
	// caller's read and its write). A Fault with Before and no Err, After
	// or Chance makes no call fail: set Pass.
	Before func()
	// Pass lets matching calls through unfailed (a Fault that only runs
	// Before).
	Pass bool

	hits int
	rng  *rand.Rand
}

// Faulty is a state.Store whose calls fail as its faults say, for testing
// what a store guarantees, and what its callers do, under faults. It
// embeds the store: a method added to state.Store meanwhile passes through
// without faults until it is spelled out here.
type Faulty struct {
	state.Store

	mu     sync.Mutex
	faults []*Fault
	failed map[string]int
}

// NewFaulty wraps s.
func NewFaulty(s state.Store, faults ...Fault) *Faulty {
	f := &Faulty{Store: s, failed: map[string]int{}}
	for _, ft := range faults {
		f.Inject(ft)
	}
	return f
}

// Inject adds a fault; faults are tried in the order they were added.
func (f *Faulty) Inject(ft Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &ft)
}

// Failed is how many calls of op ("" every method) a fault failed.
func (f *Faulty) Failed(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if op == "" {
		n := 0
		for _, c := range f.failed {
			n += c
		}
		return n
	}
	return f.failed[op]
}

// pick returns the fault that answers the next call of op (nil: none) and
// the Before hooks to run.
func (f *Faulty) pick(op string) (*Fault, []func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var hooks []func()
	for _, ft := range f.faults {
		if ft.Op != "" && ft.Op != op {
			continue
		}
		if ft.Times > 0 && ft.hits >= ft.Times {
			continue
		}
		if ft.Chance > 0 && ft.Chance < 1 {
			if ft.rng == nil {
				ft.rng = rand.New(rand.NewPCG(ft.Seed, 0x7374617465))
			}
			if ft.rng.Float64() >= ft.Chance {
				continue
			}
		}
		ft.hits++
		if ft.Before != nil {
			hooks = append(hooks, ft.Before)
		}
		if ft.Pass {
			continue
		}
		f.failed[op]++
		return ft, hooks
	}
	return nil, hooks
}

// call runs do, the call of op, as the faults say.
func (f *Faulty) call(op string, do func() error) error {
	ft, hooks := f.pick(op)
	for _, h := range hooks {
		h()
	}
	if ft == nil {
		return do()
	}
	err := ft.Err
	if err == nil {
		err = ErrInjected
	}
	if ft.After {
		_ = do()
	}
	return err
}

func (f *Faulty) Notices(ctx context.Context, accounts []string) (ns []state.Notice, err error) {
	err = f.call("Notices", func() (err error) { ns, err = f.Store.Notices(ctx, accounts); return })
	return ns, err
}

func (f *Faulty) Claim(ctx context.Context, c state.Claim) (ok bool, err error) {
	err = f.call("Claim", func() (err error) { ok, err = f.Store.Claim(ctx, c); return })
	return ok && err == nil, err
}

func (f *Faulty) Sent(ctx context.Context, key state.NoticeKey, run, day string, now time.Time) error {
	return f.call("Sent", func() error { return f.Store.Sent(ctx, key, run, day, now) })
}

func (f *Faulty) Release(ctx context.Context, key state.NoticeKey, run string) error {
	return f.call("Release", func() error { return f.Store.Release(ctx, key, run) })
}

func (f *Faulty) Resolve(ctx context.Context, findings []string, day string, now time.Time) (n int, err error) {
	err = f.call("Resolve", func() (err error) { n, err = f.Store.Resolve(ctx, findings, day, now); return })
	if err != nil {
		n = 0
	}
	return n, err
}

func (f *Faulty) RecordRun(ctx context.Context, r state.Run) error {
	return f.call("RecordRun", func() error { return f.Store.RecordRun(ctx, r) })
}

func (f *Faulty) Runs(ctx context.Context, limit int) (rs []state.Run, err error) {
	err = f.call("Runs", func() (err error) { rs, err = f.Store.Runs(ctx, limit); return })
	return rs, err
}

func (f *Faulty) RecordAction(ctx context.Context, a state.Action) error {
	return f.call("RecordAction", func() error { return f.Store.RecordAction(ctx, a) })
}

func (f *Faulty) FinishAction(ctx context.Context, id string, o state.Outcome) error {
	return f.call("FinishAction", func() error { return f.Store.FinishAction(ctx, id, o) })
}

func (f *Faulty) ProgressAction(ctx context.Context, id, newKeyID string) error {
	return f.call("ProgressAction", func() error { return f.Store.ProgressAction(ctx, id, newKeyID) })
}

func (f *Faulty) Actions(ctx context.Context, fl state.ActionFilter) (as []state.Action, err error) {
	err = f.call("Actions", func() (err error) { as, err = f.Store.Actions(ctx, fl); return })
	return as, err
}

func (f *Faulty) InactiveSince(ctx context.Context, k state.KeyRef) (day string, err error) {
	err = f.call("InactiveSince", func() (err error) { day, err = f.Store.InactiveSince(ctx, k); return })
	return day, err
}

func (f *Faulty) RecordInactive(ctx context.Context, k state.KeyRef, day string, replace bool) error {
	return f.call("RecordInactive", func() error { return f.Store.RecordInactive(ctx, k, day, replace) })
}

func (f *Faulty) ForgetInactive(ctx context.Context, k state.KeyRef) error {
	return f.call("ForgetInactive", func() error { return f.Store.ForgetInactive(ctx, k) })
}
