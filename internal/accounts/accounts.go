package accounts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/config"
)

// DefaultSessionName is the sts:AssumeRole session name keywarden uses
// unless accounts.session_name says otherwise: CloudTrail in each member
// account shows it as assumed-role/ROLE/keywarden.
const DefaultSessionName = "keywarden"

// RoleHint is what a failed AssumeRole tells the user to do next.
const RoleHint = "deploy the role to that account with a trust policy that lets the caller assume it, and read-only IAM permissions (see docs/configuration.md#accounts), or leave the account out with accounts.organization.exclude or --account"

// Target is one account to scan.
type Target struct {
	// ID is the 12-digit account ID; "" stands for the caller's account
	// when it has not been identified (the default, no accounts config).
	ID string
	// Name is the account's name in the organization ("" otherwise).
	Name string
	// RoleARN is the role assumed to read the account; "" means the
	// caller's own credentials are used.
	RoleARN    string
	ExternalID string
}

// Caller reports whether the target is read with the caller's credentials.
func (t Target) Caller() bool { return t.RoleARN == "" }

// Organizations is the part of the Organizations API discovery calls;
// *organizations.Client satisfies it.
type Organizations interface {
	organizations.ListAccountsAPIClient
	organizations.ListAccountsForParentAPIClient
	organizations.ListOrganizationalUnitsForParentAPIClient
}

// STS is the part of the STS API discovery calls (to learn the caller's
// account); *sts.Client satisfies it.
type STS interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

var (
	_ Organizations = (*organizations.Client)(nil)
	_ STS           = (*sts.Client)(nil)
)

// Deps are the clients discovery uses, built from the caller's
// configuration. Organizations is needed only for accounts.organization.
type Deps struct {
	Organizations Organizations
	STS           STS
	Logger        *slog.Logger // nil: discard
}

// Targets lists the accounts that cfg selects, sorted by account ID:
//   - neither organization nor list: the caller's account, unidentified
//     (one Target with an empty ID; no API call);
//   - list: the listed accounts as given;
//   - organization: the ACTIVE accounts of the organization (or of the
//     OUs named, children included), less the excluded ones; the
//     caller's own account (normally the management account) is read
//     with the caller's credentials, every other account through
//     role_name.
func Targets(ctx context.Context, cfg config.Accounts, d Deps) ([]Target, error) {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch {
	case cfg.Organization != nil:
		return organizationTargets(ctx, cfg, d, log)
	case len(cfg.List) > 0:
		ts := make([]Target, len(cfg.List))
		for i, a := range cfg.List {
			ts[i] = Target{ID: a.ID, RoleARN: a.RoleARN, ExternalID: a.ExternalID}
		}
		slices.SortFunc(ts, func(a, b Target) int { return cmp.Compare(a.ID, b.ID) })
		return ts, nil
	}
	return []Target{{}}, nil
}

// Caller identifies the caller (sts:GetCallerIdentity): its account, and
// the partition its ARN is in ("aws" when the ARN does not say), which
// role ARNs in other accounts are built in. want, when set, is the
// partition the config names (accounts.partition): credentials of another
// partition are an error (Partition).
func Caller(ctx context.Context, c STS, want string) (account, partition string, err error) {
	id, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", "", err
	}
	if partition, err = Partition(want, aws.ToString(id.Arn)); err != nil {
		return "", "", err
	}
	return aws.ToString(id.Account), partition, nil
}

