package collect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/sync/errgroup"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/inventory"
)

// ResolveKeyIDs fills AccessKey.ID of the named users' report slots, with
// one ListAccessKeys (paginated) per user, up to KeyLookupParallel users
// at once: a limit that halves when IAM throttles most of a limit's worth
// of calls and grows back by one for each limit's worth of calls that
// succeed (throttled calls are retried by the SDK). A key is matched to the slot whose
// creation time (the report's access_key_N_last_rotated) equals its
// CreateDate to the second; when exactly one key and one slot are left
// unmatched, they are paired. Users not in snap, and users deleted since
// the snapshot, are skipped with a debug log; other slots left unmatched
// are logged.
func (c *Collector) ResolveKeyIDs(ctx context.Context, snap *inventory.Snapshot, users []string) error {
	log := c.logger().With("account", snap.AccountID)
	index := make(map[string]int, len(snap.Users))
	for i, u := range snap.Users {
		index[u.Name] = i
	}

	lim := newLimiter(c.KeyLookupLimit(), log)
	g, ctx := errgroup.WithContext(ctx)
	seen := map[string]bool{}
	for _, name := range users {
		i, ok := index[name]
		if !ok {
			log.Debug("no such user in the snapshot; not resolving its key IDs", "user", name)
			continue
		}
		if seen[name] || len(snap.Users[i].AccessKeys) == 0 {
			continue
		}
		seen[name] = true
		if err := lim.acquire(ctx); err != nil {
			// ctx is done: a lookup failed (Wait returns its error) or
			// the caller gave up.
			if werr := g.Wait(); werr != nil {
				return werr
			}
			return fmt.Errorf("list access keys in account %s: %w", snap.AccountID, err)
		}
		// Each goroutine writes only its own user's slots.
		u := &snap.Users[i]
		g.Go(func() error {
			defer lim.release()
			keys, err := c.listAccessKeys(ctx, u.Name, lim.observe)
			var noSuch *types.NoSuchEntityException
			switch {
			case errors.As(err, &noSuch):
				log.Debug("user deleted since the snapshot; not resolving its key IDs", "user", u.Name)
				return nil
			case err != nil:
				return fmt.Errorf("list access keys of %s in account %s: %w", u.Name, snap.AccountID, err)
			}
			for _, slot := range matchKeys(u.AccessKeys, keys) {
				log.Warn("cannot tell which access key is in this credential report slot", "user", u.Name, "slot", slot)
			}
			return nil
		})
	}
	return g.Wait()
}

// MaxIdleConns bounds the idle connections a ScanHTTPClient keeps, to all
// hosts together: however many accounts a scan reads at once, it keeps no
// more sockets open between its rounds of key lookups than this (a Lambda
// function may have 1,024 files open).
const MaxIdleConns = 256

// ScanHTTPClient returns the HTTP client for every AWS client of one scan,
// to build once per scan and share: accounts then reuse each other's
// connections, and the scan holds one pool of idle connections however
// many accounts it reads. inFlight is how many ListAccessKeys calls the
// scan can have in flight at once (the accounts read at once × each
// Collector's KeyLookupLimit): the client keeps that many idle
// connections to a host, and in all, at most MaxIdleConns (the SDK keeps
// 10 per host), so that each round of key lookups reuses the last round's
// connections instead of opening new ones (a TLS handshake each). c is
// the SDK configuration's client: nil stands for the SDK's default, the
// SDK's BuildableClient keeps its other settings, and any other client is
// returned as it is (its owner sized its pool).
func ScanHTTPClient(c aws.HTTPClient, inFlight int) aws.HTTPClient {
	var bc *awshttp.BuildableClient
	switch c := c.(type) {
	case nil:
		bc = awshttp.NewBuildableClient()
	case *awshttp.BuildableClient:
		bc = c
	default:
		return c
	}
	idle := min(max(inFlight, 1), MaxIdleConns)
	return bc.WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, idle)
		t.MaxIdleConns = max(t.MaxIdleConns, idle)
	})
}

// KeyLookupLimit is the most ListAccessKeys calls ResolveKeyIDs has in
// flight at once: KeyLookupParallel, or DefaultKeyLookupParallel.
func (c *Collector) KeyLookupLimit() int {
	return orDefault(c.KeyLookupParallel, DefaultKeyLookupParallel)
}

func (c *Collector) listAccessKeys(ctx context.Context, user string, optFns ...func(*iam.Options)) ([]types.AccessKeyMetadata, error) {
	var keys []types.AccessKeyMetadata
	p := iam.NewListAccessKeysPaginator(c.IAM, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx, optFns...)
		if err != nil {
			return nil, err
		}
		keys = append(keys, out.AccessKeyMetadata...)
	}
	return keys, nil
}

