package awsapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go/middleware"
)

// Per-attempt timeouts. Every attempt of every AWS call keywarden makes has
// its own deadline (the retry middleware's attempts each get a fresh one):
// an attempt that does not answer in time is cancelled and retried, and
// after MaxTimedOutAttempts such attempts the call fails with an
// *AttemptTimeoutError naming the operation and the timeout.
const (
	// DefaultAttemptTimeout bounds one attempt of a call whose request
	// and answer are small (everything but LargeAttemptTimeout's).
	DefaultAttemptTimeout = 10 * time.Second
	// LargeAttemptTimeout bounds one attempt of a call whose answer can be
	// megabytes: iam:GetCredentialReport (a 5,000-user report is about
	// 2 MB of base64), iam:GetAccountAuthorizationDetails (1,000 users
	// with their inline policies a page) and s3:GetObject (the config).
	LargeAttemptTimeout = 30 * time.Second
	// MaxTimedOutAttempts is how many attempts of one call may time out
	// before the call fails, whatever accounts.max_attempts allows: a call
	// that never answers costs at most MaxTimedOutAttempts × its timeout,
	// plus the backoff between them (the standard mode's 50 ms base: at
	// most 50 ms + 100 ms), i.e. 30.15 s for a small call and 90.15 s for
	// a large one — under the 2 minutes a scan may be held by one call.
	MaxTimedOutAttempts = 3
	// AttemptTimeoutEnv, a Go duration ("2s"), replaces every per-attempt
	// timeout. It exists for tests, which cannot wait 90 s for a hung call;
	// it is not a setting to use in production.
	AttemptTimeoutEnv = "KEYWARDEN_AWS_ATTEMPT_TIMEOUT"
)

// largeOperations are the operations whose answer can be megabytes, by
// "ServiceID.Operation".
var largeOperations = map[string]bool{
	"IAM.GetCredentialReport":            true,
	"IAM.GetAccountAuthorizationDetails": true,
	"S3.GetObject":                       true,
}

// AttemptTimeout is the per-attempt timeout of one operation (service is
// the SDK's service ID: "IAM", "STS", "S3"…), unless AttemptTimeoutEnv
// replaces it.
func AttemptTimeout(service, operation string) time.Duration {
	if largeOperations[service+"."+operation] {
		return LargeAttemptTimeout
	}
	return DefaultAttemptTimeout
}

// AttemptTimeoutError is an attempt that got no answer within its
// timeout. It is retryable until MaxTimedOutAttempts attempts of the same
// call have timed out.
type AttemptTimeoutError struct {
	Service, Operation string
	Limit              time.Duration
	// TimedOut counts the attempts of the call that timed out, this one
	// included.
	TimedOut int
}

func (e *AttemptTimeoutError) Error() string {
	return fmt.Sprintf("%s %s did not answer within %s (per-attempt timeout; %d attempt(s) timed out, at most %d are tried)",
		e.Service, e.Operation, e.Limit, e.TimedOut, MaxTimedOutAttempts)
}

// RetryableError tells the SDK's retryer to try again, until
// MaxTimedOutAttempts attempts have timed out.
func (e *AttemptTimeoutError) RetryableError() bool { return e.TimedOut < MaxTimedOutAttempts }

// Timeout reports that the error is a timeout.
func (e *AttemptTimeoutError) Timeout() bool { return true }

// IsAttemptTimeout reports whether err is (or wraps) an attempt timeout.
func IsAttemptTimeout(err error) bool {
	var te *AttemptTimeoutError
	return errors.As(err, &te)
}

const (
	attemptTimeoutID = "KeywardenAttemptTimeout"
	timedOutCountID  = "KeywardenTimedOutAttempts"
)

type timedOutKey struct{}

