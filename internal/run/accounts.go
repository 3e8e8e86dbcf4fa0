package run

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keywarden/keywarden/internal/accounts"
	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/collect"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/report"
)

// Progress is told how a live scan advances. Its methods are called from
// the scan's workers, concurrently: implementations must be safe for
// concurrent use.
type Progress interface {
	// Start is called once, with the number of accounts to scan.
	Start(accounts int)
	// AccountDone is called once per account, when it has been scanned
	// (users: its IAM users) or has failed (err set).
	AccountDone(accountID string, users int, err error)
	// Finish is called once, when every account is done.
	Finish()
}

// IAMReadPermissions are the IAM actions a scan needs in every account.
const IAMReadPermissions = "iam:GenerateCredentialReport, iam:GetCredentialReport, iam:GetAccountAuthorizationDetails, iam:GetAccountPasswordPolicy, iam:ListAccountAliases, " +
	"iam:GetAccountSummary, iam:ListServiceSpecificCredentials, iam:ListAccessKeys and iam:ListSigningCertificates (and iam:ListSSHPublicKeys with rules.ssh_key_age)"

// accountScan is one account's scan, from its target to its findings or
// its error.
type accountScan struct {
	target     accounts.Target
	id         string // known after Begin
	keyLookups int    // the collector's KeyLookupParallel
	cfg        aws.Config
	counter    *awsapi.Counter
	collector  *collect.Collector
	snap       *inventory.Snapshot
	findings   []policy.Finding
	err        error
}

// scanLive scans every account the config selects: the caller's own (the
// default), a list, or the organization's. Accounts are scanned
// accounts.parallel at a time, in two passes: the first checks each
// account's credentials (AssumeRole) and starts its credential report, the
// second waits for the reports and reads and evaluates each account. So
// IAM builds every report at once, and a slow account never holds up the
// others' reports. An account that fails in either pass is reported with
// status error and its message; the others complete.
func scanLive(ctx context.Context, o ScanOptions) (*report.Report, error) {
	base, err := o.LoadAWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	ac := o.Config.Accounts
	base = awsapi.WithRetries(base, ac.MaxAttempts)
	parallel := max(ac.Parallel, 1)
	// Every client of the scan, in every account, shares one HTTP client
	// and its pool of idle connections, sized for the key lookups of the
	// accounts read at once.
	keyLookups := collect.DefaultKeyLookupParallel
	base.HTTPClient = collect.ScanHTTPClient(base.HTTPClient, parallel*keyLookups)
	// Calls made by the caller for discovery and AssumeRole are counted
	// apart from every account's own (accounts[].api_calls).
	callerCounter := awsapi.NewCounter()
	callerCfg := callerCounter.Instrument(base)
	targets, err := accounts.Targets(ctx, ac, accounts.Deps{
		Organizations: organizations.NewFromConfig(callerCfg),
		STS:           sts.NewFromConfig(callerCfg),
		Logger:        o.Logger,
	})
	if err != nil {
		return nil, err
	}
	if targets, err = accounts.Select(targets, o.Accounts); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAccountNotSelected, err)
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("%w: the organization has no ACTIVE account left after accounts.organization.exclude", ErrAccountNotSelected)
	}
	// The caller's account alone (no accounts config) fails the scan as a
	// whole: there are no other accounts to complete.
	single := len(targets) == 1 && targets[0].ID == ""

	scans := make([]*accountScan, len(targets))
	for i, t := range targets {
		scans[i] = &accountScan{target: t, id: t.ID, keyLookups: keyLookups}
	}
	assumer := sts.NewFromConfig(callerCfg)
	if o.Progress != nil {
		o.Progress.Start(len(scans))
	}
	done := func(a *accountScan) {
		if o.Progress != nil {
			users := 0
			if a.snap != nil {
				users = len(a.snap.Users)
			}
			o.Progress.AccountDone(a.id, users, a.err)
		}
	}
	forEach(scans, parallel, func(a *accountScan) {
		a.begin(ctx, o, base, assumer)
		if a.err != nil {
			done(a)
		}
	})
	forEach(scans, parallel, func(a *accountScan) {
		if a.err == nil {
			a.collect(ctx, o)
			done(a)
		}
	})
	if o.Progress != nil {
		o.Progress.Finish()
	}
	// The work deadline (the Lambda handler's margin) cuts the scan short
	// but not the run: the accounts it did not finish are reported as not
	// reached. Any other end of ctx (an interrupt) ends the scan.
	deadline := errors.Is(context.Cause(ctx), ErrWorkDeadline)
	if err := context.Cause(ctx); err != nil && !deadline {
		return nil, err
	}
	o.Logger.Debug("caller API calls (discovery, AssumeRole)", "api_calls", callerCounter.Total(), "by_operation", callerCounter.ByOperation())

	if single && scans[0].err != nil && !deadline {
		return nil, scans[0].err
	}
	var (
		summaries []report.Account
		findings  []policy.Finding
		snaps     []*inventory.Snapshot
	)
	for _, a := range scans {
		if a.err != nil && deadline {
			a.err = fmt.Errorf("%w (it is scanned again on the next run): %w", ErrWorkDeadline, a.err)
		}
		if a.err != nil {
			o.Logger.Warn("account could not be scanned; the others are reported", "account", a.id, "error", a.err)
			summaries = append(summaries, report.Account{ID: a.id, Status: report.StatusError, Error: a.err.Error(), APICalls: a.counter.Total()})
			continue
		}
		summaries = append(summaries, accountSummary(a.snap, a.counter.Total()))
		findings = append(findings, a.findings...)
		snaps = append(snaps, a.snap)
	}
	// After every account is done, one at a time, in account ID order.
	if o.OnAccount != nil {
		for _, a := range scans {
			if a.err == nil {
				o.OnAccount(a.id, a.cfg)
			}
		}
	}
	return finish(report.New(o.Now, o.AsOf, summaries, findings), o, snaps...), nil
}

