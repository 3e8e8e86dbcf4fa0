package collect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/inventory"
)

// IAM is the part of the IAM API the collector calls; *iam.Client satisfies
// it.
type IAM interface {
	GenerateCredentialReport(ctx context.Context, in *iam.GenerateCredentialReportInput, optFns ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error)
	GetCredentialReport(ctx context.Context, in *iam.GetCredentialReportInput, optFns ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error)
	GetAccountAuthorizationDetails(ctx context.Context, in *iam.GetAccountAuthorizationDetailsInput, optFns ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error)
	GetAccountPasswordPolicy(ctx context.Context, in *iam.GetAccountPasswordPolicyInput, optFns ...func(*iam.Options)) (*iam.GetAccountPasswordPolicyOutput, error)
	ListAccountAliases(ctx context.Context, in *iam.ListAccountAliasesInput, optFns ...func(*iam.Options)) (*iam.ListAccountAliasesOutput, error)
	ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, optFns ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	GetAccountSummary(ctx context.Context, in *iam.GetAccountSummaryInput, optFns ...func(*iam.Options)) (*iam.GetAccountSummaryOutput, error)
	ListServiceSpecificCredentials(ctx context.Context, in *iam.ListServiceSpecificCredentialsInput, optFns ...func(*iam.Options)) (*iam.ListServiceSpecificCredentialsOutput, error)
	ListSigningCertificates(ctx context.Context, in *iam.ListSigningCertificatesInput, optFns ...func(*iam.Options)) (*iam.ListSigningCertificatesOutput, error)
	ListSSHPublicKeys(ctx context.Context, in *iam.ListSSHPublicKeysInput, optFns ...func(*iam.Options)) (*iam.ListSSHPublicKeysOutput, error)
}

// STS is the part of the STS API the collector calls; *sts.Client satisfies
// it.
type STS interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

var (
	_ IAM = (*iam.Client)(nil)
	_ STS = (*sts.Client)(nil)
)

// Defaults for the zero values of Collector's fields.
const (
	DefaultKeyLookupParallel = 32
	DefaultPollInitial       = 50 * time.Millisecond
	DefaultPollMax           = 15 * time.Second
	DefaultMaxWait           = 5 * time.Minute
	// DefaultMaxReportCalls is ReportCallCap(DefaultPollInitial,
	// DefaultPollMax, DefaultMaxWait): the most report calls the default
	// schedule can make within the default MaxWait.
	DefaultMaxReportCalls = 48
)

// gaadPageSize is the MaxItems of each GetAccountAuthorizationDetails page:
// the API's maximum.
const gaadPageSize = 1000

// serviceCredentialPageSize is the MaxItems of each
// ListServiceSpecificCredentials page: the API's maximum.
const serviceCredentialPageSize = 1000

// maxRegenerations bounds how often a missing or expired report is
// generated again before the collector gives up.
const maxRegenerations = 3

// CredentialsHint is what the error of a failed credentials check tells the
// user to do next.
const CredentialsHint = "configure AWS credentials (AWS_PROFILE, `aws sso login`, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or scan a downloaded report offline with --credential-report FILE"

