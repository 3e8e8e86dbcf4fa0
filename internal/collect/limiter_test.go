package collect

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// full reports whether l grants no slot now: an acquire with a done
// context fails when every slot is taken (and takes one otherwise).
func full(l *limiter) bool {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.acquire(ctx); err != nil {
		return true
	}
	l.release()
	return false
}

// fill takes every free slot of l and returns how many it took.
func fill(l *limiter) int {
	n := 0
	for !full(l) {
		if err := l.acquire(context.Background()); err != nil {
			panic(err)
		}
		n++
	}
	return n
}

func TestLimiterHalvesOncePerLimit(t *testing.T) {
	l := newLimiter(32, slog.New(slog.DiscardHandler))
	if n := fill(l); n != 32 {
		t.Fatalf("slots of a new limiter of 32 = %d; want 32", n)
	}
	// Every call sent under the limit of 32 is throttled: one halving.
	epoch := l.sent()
	for range 32 {
		l.throttled(epoch)
	}
	if l.limit != 16 {
		t.Errorf("limit after 32 calls sent under 32 were throttled = %v; want 16", l.limit)
	}
	// The 32 calls still hold their slots: none is free until 17 return.
	for i := range 16 {
		l.release()
		if !full(l) {
			t.Fatalf("a slot is free with %d calls in flight and a limit of 16", 31-i)
		}
	}
	l.release()
	if full(l) {
		t.Error("no slot free with 15 calls in flight and a limit of 16")
	}
	// A call sent under the new limit and throttled halves it again; it
	// never goes below one.
	for range 10 {
		l.throttled(l.sent())
	}
	if l.limit != 1 {
		t.Errorf("limit after ten more halvings = %v; want 1", l.limit)
	}
}

func TestLimiterGrowsBackByOnePerLimitOfSuccesses(t *testing.T) {
	l := newLimiter(8, slog.New(slog.DiscardHandler))
	l.throttled(l.sent())
	if l.limit != 4 {
		t.Fatalf("limit after a throttle = %v; want 4", l.limit)
	}
	for _, step := range []struct{ successes, want int }{
		{4, 5},   // 4 in a row at 4: one more
		{4, 5},   // 4 at 5: not yet
		{1, 6},   // the fifth
		{100, 8}, // never past the maximum
	} {
		before := l.limit
		for range step.successes {
			l.succeeded()
		}
		if l.limit != step.want {
			t.Errorf("limit after %d successes at %d = %d; want %d", step.successes, before, l.limit, step.want)
		}
	}
}

// TestLimiterWakesWaiters: an acquire waiting for a full limiter gets the
// slot a release frees, or a slot the limit grows by; one whose context
// ends returns its cause.
func TestLimiterWakesWaiters(t *testing.T) {
	l := newLimiter(2, slog.New(slog.DiscardHandler))
	fill(l)
	wait := func(ctx context.Context) chan error {
		done := make(chan error, 1)
		go func() { done <- l.acquire(ctx) }()
		return done
	}
	got := func(done chan error) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(time.Minute): // a guard against hanging, not a timing assertion
			t.Fatal("acquire did not return within a minute")
			return nil
		}
	}

	done := wait(context.Background())
	l.release()
	if err := got(done); err != nil {
		t.Errorf("acquire after a release = %v; want the freed slot", err)
	}

	l.throttled(l.sent()) // limit 1, 2 in flight
	l.release()           // 1 in flight: still full
	done = wait(context.Background())
	l.succeeded() // 1 success at 1: 2 slots, one free
	if err := got(done); err != nil {
		t.Errorf("acquire after the limit grew = %v; want the new slot", err)
	}

	cause := errors.New("scan cancelled")
	ctx, cancel := context.WithCancelCause(context.Background())
	done = wait(ctx)
	cancel(cause)
	if err := got(done); !errors.Is(err, cause) {
		t.Errorf("acquire whose context ended = %v; want its cause", err)
	}
}

// TestIAMOptionsKeepsConnections: a client built with IAMOptions keeps an
// idle connection for each key lookup in flight; another HTTP client is
// left alone.
func TestIAMOptionsKeepsConnections(t *testing.T) {
	c := iam.NewFromConfig(aws.Config{Region: "us-east-1"}, IAMOptions)
	bc, ok := c.Options().HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		t.Fatalf("HTTP client %T; want the SDK's BuildableClient", c.Options().HTTPClient)
	}
	if got := bc.GetTransport().MaxIdleConnsPerHost; got != DefaultKeyLookupParallel {
		t.Errorf("idle connections kept per host = %d; want %d", got, DefaultKeyLookupParallel)
	}
	own := &http.Client{}
	c = iam.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: own}, IAMOptions)
	if c.Options().HTTPClient != own {
		t.Errorf("HTTP client %v; want the caller's own, unchanged", c.Options().HTTPClient)
	}
}