// forEach runs f on every item, at most n at once, and waits for them.
func forEach[T any](items []T, n int, f func(T)) {
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, it := range items {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(it)
		})
	}
	wg.Wait()
}

// begin builds the account's configuration (AssumeRole credentials for a
// member account, its own call counter), proves the credentials, and
// starts its credential report.
func (a *accountScan) begin(ctx context.Context, o ScanOptions, base aws.Config, assumer *sts.Client) {
	a.counter = awsapi.NewCounter()
	// One token bucket for all the account's clients (the scan's, and the
	// remediation's through OnAccount): IAM limits each account's rate.
	a.cfg = a.counter.Instrument(awsapi.NewAccountPacer().Pace(accounts.Config(base, a.target, assumer, o.Config.Accounts.SessionName)))
	if err := accounts.Check(ctx, a.cfg, a.target); err != nil {
		a.fail(err)
		return
	}
	a.collector = &collect.Collector{
		IAM:               iam.NewFromConfig(a.cfg),
		STS:               sts.NewFromConfig(a.cfg),
		Logger:            o.Logger,
		KeyLookupParallel: a.keyLookups,
		SSHKeyUsers:       policy.SSHKeyUsers(o.Config),
	}
	id, err := a.collector.Begin(ctx)
	if a.id == "" {
		a.id = id
	}
	switch {
	case err != nil:
		a.fail(err)
	case a.target.ID == "":
		a.id = id
		if err := checkSelected(id, o.Accounts); err != nil {
			a.err = err
		}
	case id != a.target.ID:
		a.fail(fmt.Errorf("the credentials used for it belong to account %s; give accounts.list[].role_arn for a role in account %s", id, a.target.ID))
	}
}

// collect waits for the account's credential report, reads the account,
// evaluates it and resolves the access key and signing certificate IDs of
// the users with findings about them.
func (a *accountScan) collect(ctx context.Context, o ScanOptions) {
	defer func() { a.collector = nil }()
	snap, err := a.collector.Snapshot(ctx)
	if err != nil {
		a.fail(err)
		return
	}
	findings := policy.Evaluate(snap, o.Config, o.AsOf)
	lookups := collect.IDLookups{
		AccessKeys:   usersWithFindings(findings, policy.CredentialAccessKey),
		SigningCerts: usersWithFindings(findings, policy.CredentialSigningCert),
	}
	if err := a.collector.ResolveIDs(ctx, snap, lookups); err != nil {
		a.fail(err)
		return
	}
	fillKeyIDs(findings, snap)
	a.snap, a.findings = snap, findings
	o.Logger.Debug("account scanned", "account", a.id, "users", len(snap.Users), "findings", len(findings),
		"api_calls", a.counter.Total(), "by_operation", a.counter.ByOperation())
}

// fail records err as the account's error, naming the account and saying
// what to do next for the failures that have a known remedy.
func (a *accountScan) fail(err error) {
	var are *accounts.AssumeRoleError
	var ce *collect.CredentialsError
	var maxAttempts *retry.MaxAttemptsError
	switch {
	case errors.As(err, &are):
		a.err = err // names the account and the role, and what to do
		return
	case a.id == "" || errors.As(err, &ce):
		// The caller's unidentified account: the error says what to do.
		a.err = err
		return
	case awsapi.IsAccessDenied(err):
		err = fmt.Errorf("%w; grant the role keywarden uses in account %s %s", err, a.id, IAMReadPermissions)
	case errors.As(err, &maxAttempts) && awsapi.IsThrottled(err):
		err = fmt.Errorf("%w; still throttled after %d attempts: raise accounts.max_attempts or lower accounts.parallel", err, maxAttempts.Attempt)
	case awsapi.IsThrottled(err):
		err = fmt.Errorf("%w; throttled: raise accounts.max_attempts or lower accounts.parallel", err)
	case awsapi.IsAttemptTimeout(err):
		err = fmt.Errorf("%w; AWS did not answer in time: check the network path to AWS (proxy, VPC endpoint) and scan again", err)
	}
	a.err = fmt.Errorf("account %s: %w", a.id, err)
}