// Collector reads one account's IAM users and credentials over the IAM API,
// at the fewest calls: 4 + R + max(1, ceil(users/1000)) + S + K for a
// Snapshot, where R, its GenerateCredentialReport and GetCredentialReport
// calls, is 2 when the report is ready at the first look and never more
// than MaxReportCalls (48 by default), S is the pages of
// ListServiceSpecificCredentials (AllUsers: max(1, ceil(credentials/1000)))
// and K the ListSSHPublicKeys calls of the users SSHKeyUsers selects (one
// each, more only past 1,000 keys); plus one ListAccessKeys or
// ListSigningCertificates per user and kind passed to ResolveIDs.
type Collector struct {
	IAM    IAM
	STS    STS
	Logger *slog.Logger // nil: discard
	// KeyLookupParallel is the most per-user lookups (ListAccessKeys,
	// ListSigningCertificates, ListSSHPublicKeys) in flight at once
	// (default DefaultKeyLookupParallel); the limit halves when most of a
	// limit's worth of calls are throttled and grows back as calls
	// succeed.
	KeyLookupParallel int
	// PollInitial and PollMax bound the exponential backoff, with jitter,
	// between looks at the credential report while IAM generates it
	// (defaults DefaultPollInitial and DefaultPollMax): each wait is
	// between half and all of an interval that doubles from PollInitial
	// to PollMax.
	PollInitial, PollMax time.Duration
	// MaxWait bounds the wait for the credential report (default
	// DefaultMaxWait, 5 minutes).
	MaxWait time.Duration
	// MaxReportCalls bounds the GenerateCredentialReport and
	// GetCredentialReport calls of one Snapshot, Begin's included: each
	// look at a report IAM is still generating is one call. The default
	// (0) is ReportCallCap(PollInitial, PollMax, MaxWait), the most calls
	// the schedule can make within MaxWait, so that MaxWait is the bound
	// that applies: with the defaults the cap is 48 calls, reached only if
	// every wait is its shortest (the last look at 297.75 s, within a wait
	// of MaxWait), where at average jitter MaxWait comes after about 34
	// looks. It can come first only when a report that went missing is
	// generated again, which starts the schedule again. A MaxReportCalls
	// below the default bounds the calls before the time.
	MaxReportCalls int
	// SSHKeyUsers selects the users whose SSH public keys Snapshot lists
	// (ListSSHPublicKeys, one call per user): the opt-in ssh_key_age
	// rule's selection (policy.SSHKeyUsers). nil: none are read.
	SSHKeyUsers func(*inventory.User) bool

	// serviceCredentialPage is the MaxItems of each
	// ListServiceSpecificCredentials page; 0 is serviceCredentialPageSize.
	// Tests make it small to see several pages.
	serviceCredentialPage int32

	begun *begun // set by Begin, consumed by Snapshot
}

// CredentialsError is returned when the caller's AWS credentials could not
// be used at all. Its message keeps the SDK's and adds what to do next.
type CredentialsError struct{ Err error }

func (e *CredentialsError) Error() string {
	return fmt.Sprintf("check AWS credentials: %v; %s", e.Err, CredentialsHint)
}

// Unwrap returns the SDK's error.
func (e *CredentialsError) Unwrap() error { return e.Err }

func (c *Collector) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// Begin identifies the account (sts:GetCallerIdentity, which also proves
// the credentials) and asks IAM for its credential report
// (GenerateCredentialReport), without waiting for it. A scan of many
// accounts calls Begin in every account before it awaits any report, so
// that IAM builds them all at once. Snapshot calls Begin itself when it
// was not called. It returns the account ID (also with the error of a
// report that could not be started, once the account is known).
//
// IAM answers COMPLETE at once when the account has a report less than
// four hours old: that report is reused, not generated again. A
// LimitExceeded answer is not an error here: Snapshot backs off and asks
// again.
func (c *Collector) Begin(ctx context.Context) (string, error) {
	id, err := c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		if isCredentialsError(err) {
			return "", &CredentialsError{Err: err}
		}
		return "", fmt.Errorf("check AWS credentials: %w", err)
	}
	b := &begun{account: aws.ToString(id.Account), caller: aws.ToString(id.Arn)}
	out, err := c.IAM.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	b.at = time.Now()
	switch {
	case err == nil:
		b.accepted = true
		b.complete = out.State == types.ReportStateTypeComplete
	case isLimitExceeded(err) || isNotReady(err):
		c.logger().Debug("credential report generation throttled; Snapshot asks again", "account", b.account, "error", err)
	default:
		// The account is known even though its report could not be
		// started: the caller's error names it.
		return b.account, fmt.Errorf("generate credential report: %w", err)
	}
	c.begun = b
	return b.account, nil
}

// begun is what Begin learnt, for the Snapshot that follows it.
type begun struct {
	account, caller string
	// accepted: IAM has a report or is generating one (any State), so
	// Snapshot need not ask for one again; complete: the report is ready
	// (COMPLETE), so Snapshot reads it at once.
	accepted, complete bool
	// at is when GenerateCredentialReport answered: Snapshot's first
	// backoff counts the time since.
	at time.Time
}