func organizationTargets(ctx context.Context, cfg config.Accounts, d Deps, log *slog.Logger) ([]Target, error) {
	o := cfg.Organization
	caller, partition, err := Caller(ctx, d.STS, cfg.Partition)
	var wrong *PartitionError
	switch {
	case errors.As(err, &wrong):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("identify the caller's account: %w", err)
	}

	var accts []orgtypes.Account
	if len(o.OUs) == 0 {
		accts, err = ListAccounts(ctx, d.Organizations)
	} else {
		accts, err = ListAccountsUnder(ctx, d.Organizations, o.OUs)
	}
	if err != nil {
		return nil, organizationsError(err)
	}

	excluded := map[string]bool{}
	for _, x := range o.Exclude {
		excluded[x] = true
	}
	seen := map[string]bool{}
	var ts []Target
	for _, a := range accts {
		aid := aws.ToString(a.Id)
		switch {
		case seen[aid]:
			continue
		case !Active(a):
			log.Info("account not ACTIVE; not scanned", "account", aid, "state", accountState(a))
			continue
		case excluded[aid]:
			log.Info("account excluded by accounts.organization.exclude", "account", aid)
			seen[aid] = true
			continue
		}
		seen[aid] = true
		t := Target{ID: aid, Name: aws.ToString(a.Name)}
		if aid != caller {
			t.RoleARN = RoleARN(partition, aid, o.RoleName)
		}
		ts = append(ts, t)
	}
	for _, x := range o.Exclude {
		if !seen[x] {
			log.Warn("accounts.organization.exclude names an account that is not among the organization's ACTIVE accounts", "account", x)
		}
	}
	slices.SortFunc(ts, func(a, b Target) int { return cmp.Compare(a.ID, b.ID) })
	log.Debug("organization accounts", "caller_account", caller, "accounts", len(ts), "excluded", len(o.Exclude))
	return ts, nil
}

// Partition is the partition that role ARNs are built in: want
// (accounts.partition) when it is set, which the caller, whose ARN is
// callerARN, must be in; else the caller's (aws when callerARN is not an
// ARN).
func Partition(want, callerARN string) (string, error) {
	got := "aws"
	if a, err := arn.Parse(callerARN); err == nil {
		got = a.Partition
	}
	if want != "" && want != got {
		return "", &PartitionError{Want: want, Got: got, CallerARN: callerARN}
	}
	return cmp.Or(want, got), nil
}

// PartitionError is Partition's error: the credentials are of another
// partition than accounts.partition.
type PartitionError struct{ Want, Got, CallerARN string }

func (e *PartitionError) Error() string {
	return fmt.Sprintf("accounts.partition is %s, but the credentials are of partition %s (%s): "+
		"run keywarden with credentials of %s, or correct accounts.partition", e.Want, e.Got, e.CallerARN, e.Want)
}

// RoleARN is the ARN of role name in account.
func RoleARN(partition, account, name string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", cmp.Or(partition, "aws"), account, name)
}

// Active reports whether an organization account is ACTIVE (State, or the
// older Status where State is not filled in).
func Active(a orgtypes.Account) bool {
	return accountState(a) == string(orgtypes.AccountStateActive)
}

func accountState(a orgtypes.Account) string {
	return cmp.Or(string(a.State), string(a.Status))
}

// ListAccounts returns every account of the organization, all pages.
func ListAccounts(ctx context.Context, c organizations.ListAccountsAPIClient) ([]orgtypes.Account, error) {
	var out []orgtypes.Account
	p := organizations.NewListAccountsPaginator(c, &organizations.ListAccountsInput{})
	for page := 1; p.HasMorePages(); page++ {
		res, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the organization's accounts (page %d): %w", page, err)
		}
		out = append(out, res.Accounts...)
	}
	return out, nil
}

// ListAccountsUnder returns the accounts directly under each parent (an OU
// or a root) and under all their child OUs, recursively, all pages. An
// account reached twice is listed once.
func ListAccountsUnder(ctx context.Context, c Organizations, parents []string) ([]orgtypes.Account, error) {
	var out []orgtypes.Account
	seenOU := map[string]bool{}
	seenAcct := map[string]bool{}
	queue := slices.Clone(parents)
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		if seenOU[parent] {
			continue
		}
		seenOU[parent] = true

		ap := organizations.NewListAccountsForParentPaginator(c, &organizations.ListAccountsForParentInput{ParentId: aws.String(parent)})
		for ap.HasMorePages() {
			res, err := ap.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("list the accounts of %s: %w", parent, err)
			}
			for _, a := range res.Accounts {
				if id := aws.ToString(a.Id); !seenAcct[id] {
					seenAcct[id] = true
					out = append(out, a)
				}
			}
		}
		op := organizations.NewListOrganizationalUnitsForParentPaginator(c, &organizations.ListOrganizationalUnitsForParentInput{ParentId: aws.String(parent)})
		for op.HasMorePages() {
			res, err := op.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("list the organizational units under %s: %w", parent, err)
			}
			for _, ou := range res.OrganizationalUnits {
				queue = append(queue, aws.ToString(ou.Id))
			}
		}
	}
	return out, nil
}

