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

// IDLookups names the users whose credential IDs ResolveIDs looks up: the
// credential report carries no IDs, so they are read only for the users
// with a finding that needs one.
type IDLookups struct {
	// AccessKeys are the users with an access-key finding: one
	// ListAccessKeys (paginated) each.
	AccessKeys []string
	// SigningCerts are the users with a signing-certificate finding: one
	// ListSigningCertificates (paginated) each. Root's certificates
	// cannot be listed by user name (ListSigningCertificates without one
	// lists the caller's), so root's are left without an ID.
	SigningCerts []string
}

// ResolveKeyIDs is ResolveIDs of access keys only.
func (c *Collector) ResolveKeyIDs(ctx context.Context, snap *inventory.Snapshot, users []string) error {
	return c.ResolveIDs(ctx, snap, IDLookups{AccessKeys: users})
}

// ResolveIDs fills AccessKey.ID and SigningCert.ID of the named users'
// report slots, with one ListAccessKeys or ListSigningCertificates
// (paginated) per user and kind, the users with a slot of that kind once
// each, up to KeyLookupParallel calls at once: a limit that halves when
// IAM throttles most of a limit's worth of calls and grows back by one for
// each limit's worth of calls that succeed (throttled calls are retried by
// the SDK). A credential is matched to the slot whose date (the report's
// access_key_N_last_rotated, cert_N_last_rotated) equals its CreateDate or
// UploadDate to the second; when exactly one credential and one slot are
// left unmatched, they are paired. Users not in snap, and users deleted
// since the snapshot, are skipped with a debug log; other slots left
// unmatched are logged.
func (c *Collector) ResolveIDs(ctx context.Context, snap *inventory.Snapshot, l IDLookups) error {
	log := c.logger().With("account", snap.AccountID)
	var jobs []userJob
	for _, name := range selectUsers(log, snap, l.AccessKeys, "access key", func(u *inventory.User) bool { return len(u.AccessKeys) > 0 }) {
		jobs = append(jobs, userJob{name, func(ctx context.Context, u *inventory.User, opt func(*iam.Options)) error {
			keys, err := c.listAccessKeys(ctx, u.Name, opt)
			if err != nil {
				return lookupError(log, err, "list access keys", u.Name, snap.AccountID)
			}
			for _, slot := range matchKeys(u.AccessKeys, keys) {
				log.Warn("cannot tell which access key is in this credential report slot", "user", u.Name, "slot", slot)
			}
			return nil
		}})
	}
	for _, name := range selectUsers(log, snap, l.SigningCerts, "signing certificate", func(u *inventory.User) bool { return len(u.SigningCerts) > 0 }) {
		jobs = append(jobs, userJob{name, func(ctx context.Context, u *inventory.User, opt func(*iam.Options)) error {
			certs, err := c.listSigningCerts(ctx, u.Name, opt)
			if err != nil {
				return lookupError(log, err, "list signing certificates", u.Name, snap.AccountID)
			}
			for _, slot := range matchCerts(u.SigningCerts, certs) {
				log.Warn("cannot tell which signing certificate is in this credential report slot", "user", u.Name, "slot", slot)
			}
			return nil
		}})
	}
	return c.eachUser(ctx, log, snap, jobs)
}

// userJob is one user's lookup: run is called with the user and the
// option that puts the call under the limiter.
type userJob struct {
	user string
	run  func(ctx context.Context, u *inventory.User, opt func(*iam.Options)) error
}

// selectUsers returns the named users of snap that have (has) a
// credential to look up, once each, in the order named. Root, and users
// not in snap, are skipped with a debug log.
func selectUsers(log *slog.Logger, snap *inventory.Snapshot, names []string, kind string, has func(*inventory.User) bool) []string {
	index := make(map[string]int, len(snap.Users))
	for i, u := range snap.Users {
		index[u.Name] = i
	}
	var out []string
	seen := map[string]bool{}
	for _, name := range names {
		i, ok := index[name]
		switch {
		case name == inventory.RootUserName:
			log.Debug("root's credentials cannot be listed by user name; their IDs are left unknown", "kind", kind)
			continue
		case !ok:
			log.Debug("no such user in the snapshot; not resolving its IDs", "user", name, "kind", kind)
			continue
		case seen[name] || !has(&snap.Users[i]):
			continue
		}
		seen[name] = true
		out = append(out, name)
	}
	return out
}

// lookupError is a per-user lookup's error: nil, with a debug log, for a
// user deleted since the snapshot (NoSuchEntity); else the error naming
// the call, the user and the account.
func lookupError(log *slog.Logger, err error, call, user, account string) error {
	var noSuch *types.NoSuchEntityException
	if errors.As(err, &noSuch) {
		log.Debug("user deleted since the snapshot; "+call+" skipped", "user", user)
		return nil
	}
	return fmt.Errorf("%s of %s in account %s: %w", call, user, account, err)
}