// Snapshot reads the account: caller identity, credential report, users'
// tags, groups and paths, password policy, alias, account summary, every
// user's service-specific credentials and, for the users SSHKeyUsers
// selects, their SSH public keys. Access key and signing certificate IDs
// are left empty; ResolveIDs fills them for the users that need them.
//
// The reads that do not need the report — the authorization details, the
// password policy, the alias, the account summary and the service-specific
// credentials — run while IAM generates it, and the error returned is the
// first failure in that order, then the report's, whatever failed first in
// time (the same failures give the same error): the report's only when the
// five others succeeded. A failure cancels the reads after it in that
// order, so the account's error is known without waiting out the report
// (up to MaxWait); the report's failure cancels none, the others run to
// their end (a few calls). The SSH public keys, which need the users'
// tags, groups and paths to select them, are read once all of those have
// succeeded. Snapshot returns once every read has; any failure fails the
// whole Snapshot (an account is never half read).
func (c *Collector) Snapshot(ctx context.Context) (*inventory.Snapshot, error) {
	if c.begun == nil {
		if _, err := c.Begin(ctx); err != nil {
			return nil, err
		}
	}
	b := c.begun
	c.begun = nil // the next Snapshot begins afresh
	snap := &inventory.Snapshot{AccountID: b.account, CallerARN: b.caller}
	log := c.logger().With("account", snap.AccountID)

	reportCtx, cancelReport := context.WithCancel(ctx)
	defer cancelReport()
	r := c.startReads(ctx, log, cancelReport)
	rep, err := c.readReport(reportCtx, log, b, snap)
	r.wait()
	if err := r.firstError(); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	snap.Users = joinUserDetails(log, rep.Users, r.details)
	snap.PasswordPolicy, snap.PasswordPolicyKnown = r.policy, true
	snap.AccountAlias = r.alias
	snap.Summary = r.summary
	joinServiceCredentials(log, snap.Users, r.serviceCreds)
	snap.ServiceCredentialsRead = true
	if err := c.readSSHKeys(ctx, log, snap); err != nil {
		return nil, err
	}
	return snap, nil
}

// readReport gets the credential report and parses it into snap's report
// fields; the report's users are returned for joinUserDetails.
func (c *Collector) readReport(ctx context.Context, log *slog.Logger, b *begun, snap *inventory.Snapshot) (*inventory.CredentialReport, error) {
	out, err := c.credentialReport(ctx, log, b)
	if err != nil {
		return nil, err
	}
	rep, err := inventory.ParseCredentialReport(bytes.NewReader(out.Content))
	if err != nil {
		return nil, fmt.Errorf("parse credential report of account %s: %w", snap.AccountID, err)
	}
	for _, w := range rep.Warnings {
		log.Warn("credential report: " + w.Error())
	}
	if rep.AccountID != "" && rep.AccountID != snap.AccountID {
		log.Warn("credential report is of another account", "report_account", rep.AccountID)
	}
	snap.ReportGeneratedAt = aws.ToTime(out.GeneratedTime).UTC()
	snap.Root = rep.Root
	return rep, nil
}

// reads are the reads of a Snapshot that do not need the credential
// report, in flight together. Each runs under a context that the failure
// of a read before it in order cancels: only the first failure in order
// counts, as if they had run one after the other.
type reads struct {
	cancel context.CancelFunc // releases their contexts
	wg     sync.WaitGroup
	errs   []error // by read, in order

	details      map[string]types.UserDetail
	policy       *inventory.PasswordPolicy
	alias        string
	summary      *inventory.AccountSummary
	serviceCreds []types.ServiceSpecificCredentialMetadata
}

