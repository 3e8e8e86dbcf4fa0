package awsapi

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/middleware"
)

// DefaultRegion is used when no region is configured: IAM is a global
// service, so any commercial region reaches it.
const DefaultRegion = "us-east-1"

// DefaultMaxAttempts is the SDK retry attempt limit keywarden uses unless
// told otherwise.
const DefaultMaxAttempts = 8

// Options tune LoadConfig. Zero values use the SDK's standard settings
// (environment, shared config, AWS_ENDPOINT_URL…).
type Options struct {
	Region      string
	Profile     string
	MaxAttempts int
}

// LoadConfig loads the SDK configuration from the standard sources, with the
// standard retry mode (exponential backoff with jitter, no retry quota),
// per-attempt timeouts (AttemptTimeout) and a region fallback. The
// credentials behind the caller's (the source of each role the shared
// config assumes) are recorded: ChainOf(cfg).
func LoadConfig(ctx context.Context, o Options) (aws.Config, error) {
	chain := &CredentialChain{}
	timeout, err := attemptTimeoutOverride()
	if err != nil {
		return aws.Config{}, err
	}
	// The retryer and the timeouts also go to the clients the SDK builds
	// for the credentials themselves (the STS client of a profile's role).
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(standardRetryer(attempts(o.MaxAttempts))),
		config.WithAPIOptions([]func(*middleware.Stack) error{attemptTimeouts(timeout)}),
		config.WithAssumeRoleCredentialOptions(chain.record),
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	cfg = withRetries(cfg, o.MaxAttempts, timeout)
	chain.resolved(cfg)
	cfg.ConfigSources = append(cfg.ConfigSources, chain)
	return cfg, nil
}

// WithRetries returns a copy of cfg whose clients retry in the SDK's
// standard mode (exponential backoff with jitter, no retry quota) up to
// maxAttempts attempts per operation (0: DefaultMaxAttempts), each attempt
// with its own timeout (AttemptTimeout, or AttemptTimeoutEnv). A scan
// applies it to whatever configuration it was given, so the attempt limit
// of the config file and the timeouts hold however the caller loaded the
// SDK settings.
func WithRetries(cfg aws.Config, maxAttempts int) aws.Config {
	timeout, err := attemptTimeoutOverride()
	if err != nil {
		timeout = 0 // LoadConfig reports a bad value; a config from elsewhere keeps the defaults
	}
	return withRetries(cfg, maxAttempts, timeout)
}

func withRetries(cfg aws.Config, maxAttempts int, timeout time.Duration) aws.Config {
	cfg = cfg.Copy()
	n := attempts(maxAttempts)
	cfg.RetryMode = aws.RetryModeStandard
	cfg.Retryer = standardRetryer(n)
	cfg.RetryMaxAttempts = n
	cfg.APIOptions = append(append([]func(*middleware.Stack) error(nil), cfg.APIOptions...), attemptTimeouts(timeout))
	return cfg
}

func attempts(n int) int {
	if n <= 0 {
		return DefaultMaxAttempts
	}
	return n
}

// Counter counts SDK operations (not retry attempts) by "Service.Operation".
// It is safe for concurrent use.
type Counter struct {
	mu   sync.Mutex
	byOp map[string]int
}

// NewCounter returns an empty counter.
func NewCounter() *Counter { return &Counter{byOp: map[string]int{}} }

// Instrument returns a copy of cfg whose clients count every operation in c.
func (c *Counter) Instrument(cfg aws.Config) aws.Config {
	cfg = cfg.Copy()
	cfg.APIOptions = append(append([]func(*middleware.Stack) error(nil), cfg.APIOptions...), c.addMiddleware)
	return cfg
}

func (c *Counter) addMiddleware(stack *middleware.Stack) error {
	// The serialize step runs once per operation, before the retry loop in
	// the finalize step, so retries are not counted as extra calls.
	return stack.Serialize.Add(middleware.SerializeMiddlewareFunc("KeywardenCallCounter",
		func(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (middleware.SerializeOutput, middleware.Metadata, error) {
			c.Add(awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx))
			return next.HandleSerialize(ctx, in)
		}), middleware.After)
}

// Add records one call of op.
func (c *Counter) Add(op string) {
	c.mu.Lock()
	c.byOp[op]++
	c.mu.Unlock()
}

// Total is the number of calls counted.
func (c *Counter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.byOp {
		n += v
	}
	return n
}

// ByOperation returns a copy of the per-operation counts.
func (c *Counter) ByOperation() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int, len(c.byOp))
	for k, v := range c.byOp {
		m[k] = v
	}
	return m
}

// Operations lists the counted operation names, sorted.
func (c *Counter) Operations() []string {
	m := c.ByOperation()
	ops := make([]string, 0, len(m))
	for k := range m {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	return ops
}
