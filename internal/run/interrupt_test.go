package run

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOnSignals: the first signal ends the context with the signal as its
// cause; the second (and every later one) goes to again.
func TestOnSignals(t *testing.T) {
	sigs := make(chan os.Signal)
	again := make(chan os.Signal, 2)
	ctx := OnSignals(context.Background(), sigs, func(s os.Signal) { again <- s })
	sigs <- syscall.SIGTERM
	<-ctx.Done()
	intr := InterruptedBy(ctx)
	if intr == nil || intr.Error() != "interrupted by SIGTERM" {
		t.Fatalf("cause after the first signal = %v; want interrupted by SIGTERM", context.Cause(ctx))
	}
	select {
	case s := <-again:
		t.Fatalf("again called with %v after the first signal", s)
	default:
	}
	sigs <- os.Interrupt
	if s := <-again; s != os.Interrupt {
		t.Errorf("again got %v; want the second signal, SIGINT", s)
	}
	if c := SignalExitCode(os.Interrupt); c != 130 {
		t.Errorf("SignalExitCode(SIGINT) = %d; want 130", c)
	}
	if c := SignalExitCode(syscall.SIGTERM); c != 143 {
		t.Errorf("SignalExitCode(SIGTERM) = %d; want 143", c)
	}
	if InterruptedBy(context.Background()) != nil {
		t.Error("InterruptedBy(a live context) is not nil")
	}
}

// TestOutliving: the context for what a stopped run still finishes goes
// on when its parent is cancelled, ends grace later with the signal in its
// cause, and keeps the parent's deadline.
func TestOutliving(t *testing.T) {
	parent, cancel := context.WithCancelCause(context.Background())
	keep, release := outliving(parent, 200*time.Millisecond)
	defer release()
	cancel(&Interrupted{Signal: os.Interrupt})
	if keep.Err() != nil {
		t.Fatalf("outliving context ended with its parent: %v", context.Cause(keep))
	}
	<-keep.Done() // after the grace
	if err := context.Cause(keep); !strings.HasPrefix(err.Error(), "interrupted by SIGINT; what was under way was not finished within 200ms") {
		t.Errorf("cause after the grace = %v; want the signal and the grace", err)
	}

	dl := time.Now().Add(time.Hour)
	parent2, cancel2 := context.WithDeadline(context.Background(), dl)
	defer cancel2()
	keep2, release2 := outliving(parent2, StopGrace)
	if d, ok := keep2.Deadline(); !ok || !d.Equal(dl) {
		t.Errorf("outliving deadline = %v, %v; want the parent's, %v", d, ok, dl)
	}
	release2()
	if !errors.Is(keep2.Err(), context.Canceled) {
		t.Errorf("after release: %v; want cancelled", keep2.Err())
	}
}