// startReads starts the authorization details, password policy, alias,
// account summary and service-specific credentials reads, in that order;
// wait for them with wait. A failed read cancels the reads after it, and
// cancelReport, the wait for the report, which comes last.
func (c *Collector) startReads(ctx context.Context, log *slog.Logger, cancelReport context.CancelFunc) *reads {
	r := &reads{}
	steps := []func(context.Context) error{
		func(ctx context.Context) (err error) { r.details, err = c.userDetails(ctx); return err },
		func(ctx context.Context) (err error) { r.policy, err = c.passwordPolicy(ctx); return err },
		func(ctx context.Context) (err error) { r.alias, err = c.accountAlias(ctx, log); return err },
		func(ctx context.Context) (err error) { r.summary, err = c.accountSummary(ctx); return err },
		func(ctx context.Context) (err error) { r.serviceCreds, err = c.serviceCredentials(ctx); return err },
	}
	r.errs = make([]error, len(steps))
	ctx, r.cancel = context.WithCancel(ctx)
	for i, step := range steps {
		// This read runs under stepCtx, the reads after it under next,
		// which its failure cancels.
		stepCtx := ctx
		next, cancelAfter := context.WithCancel(stepCtx)
		r.wg.Go(func() {
			if r.errs[i] = step(stepCtx); r.errs[i] != nil {
				cancelAfter()
				cancelReport()
			}
		})
		ctx = next
	}
	return r
}

// wait waits for the reads and releases their contexts.
func (r *reads) wait() {
	r.wg.Wait()
	r.cancel()
}

// firstError is the first failure in the reads' order; nil when all
// succeeded. Call it after wait.
func (r *reads) firstError() error {
	for _, err := range r.errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// credentialReport gets the credential report, looking again (with
// backoff) while IAM generates it and generating it again when it is
// missing or expired, within MaxWait and MaxReportCalls.
func (c *Collector) credentialReport(ctx context.Context, log *slog.Logger, begun *begun) (*iam.GetCredentialReportOutput, error) {
	maxWait := orDefault(c.MaxWait, DefaultMaxWait)
	ctx, cancel := context.WithTimeoutCause(ctx, maxWait, fmt.Errorf("credential report not ready after %s", maxWait))
	defer cancel()
	maxCalls := c.MaxReportCalls
	if maxCalls <= 0 {
		maxCalls = ReportCallCap(orDefault(c.PollInitial, DefaultPollInitial), orDefault(c.PollMax, DefaultPollMax), maxWait)
	}

	b := c.newBackoff()
	generate := !begun.accepted // Begin's request was not taken: ask again
	wait := !begun.complete     // a COMPLETE report is read at once
	// The first look at a report IAM began generating in Begin is the
	// schedule's first wait after Begin: at once when the accounts' first
	// pass took longer.
	since := time.Since(begun.at)
	calls, regenerations := 1, 0 // Begin's GenerateCredentialReport
	for {
		if calls >= maxCalls {
			return nil, fmt.Errorf("generate credential report: credential report not ready after %d GenerateCredentialReport and GetCredentialReport calls in %s, the most a scan makes per account; scan again in a few minutes",
				calls, time.Since(begun.at).Round(time.Millisecond))
		}
		if wait {
			if err := b.waitSince(ctx, since); err != nil {
				return nil, fmt.Errorf("generate credential report: %w", err)
			}
		}
		since = 0
		calls++
		if generate {
			out, err := c.IAM.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
			switch {
			case err == nil:
				log.Debug("credential report requested", "state", out.State)
				generate, wait = false, out.State != types.ReportStateTypeComplete
			case isLimitExceeded(err) || isNotReady(err):
				log.Debug("credential report generation throttled; backing off", "error", err)
				wait = true
			default:
				return nil, fmt.Errorf("generate credential report: %w", err)
			}
			continue
		}
		out, err := c.IAM.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
		switch {
		case err == nil:
			return out, nil
		case isNotReady(err):
			log.Debug("credential report in progress", "error", err)
			wait = true
		case isNotPresent(err) || isExpired(err):
			if regenerations >= maxRegenerations {
				return nil, fmt.Errorf("get credential report (generated %d times): %w", regenerations+1, err)
			}
			log.Debug("credential report missing or expired; generating it again", "error", err)
			regenerations++
			generate, wait = true, false
			b.reset()
		default:
			return nil, fmt.Errorf("get credential report: %w", err)
		}
	}
}

// userDetails reads every user's details with GetAccountAuthorizationDetails,
// by user name.
func (c *Collector) userDetails(ctx context.Context) (map[string]types.UserDetail, error) {
	details := map[string]types.UserDetail{}
	p := iam.NewGetAccountAuthorizationDetailsPaginator(c.IAM, &iam.GetAccountAuthorizationDetailsInput{
		Filter:   []types.EntityType{types.EntityTypeUser},
		MaxItems: aws.Int32(gaadPageSize),
	})
	for page := 1; p.HasMorePages(); page++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("get account authorization details (page %d): %w", page, err)
		}
		for _, d := range out.UserDetailList {
			details[aws.ToString(d.UserName)] = d
		}
	}
	return details, nil
}