// attemptTimeouts returns the API option that gives every attempt its own
// deadline. override, when not zero, replaces every operation's timeout.
func attemptTimeouts(override time.Duration) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		if _, ok := stack.Finalize.Get(attemptTimeoutID); ok {
			return nil // LoadConfig's, then WithRetries': once is enough
		}
		// One count of timed-out attempts per call, before the retry loop.
		err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc(timedOutCountID,
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				return next.HandleInitialize(context.WithValue(ctx, timedOutKey{}, new(atomic.Int32)), in)
			}), middleware.Before)
		if err != nil {
			return err
		}
		m := middleware.FinalizeMiddlewareFunc(attemptTimeoutID,
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				service, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
				d := override
				if d <= 0 {
					d = AttemptTimeout(service, op)
				}
				actx, cancel := context.WithTimeout(ctx, d)
				out, md, err := next.HandleFinalize(actx, in)
				if err != nil {
					cancel()
					if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
						n := 1
						if c, ok := ctx.Value(timedOutKey{}).(*atomic.Int32); ok {
							n = int(c.Add(1))
						}
						err = &AttemptTimeoutError{Service: service, Operation: op, Limit: d, TimedOut: n}
					}
					return out, md, err
				}
				// A streamed answer (s3:GetObject's Body) is read after the
				// call returns: its deadline ends when it is closed.
				if !deferCancel(out.Result, cancel) {
					cancel()
				}
				return out, md, nil
			})
		// After the Pacer when there is one: the wait for a token is not
		// part of the attempt.
		if _, ok := stack.Finalize.Get(pacerID); ok {
			return stack.Finalize.Insert(m, pacerID, middleware.After)
		}
		return insertAfterRetry(stack, m)
	}
}

// insertAfterRetry puts m right after the SDK's retry middleware, so that
// it runs once per attempt (or first in the finalize step of a stack
// without one).
func insertAfterRetry(stack *middleware.Stack, m middleware.FinalizeMiddleware) error {
	if _, ok := stack.Finalize.Get((&retry.Attempt{}).ID()); ok {
		return stack.Finalize.Insert(m, (&retry.Attempt{}).ID(), middleware.After)
	}
	return stack.Finalize.Add(m, middleware.Before)
}

// deferCancel wraps the Body (an io.ReadCloser) of the output result points
// to, if it has one, so that closing it calls cancel. It reports whether it
// did.
func deferCancel(result any, cancel context.CancelFunc) bool {
	v := reflect.ValueOf(result)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return false
	}
	f := v.Elem().FieldByName("Body")
	if !f.IsValid() || !f.CanSet() || f.Type() != reflect.TypeFor[io.ReadCloser]() || f.IsNil() {
		return false
	}
	f.Set(reflect.ValueOf(io.ReadCloser(&cancelOnClose{ReadCloser: f.Interface().(io.ReadCloser), cancel: cancel})))
	return true
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	defer c.cancel()
	return c.ReadCloser.Close()
}

// attemptTimeoutOverride reads AttemptTimeoutEnv (0 when unset).
func attemptTimeoutOverride() (time.Duration, error) {
	v := os.Getenv(AttemptTimeoutEnv)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive Go duration such as 2s", AttemptTimeoutEnv, v)
	}
	return d, nil
}

// Backoff between attempts: full jitter over an exponential schedule,
// rand × min(base × 2^(n-1), MaxBackoff) before retry n, base
// ThrottleBaseDelay after a throttled attempt and RetryBaseDelay after any
// other error.
const (
	// ThrottleBaseDelay is the first backoff's ceiling after throttling.
	// The SDK's standard mode starts at 1 s; IAM refills its buckets every
	// second and the account's Pacer keeps the scan under IAM's rate, so a
	// throttled call (most often IAM's other callers' doing) backs off
	// from 100 ms: 8 attempts wait at most 12.7 s in all (0.1 + 0.2 + … +
	// 6.4), across a dozen refills, and a call throttled three times in a
	// row, about one in 37 at 30% throttling, costs 0.35 s on average instead of
	// 3.5 s.
	ThrottleBaseDelay = 100 * time.Millisecond
	// RetryBaseDelay is the first backoff's ceiling after another error
	// (a 5xx, a reset connection, an attempt timeout): the SDK's own.
	RetryBaseDelay = 50 * time.Millisecond
	// MaxBackoff caps one backoff: the SDK's own.
	MaxBackoff = 20 * time.Second
)

// jitterBackoff is the retry.BackoffDelayer of keywarden's clients.
type jitterBackoff struct{ throttles retry.IsErrorThrottle }