// organizationsError adds what to do next to the errors a caller outside
// the management (or a delegated administrator) account gets.
func organizationsError(err error) error {
	switch code := awsapi.ErrorCode(err); {
	case code == "AWSOrganizationsNotInUseException":
		return fmt.Errorf("%w; the caller's account is not in an AWS Organization: list the accounts in accounts.list instead of accounts.organization", err)
	case awsapi.IsAccessDenied(err):
		return fmt.Errorf("%w; run keywarden in the organization's management account or a delegated administrator account, with organizations:ListAccounts (and, for accounts.organization.ous, organizations:ListAccountsForParent and organizations:ListOrganizationalUnitsForParent)", err)
	case code == "ParentNotFoundException":
		return fmt.Errorf("%w; check accounts.organization.ous: each must be an OU or root ID of this organization", err)
	}
	return err
}

// Config returns the configuration that reads t: base itself for the
// caller's account, else a copy whose credentials come from
// sts:AssumeRole into t.RoleARN (through stsClient, which should be built
// from the caller's configuration), cached and refreshed before they
// expire. Nothing is called until the credentials are first needed; Check
// asks for them at once.
func Config(base aws.Config, t Target, stsClient stscreds.AssumeRoleAPIClient, sessionName string) aws.Config {
	if t.Caller() {
		return base
	}
	cfg := base.Copy()
	provider := stscreds.NewAssumeRoleProvider(stsClient, t.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = cmp.Or(sessionName, DefaultSessionName)
		if t.ExternalID != "" {
			o.ExternalID = aws.String(t.ExternalID)
		}
	})
	cfg.Credentials = aws.NewCredentialsCache(provider)
	return cfg
}

// AssumeRoleError is a failed AssumeRole into a target account. Its
// message names the account and role and says what to do next.
type AssumeRoleError struct {
	Account, RoleARN string
	Err              error
}

func (e *AssumeRoleError) Error() string {
	hint := RoleHint
	switch {
	case awsapi.IsThrottled(e.Err):
		hint = "STS was still throttling AssumeRole after the retries: scan again later, or lower accounts.parallel"
	case awsapi.IsAttemptTimeout(e.Err):
		hint = "STS did not answer in time: check the network path to STS and scan again"
	}
	return fmt.Sprintf("assume role %s in account %s: %v; %s", e.RoleARN, e.Account, e.Err, hint)
}

// Unwrap returns the SDK's error.
func (e *AssumeRoleError) Unwrap() error { return e.Err }

// Check retrieves the target's credentials now (the AssumeRole call; for
// the caller's account there is nothing to check here), so that an
// account whose role is missing or does not trust the caller fails before
// anything else is asked of it.
func Check(ctx context.Context, cfg aws.Config, t Target) error {
	if t.Caller() {
		return nil
	}
	if cfg.Credentials == nil {
		return &AssumeRoleError{Account: t.ID, RoleARN: t.RoleARN, Err: errors.New("no credentials provider")}
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return &AssumeRoleError{Account: t.ID, RoleARN: t.RoleARN, Err: err}
	}
	return nil
}

// Select keeps the targets whose IDs are in ids (all when ids is empty).
// An ID that names no target is an error: a typo must not shrink a scan
// silently. The caller's unidentified account (an empty ID) is kept: the
// scan checks it once the account is known.
func Select(ts []Target, ids []string) ([]Target, error) {
	if len(ids) == 0 {
		return ts, nil
	}
	if len(ts) == 1 && ts[0].ID == "" {
		return ts, nil
	}
	known := map[string]bool{}
	for _, t := range ts {
		known[t.ID] = true
	}
	var missing []string
	for _, id := range ids {
		if !known[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("--account %s: not among the %d accounts the config selects; check accounts.list or accounts.organization (exclude, ous)", strings.Join(missing, ", "), len(ts))
	}
	var out []Target
	for _, t := range ts {
		if slices.Contains(ids, t.ID) {
			out = append(out, t)
		}
	}
	return out, nil
}