// joinUserDetails adds each report user's tags, groups and path from its
// authorization details. Users no longer there were deleted since the
// report and are dropped; users created after it are not in the report
// and are ignored.
func joinUserDetails(log *slog.Logger, users []inventory.User, details map[string]types.UserDetail) []inventory.User {
	if len(users) == 0 {
		return nil
	}
	joined := make([]inventory.User, 0, len(users))
	for _, u := range users {
		d, ok := details[u.Name]
		if !ok {
			log.Debug("user in the credential report is gone (deleted since the report); dropping it", "user", u.Name)
			continue
		}
		if p := aws.ToString(d.Path); p != "" {
			u.Path = p
		}
		if u.Path == "" {
			u.Path = "/"
		}
		if len(d.Tags) > 0 {
			u.Tags = make(map[string]string, len(d.Tags))
			for _, t := range d.Tags {
				u.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
		}
		if len(d.GroupList) > 0 {
			u.Groups = slices.Sorted(slices.Values(d.GroupList))
		}
		joined = append(joined, u)
	}
	slices.SortFunc(joined, func(a, b inventory.User) int { return strings.Compare(a.Name, b.Name) })
	return joined
}

// accountAlias reads the account's first alias; "" when it has none, or
// when the alias may not be read (a warning: the scan goes on without it).
func (c *Collector) accountAlias(ctx context.Context, log *slog.Logger) (string, error) {
	out, err := c.IAM.ListAccountAliases(ctx, &iam.ListAccountAliasesInput{})
	switch {
	case awsapi.IsAccessDenied(err):
		log.Warn("cannot read the account alias; continuing without it", "error", err)
		return "", nil
	case err != nil:
		return "", fmt.Errorf("list account aliases: %w", err)
	case len(out.AccountAliases) > 0:
		return out.AccountAliases[0], nil
	}
	return "", nil
}

// passwordPolicy reads the account password policy; nil when the account
// has none.
func (c *Collector) passwordPolicy(ctx context.Context) (*inventory.PasswordPolicy, error) {
	out, err := c.IAM.GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	var noSuch *types.NoSuchEntityException
	switch {
	case errors.As(err, &noSuch):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get account password policy: %w", err)
	case out.PasswordPolicy == nil:
		return nil, nil
	}
	pp := &inventory.PasswordPolicy{
		HardExpiry:      aws.ToBool(out.PasswordPolicy.HardExpiry),
		MinimumLength:   int(aws.ToInt32(out.PasswordPolicy.MinimumPasswordLength)),
		ReusePrevention: int(aws.ToInt32(out.PasswordPolicy.PasswordReusePrevention)),
	}
	if age := aws.ToInt32(out.PasswordPolicy.MaxPasswordAge); age > 0 {
		pp.MaxPasswordAge = int(age)
	}
	return pp, nil
}

// orDefault returns v, or def when v is not positive.
func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// ReportCallCap is the most GenerateCredentialReport and
// GetCredentialReport calls a Snapshot can make within maxWait while IAM
// generates its report, with the looks at it on the backoff schedule from
// initial doubling to maxInterval: Begin's call, then one look for each
// time the schedule can reach before maxWait, every wait at its shortest
// (half its interval) and the first look at once (the time since Begin
// may have used up its wait).
func ReportCallCap(initial, maxInterval, maxWait time.Duration) int {
	b := newBackoff(initial, maxInterval)
	looks, at := 1, time.Duration(0) // the first look, at once
	b.next = min(2*b.next, b.max)
	for ; b.next < b.max; b.next = min(2*b.next, b.max) {
		if at += b.next / 2; at >= maxWait {
			return 1 + looks
		}
		looks++
	}
	// Every later wait is at least half of max: the looks at at + k × that
	// for k ≥ 1, before maxWait.
	if half := max(b.max/2, 1); at < maxWait {
		looks += int((maxWait - at - 1) / half)
	}
	return 1 + looks
}

// backoff is a context-aware exponential backoff with jitter.
type backoff struct {
	initial, max, next time.Duration
}

func (c *Collector) newBackoff() *backoff {
	return newBackoff(orDefault(c.PollInitial, DefaultPollInitial), orDefault(c.PollMax, DefaultPollMax))
}

func newBackoff(initial, maxInterval time.Duration) *backoff {
	b := &backoff{initial: initial, max: max(maxInterval, initial)}
	b.reset()
	return b
}

func (b *backoff) reset() { b.next = b.initial }

// skip moves the schedule on past elapsed, the time already spent waiting:
// the interval doubles (up to max) until it is longer than that.
func (b *backoff) skip(elapsed time.Duration) {
	for b.next < elapsed && b.next < b.max {
		b.next = min(2*b.next, b.max)
	}
}

// wait is the next wait, between half and all of the current interval
// (half of it plus jitter(half + 1), jitter(n) in [0, n)), and doubles
// the interval up to max.
func (b *backoff) wait(jitter func(time.Duration) time.Duration) time.Duration {
	d := b.next/2 + jitter(b.next/2+1)
	b.next = min(2*b.next, b.max)
	return d
}

// waitAfter is the next wait (wait), less elapsed, the time already
// spent since the last call (0 or less: look at once). The schedule then
// moves on past elapsed (skip): the waits after a long one are as long,
// so that a report IAM has been building for a while is not looked at
// every few milliseconds.
func (b *backoff) waitAfter(elapsed time.Duration, jitter func(time.Duration) time.Duration) time.Duration {
	d := b.wait(jitter) - elapsed
	b.skip(elapsed)
	return d
}

// waitSince sleeps for waitAfter(elapsed), between half and all of the
// current interval ("equal jitter") less elapsed; not at all when that
// has passed already. It returns early with the context's cause when ctx
// is done.
func (b *backoff) waitSince(ctx context.Context, elapsed time.Duration) error {
	d := b.waitAfter(elapsed, rand.N[time.Duration])
	if d <= 0 {
		return context.Cause(ctx)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

func isNotReady(err error) bool {
	var e *types.CredentialReportNotReadyException
	return errors.As(err, &e) || awsapi.ErrorCode(err) == "ReportInProgress"
}

func isNotPresent(err error) bool {
	var e *types.CredentialReportNotPresentException
	return errors.As(err, &e) || awsapi.ErrorCode(err) == "ReportNotPresent"
}

func isExpired(err error) bool {
	var e *types.CredentialReportExpiredException
	return errors.As(err, &e) || awsapi.ErrorCode(err) == "ReportExpired"
}

func isLimitExceeded(err error) bool {
	var le *types.LimitExceededException
	var rle *types.ReportGenerationLimitExceededException
	return errors.As(err, &le) || errors.As(err, &rle) || awsapi.ErrorCode(err) == "LimitExceeded"
}

// credentialErrorCodes are the codes AWS answers when the request's
// credentials are wrong, expired or missing.
var credentialErrorCodes = map[string]bool{
	"InvalidClientTokenId":        true,
	"SignatureDoesNotMatch":       true,
	"ExpiredToken":                true,
	"ExpiredTokenException":       true,
	"InvalidAccessKeyId":          true,
	"UnrecognizedClientException": true,
	"IncompleteSignature":         true,
	"MissingAuthenticationToken":  true,
	"AuthFailure":                 true,
	"InvalidToken":                true,
}

// isCredentialsError reports whether err says the credentials could not be
// found or were refused.
func isCredentialsError(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if code := awsapi.ErrorCode(err); code != "" {
		return credentialErrorCodes[code]
	}
	// The SDK's own failure to find credentials is a wrapped error
	// ("get identity: get credentials: failed to refresh cached
	// credentials, no EC2 IMDS role found, …").
	msg := err.Error()
	return strings.Contains(msg, "get identity") || strings.Contains(msg, "credentials")
}
