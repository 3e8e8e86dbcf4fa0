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
	// Every call sent under the limit of 32 is throttled: one halving,
	// once the window of 32 has finished.
	epoch := l.sent()
	for i := range 32 {
		if l.limit != 32 {
			t.Fatalf("limit halved after %d of 32 throttled calls; want after the window", i)
		}
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
	// A window of calls sent under the new limit and throttled halves it
	// again; it never goes below one.
	for range 10 {
		throttleWindow(l)
	}
	if l.limit != 1 {
		t.Errorf("limit after ten more halvings = %v; want 1", l.limit)
	}
}

// throttleWindow throttles a window of calls: as many as the limit.
func throttleWindow(l *limiter) {
	epoch, n := l.sent(), l.limit
	for range n {
		l.throttled(epoch)
	}
}

// TestLimiterKeepsItsPaceUnderSomeThrottling: a window of calls of which
// fewer than half were throttled (IAM's other callers, random throttling)
// leaves the limit alone; one with most throttled halves it, once.
func TestLimiterKeepsItsPaceUnderSomeThrottling(t *testing.T) {
	l := newLimiter(32, slog.New(slog.DiscardHandler))
	for range 10 { // ten windows, 30% throttled each
		epoch := l.sent()
		for i := range 32 {
			if i%10 < 3 {
				l.throttled(epoch)
			} else {
				l.succeeded()
			}
		}
	}
	if l.limit != 32 {
		t.Errorf("limit after windows 30%% throttled = %d; want 32", l.limit)
	}
	epoch := l.sent()
	for i := range 32 {
		if i%3 == 0 {
			l.succeeded()
		} else {
			l.throttled(epoch)
		}
	}
	if l.limit != 16 {
		t.Errorf("limit after a window two thirds throttled = %d; want 16", l.limit)
	}
}

func TestLimiterGrowsBackByOnePerLimitOfSuccesses(t *testing.T) {
	l := newLimiter(8, slog.New(slog.DiscardHandler))
	throttleWindow(l)
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

	throttleWindow(l) // limit 1, 2 in flight
	l.release()       // 1 in flight: still full
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

// TestScanHTTPClient: the scan's HTTP client keeps an idle connection for
// each key lookup the scan can have in flight, per host and in all, never
// more than MaxIdleConns (nor fewer than the SDK's defaults); every IAM
// client built from a configuration with it uses that one client; an SDK
// client's other settings are kept; another HTTP client is left alone.
func TestScanHTTPClient(t *testing.T) {
	for _, tc := range []struct {
		inFlight, perHost, total int
	}{
		{inFlight: 1, perHost: 10, total: 100},       // the SDK's defaults
		{inFlight: 32, perHost: 32, total: 100},      // one account at a time
		{inFlight: 8 * 32, perHost: 256, total: 256}, // accounts.parallel 8
		{inFlight: 64 * 32, perHost: MaxIdleConns, total: MaxIdleConns},
	} {
		c := ScanHTTPClient(nil, tc.inFlight)
		bc, ok := c.(*awshttp.BuildableClient)
		if !ok {
			t.Fatalf("ScanHTTPClient(nil, %d) = %T; want the SDK's BuildableClient", tc.inFlight, c)
		}
		if tr := bc.GetTransport(); tr.MaxIdleConnsPerHost != tc.perHost || tr.MaxIdleConns != tc.total {
			t.Errorf("ScanHTTPClient(nil, %d) keeps %d idle connections per host, %d in all; want %d and %d",
				tc.inFlight, tr.MaxIdleConnsPerHost, tr.MaxIdleConns, tc.perHost, tc.total)
		}
	}

	shared := ScanHTTPClient(awshttp.NewBuildableClient().WithTimeout(time.Minute), 64)
	cfg := aws.Config{Region: "us-east-1", HTTPClient: shared}
	for range 2 {
		if got := iam.NewFromConfig(cfg).Options().HTTPClient; got != shared {
			t.Errorf("IAM client's HTTP client %p; want the scan's, %p", got, shared)
		}
	}
	if got := shared.(*awshttp.BuildableClient).GetTimeout(); got != time.Minute {
		t.Errorf("timeout %s; want the configured client's, 1m0s", got)
	}

	own := &http.Client{}
	if got := ScanHTTPClient(own, 64); got != own {
		t.Errorf("ScanHTTPClient(own client) = %v; want the caller's own, unchanged", got)
	}
}