// BackoffDelay is the wait before the attempt after attempt (1-based).
func (b jitterBackoff) BackoffDelay(attempt int, err error) (time.Duration, error) {
	base := RetryBaseDelay
	if b.throttles.IsErrorThrottle(err) == aws.TrueTernary {
		base = ThrottleBaseDelay
	}
	ceiling := MaxBackoff
	if n := max(attempt-1, 0); n < 30 && base<<n < MaxBackoff {
		ceiling = base << n
	}
	return time.Duration(rand.Float64() * float64(ceiling)), nil
}

// standardRetryer is the SDK's standard retry mode (exponential backoff
// with full jitter, jitterBackoff) up to maxAttempts attempts, without the
// retry quota: a scan's pace is set by the account's Pacer, and throttling
// costs the throttled calls their retries only, never every later call of
// the run (as the adaptive mode did).
func standardRetryer(maxAttempts int) func() aws.Retryer {
	return func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = maxAttempts
			o.RateLimiter = ratelimit.None
			o.Backoff = jitterBackoff{throttles: retry.IsErrorThrottles(o.Throttles)}
		})
	}
}

// Per-account pacing. IAM limits the request rate of each account with
// token buckets refilled every second, one or more per API, shared by
// every caller in the account; AWS publishes neither their size nor their
// rate (see docs/reliability.md, "Timeouts and pacing"). A Pacer keeps one
// account's clients under AccountRate requests a second, with bursts of
// AccountBurst.
const (
	AccountRate  = 50
	AccountBurst = 128
)

// Pacer is a token bucket shared by the clients of one account: every
// attempt (retries included) takes a token, waiting for one when the
// bucket is empty. It is safe for concurrent use.
type Pacer struct {
	mu     sync.Mutex
	rate   float64 // tokens a second
	burst  float64
	tokens float64
	last   time.Time
	// taken counts the tokens taken; waited sums the time callers waited
	// for one.
	taken  int
	waited time.Duration
}

// NewPacer returns a full bucket of burst tokens refilled at rate a second.
func NewPacer(rate, burst int) *Pacer {
	return &Pacer{rate: float64(rate), burst: float64(burst), tokens: float64(burst)}
}

// NewAccountPacer returns a Pacer at IAM's pace: AccountRate, AccountBurst.
func NewAccountPacer() *Pacer { return NewPacer(AccountRate, AccountBurst) }

// Wait takes a token, waiting until there is one or ctx is done.
func (p *Pacer) Wait(ctx context.Context) error {
	p.mu.Lock()
	now := time.Now()
	if !p.last.IsZero() {
		p.tokens = min(p.burst, p.tokens+now.Sub(p.last).Seconds()*p.rate)
	}
	p.last = now
	p.tokens-- // taken now; a negative balance is the queue ahead
	p.taken++
	wait := time.Duration(0)
	if p.tokens < 0 {
		wait = time.Duration(-p.tokens / p.rate * float64(time.Second))
		p.waited += wait
	}
	p.mu.Unlock()
	if wait == 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		p.tokens++ // give the token back
		p.taken--
		p.mu.Unlock()
		return ctx.Err()
	}
}

// Taken is how many tokens have been taken (attempts paced), and Waited
// how long callers have waited for them in all.
func (p *Pacer) Taken() (int, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.taken, p.waited
}

const pacerID = "KeywardenAccountPacer"

// Pace returns a copy of cfg whose clients take a token from p before each
// attempt (after the retry middleware, before the attempt's deadline
// starts: waiting for a token is not part of the attempt's timeout).
func (p *Pacer) Pace(cfg aws.Config) aws.Config {
	cfg = cfg.Copy()
	cfg.APIOptions = append(append([]func(*middleware.Stack) error(nil), cfg.APIOptions...), func(stack *middleware.Stack) error {
		if _, ok := stack.Finalize.Get(pacerID); ok {
			stack.Finalize.Remove(pacerID) // the latest Pacer applies
		}
		return insertAfterRetry(stack, middleware.FinalizeMiddlewareFunc(pacerID,
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if err := p.Wait(ctx); err != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, err
				}
				return next.HandleFinalize(ctx, in)
			}))
	})
	return cfg
}