// limiter bounds the calls in flight with a limit that adapts to
// throttling (additive increase, multiplicative decrease): it halves when
// most of a window of calls were throttled — the next limit calls to
// finish, sent under the same limit — and grows by one each time limit
// calls have succeeded, up to its maximum. A share of throttled calls
// that is not most of them (IAM's other callers, a throttle now and then)
// costs those calls their retries (the SDK's backoff), not the scan its
// pace: the account's Pacer keeps the rate under IAM's.
type limiter struct {
	log *slog.Logger

	mu       sync.Mutex
	limit    int // in [1, max]
	max      int
	inFlight int
	// successes counts the calls that succeeded since the limit changed.
	successes int
	// window counts the calls finished in the current window, and
	// throttles those of them throttled.
	window, throttles int
	// epoch counts the decreases: a throttled call sent in an earlier
	// epoch was sent under a higher limit and does not count against this
	// one.
	epoch int
	// freed is closed (and replaced) when a slot may have come free.
	freed chan struct{}
}

func newLimiter(max int, log *slog.Logger) *limiter {
	return &limiter{log: log, limit: max, max: max, freed: make(chan struct{})}
}

// acquire waits for a free slot; it returns the context's cause when ctx
// is done first. Each acquire is paired with a release.
func (l *limiter) acquire(ctx context.Context) error {
	for {
		l.mu.Lock()
		if l.inFlight < l.limit {
			l.inFlight++
			l.mu.Unlock()
			return nil
		}
		freed := l.freed
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-freed:
		}
	}
}

func (l *limiter) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	l.wake()
}

// wake tells the waiting acquires that a slot may be free; l.mu is held.
func (l *limiter) wake() {
	close(l.freed)
	l.freed = make(chan struct{})
}

// sent is called as a call is sent; it returns the epoch to pass to
// throttled.
func (l *limiter) sent() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch
}

// throttled counts a throttled call sent in epoch, unless the limit has
// been halved since the call was sent.
func (l *limiter) throttled(epoch int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if epoch != l.epoch {
		return
	}
	l.throttles++
	l.finished()
}

func (l *limiter) succeeded() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limit < l.max {
		if l.successes++; l.successes >= l.limit {
			l.limit++
			l.successes = 0
			l.wake()
		}
	}
	l.finished()
}

// finished closes the window once limit calls have finished in it, and
// halves the limit when most of them were throttled; l.mu is held.
func (l *limiter) finished() {
	if l.window++; l.window < l.limit {
		return
	}
	if 2*l.throttles > l.window {
		l.epoch++
		l.limit = max(1, l.limit/2)
		l.successes = 0
		l.log.Debug("most ListAccessKeys calls throttled; fewer key lookups at once", "limit", l.limit)
	}
	l.window, l.throttles = 0, 0
}

// observe adds to an IAM call a middleware that tells l of each attempt's
// outcome: it runs after the SDK's retry middleware, so it sees every
// attempt, the throttled ones the SDK retries included.
func (l *limiter) observe(o *iam.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("KeywardenKeyLookupLimit",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				epoch := l.sent()
				out, md, err := next.HandleFinalize(ctx, in)
				switch {
				case err == nil:
					l.succeeded()
				case awsapi.IsThrottled(err):
					l.throttled(epoch)
				}
				return out, md, err
			}), "Retry", middleware.After)
	})
}

// matchKeys sets the ID of each slot without one to the key created in the
// same second (preferring a key whose status agrees with the slot when two
// share the second), then pairs a lone unmatched slot with a lone unmatched
// key. It returns the slots still unmatched.
func matchKeys(slots []inventory.AccessKey, keys []types.AccessKeyMetadata) (unmatched []int) {
	used := make([]bool, len(keys))
	for i := range slots {
		if slots[i].ID != "" {
			for j, k := range keys {
				if aws.ToString(k.AccessKeyId) == slots[i].ID {
					used[j] = true
				}
			}
		}
	}
	for i := range slots {
		s := &slots[i]
		if s.ID != "" {
			continue
		}
		best := -1
		for j, k := range keys {
			if used[j] || !sameSecond(aws.ToTime(k.CreateDate), s.CreatedAt) {
				continue
			}
			if best < 0 || (k.Status == types.StatusTypeActive) == s.Active {
				best = j
				if (k.Status == types.StatusTypeActive) == s.Active {
					break
				}
			}
		}
		if best >= 0 {
			used[best] = true
			s.ID = aws.ToString(keys[best].AccessKeyId)
		}
	}

	var freeSlots, freeKeys []int
	for i := range slots {
		if slots[i].ID == "" {
			freeSlots = append(freeSlots, i)
		}
	}
	for j := range keys {
		if !used[j] {
			freeKeys = append(freeKeys, j)
		}
	}
	if len(freeSlots) == 1 && len(freeKeys) == 1 {
		slots[freeSlots[0]].ID = aws.ToString(keys[freeKeys[0]].AccessKeyId)
		return nil
	}
	for _, i := range freeSlots {
		unmatched = append(unmatched, slots[i].Slot)
	}
	return unmatched
}

func sameSecond(a, b time.Time) bool {
	return !a.IsZero() && a.Truncate(time.Second).Equal(b.Truncate(time.Second))
}