// eachUser runs the jobs, up to KeyLookupLimit at once under one adaptive
// limiter, and returns the first error. Each job writes only its own
// user's fields of snap.
func (c *Collector) eachUser(ctx context.Context, log *slog.Logger, snap *inventory.Snapshot, jobs []userJob) error {
	if len(jobs) == 0 {
		return nil
	}
	index := make(map[string]int, len(snap.Users))
	for i, u := range snap.Users {
		index[u.Name] = i
	}
	lim := newLimiter(c.KeyLookupLimit(), log)
	g, ctx := errgroup.WithContext(ctx)
	for _, j := range jobs {
		if err := lim.acquire(ctx); err != nil {
			// ctx is done: a lookup failed (Wait returns its error) or
			// the caller gave up.
			if werr := g.Wait(); werr != nil {
				return werr
			}
			return fmt.Errorf("look up credentials in account %s: %w", snap.AccountID, err)
		}
		u := &snap.Users[index[j.user]]
		g.Go(func() error {
			defer lim.release()
			return j.run(ctx, u, lim.observe)
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

// KeyLookupLimit is the most per-user lookups ResolveIDs (and the SSH key
// reads of Snapshot) have in flight at once: KeyLookupParallel, or
// DefaultKeyLookupParallel.
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

func (c *Collector) listSigningCerts(ctx context.Context, user string, optFns ...func(*iam.Options)) ([]types.SigningCertificate, error) {
	var certs []types.SigningCertificate
	p := iam.NewListSigningCertificatesPaginator(c.IAM, &iam.ListSigningCertificatesInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx, optFns...)
		if err != nil {
			return nil, err
		}
		certs = append(certs, out.Certificates...)
	}
	return certs, nil
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
		l.log.Debug("most lookups throttled; fewer at once", "limit", l.limit)
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

// slotRef is a report slot to match: its number, date and state, and
// where its ID goes.
type slotRef struct {
	slot    int
	created time.Time
	active  bool
	id      *string
}

// listed is a credential as IAM lists it.
type listed struct {
	id      string
	created time.Time
	active  bool
}

// matchKeys matches access keys to the report's key slots (matchSlots).
func matchKeys(slots []inventory.AccessKey, keys []types.AccessKeyMetadata) (unmatched []int) {
	refs := make([]slotRef, len(slots))
	for i := range slots {
		refs[i] = slotRef{slots[i].Slot, slots[i].CreatedAt, slots[i].Active, &slots[i].ID}
	}
	ls := make([]listed, len(keys))
	for i, k := range keys {
		ls[i] = listed{aws.ToString(k.AccessKeyId), aws.ToTime(k.CreateDate), k.Status == types.StatusTypeActive}
	}
	return matchSlots(refs, ls)
}

// matchCerts matches signing certificates to the report's certificate
// slots (matchSlots), by upload date.
func matchCerts(slots []inventory.SigningCert, certs []types.SigningCertificate) (unmatched []int) {
	refs := make([]slotRef, len(slots))
	for i := range slots {
		refs[i] = slotRef{slots[i].Slot, slots[i].CreatedAt, slots[i].Active, &slots[i].ID}
	}
	ls := make([]listed, len(certs))
	for i, c := range certs {
		ls[i] = listed{aws.ToString(c.CertificateId), aws.ToTime(c.UploadDate), c.Status == types.StatusTypeActive}
	}
	return matchSlots(refs, ls)
}

// matchSlots sets the ID of each slot without one to the credential
// created in the same second (preferring one whose status agrees with the
// slot when two share the second), then pairs a lone unmatched slot with a
// lone unmatched credential. It returns the slots still unmatched.
func matchSlots(slots []slotRef, creds []listed) (unmatched []int) {
	used := make([]bool, len(creds))
	for _, s := range slots {
		if *s.id != "" {
			for j, c := range creds {
				if c.id == *s.id {
					used[j] = true
				}
			}
		}
	}
	for _, s := range slots {
		if *s.id != "" {
			continue
		}
		best := -1
		for j, c := range creds {
			if used[j] || !sameSecond(c.created, s.created) {
				continue
			}
			if best < 0 || c.active == s.active {
				best = j
				if c.active == s.active {
					break
				}
			}
		}
		if best >= 0 {
			used[best] = true
			*s.id = creds[best].id
		}
	}

	var freeSlots, freeCreds []int
	for i, s := range slots {
		if *s.id == "" {
			freeSlots = append(freeSlots, i)
		}
	}
	for j := range creds {
		if !used[j] {
			freeCreds = append(freeCreds, j)
		}
	}
	if len(freeSlots) == 1 && len(freeCreds) == 1 {
		*slots[freeSlots[0]].id = creds[freeCreds[0]].id
		return nil
	}
	for _, i := range freeSlots {
		unmatched = append(unmatched, slots[i].slot)
	}
	return unmatched
}

func sameSecond(a, b time.Time) bool {
	return !a.IsZero() && a.Truncate(time.Second).Equal(b.Truncate(time.Second))
}
