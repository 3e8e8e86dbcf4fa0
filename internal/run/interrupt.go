package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/keywarden/keywarden/internal/state"
)

// StopGrace bounds what a stopped run still does once its context is
// done: finish the action in flight, record it, release its claims and
// record the run. What is not done by then is left as a killed run
// leaves it (reconciled by the next run, after the lease).
const StopGrace = 30 * time.Second

// Interrupted is the cause of a context ended by a signal (OnSignals): a
// run that sees it stops starting new work, finishes and records what is
// under way, and records itself as interrupted.
type Interrupted struct {
	Signal os.Signal
}

func (e *Interrupted) Error() string { return "interrupted by " + SignalName(e.Signal) }

// SignalName is SIGINT, SIGTERM, … (Go's names are "interrupt",
// "terminated").
func SignalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return sig.String()
}

// SignalExitCode is the conventional exit code of a process ended by sig:
// 128 + its number.
func SignalExitCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

// InterruptedBy is the signal that ended ctx, nil when none did.
func InterruptedBy(ctx context.Context) *Interrupted {
	var intr *Interrupted
	if errors.As(context.Cause(ctx), &intr) {
		return intr
	}
	return nil
}

// OnSignals returns a context that ends, with cause *Interrupted, at the
// first signal received on sigs; at the second, again calls again (the
// process stops at once: main exits). Every later signal calls again too.
func OnSignals(parent context.Context, sigs <-chan os.Signal, again func(os.Signal)) context.Context {
	ctx, cancel := context.WithCancelCause(parent)
	go func() {
		first := true
		for sig := range sigs {
			if first {
				first = false
				cancel(&Interrupted{Signal: sig})
				continue
			}
			again(sig)
		}
	}()
	return ctx
}

// outliving is a context for what a run must still finish once ctx is
// done (the action in flight, the records, the release of claims): it
// keeps ctx's values and deadline, not its cancellation, and ends grace
// after ctx does. release frees it.
func outliving(ctx context.Context, grace time.Duration) (keep context.Context, release func()) {
	keep, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	cancelDeadline := func() {}
	if dl, ok := ctx.Deadline(); ok {
		keep, cancelDeadline = context.WithDeadline(keep, dl)
	}
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel(fmt.Errorf("%w; what was under way was not finished within %s", context.Cause(ctx), grace))
		case <-keep.Done():
		}
	})
	return keep, func() {
		stop()
		cancelDeadline()
		cancel(nil)
	}
}

// halted is why the run starts no more work of the kind ctx guards ("":
// it may go on).
func halted(ctx context.Context) string {
	if ctx.Err() == nil {
		return ""
	}
	return context.Cause(ctx).Error()
}

// recordScanStopped records a run a signal stopped during its scan:
// nothing was planned, sent or changed.
func (r *runner) recordScanStopped(ctx context.Context) {
	if err := r.connect(ctx); err != nil {
		r.log.Error("cannot record the interrupted run", "error", err)
		return
	}
	defer r.disconnect()
	run := state.Run{ID: r.id, Mode: string(r.mode), AsOf: r.o.Scan.AsOf, StartedAt: r.started, FinishedAt: r.clock(), ForcedAsOf: r.forced,
		Error: fmt.Sprintf("%v during the scan: nothing was planned, sent or changed", InterruptedBy(r.halt))}
	if err := r.store.RecordRun(ctx, run); err != nil {
		r.log.Error("cannot record the interrupted run", "error", err)
	}
}

// interrupted says what a signal stopped, and what it left for the next
// run ("": no signal stopped the run).
func (r *runner) interrupted() string {
	intr := InterruptedBy(r.halt)
	if intr == nil {
		return ""
	}
	return fmt.Sprintf("%v: the run started no new work after it, finished and recorded what was under way; "+
		"%d %s not started and %d %s not sent are left for the next run", intr,
		r.res.ActionsNotStarted, plural(r.res.ActionsNotStarted, "action", "actions"), r.res.NotSent, plural(r.res.NotSent, "message", "messages"))
}
