package collect

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/inventory"
)

// accountSummary reads the root user's credentials as IAM sees them now
// (GetAccountSummary): the credential report may be up to four hours old.
func (c *Collector) accountSummary(ctx context.Context) (*inventory.AccountSummary, error) {
	out, err := c.IAM.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	if err != nil {
		return nil, fmt.Errorf("get account summary: %w", err)
	}
	m := out.SummaryMap
	return &inventory.AccountSummary{
		RootMFAEnabled:          m[string(types.SummaryKeyTypeAccountMFAEnabled)] > 0,
		RootAccessKeysPresent:   m[string(types.SummaryKeyTypeAccountAccessKeysPresent)] > 0,
		RootSigningCertsPresent: m[string(types.SummaryKeyTypeAccountSigningCertificatesPresent)] > 0,
	}, nil
}

// serviceCredentials lists every user's service-specific credentials
// (CodeCommit, Keyspaces, Bedrock API keys, …) with
// ListServiceSpecificCredentials(AllUsers=true), page by page with Marker:
// one call per serviceCredentialPageSize credentials, never one per user
// (awsapi.ServiceCredentialPages, which fails on a repeated marker).
func (c *Collector) serviceCredentials(ctx context.Context) ([]types.ServiceSpecificCredentialMetadata, error) {
	in := &iam.ListServiceSpecificCredentialsInput{
		AllUsers: aws.Bool(true),
		MaxItems: aws.Int32(cmp.Or(c.serviceCredentialPage, serviceCredentialPageSize)),
	}
	var creds []types.ServiceSpecificCredentialMetadata
	err := awsapi.ServiceCredentialPages(ctx, c.IAM, "list service-specific credentials", *in, func(out *iam.ListServiceSpecificCredentialsOutput) bool {
		creds = append(creds, out.ServiceSpecificCredentials...)
		return true
	})
	if err != nil {
		return nil, err
	}
	return creds, nil
}

// joinServiceCredentials gives each user its service-specific credentials,
// sorted by service, then creation (then ID). A credential of a user who is
// not among users (created after the credential report, or deleted since)
// is logged and ignored: the next report has the user.
func joinServiceCredentials(log *slog.Logger, users []inventory.User, creds []types.ServiceSpecificCredentialMetadata) {
	index := make(map[string]int, len(users))
	for i, u := range users {
		index[u.Name] = i
	}
	for _, m := range creds {
		name := aws.ToString(m.UserName)
		i, ok := index[name]
		if !ok {
			log.Debug("service-specific credential of a user not in the credential report; ignored until the next report",
				"user", name, "credential_id", aws.ToString(m.ServiceSpecificCredentialId), "service", aws.ToString(m.ServiceName))
			continue
		}
		users[i].ServiceCredentials = append(users[i].ServiceCredentials, inventory.ServiceCredential{
			ID:              aws.ToString(m.ServiceSpecificCredentialId),
			ServiceName:     aws.ToString(m.ServiceName),
			ServiceUserName: aws.ToString(m.ServiceUserName),
			Status:          string(m.Status),
			CreatedAt:       aws.ToTime(m.CreateDate).UTC(),
			ExpiresAt:       utcOrZero(m.ExpirationDate),
		})
	}
	for i := range users {
		slices.SortFunc(users[i].ServiceCredentials, func(a, b inventory.ServiceCredential) int {
			return cmp.Or(cmp.Compare(a.ServiceName, b.ServiceName), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
		})
	}
}

// readSSHKeys lists the SSH public keys of the users SSHKeyUsers selects,
// one ListSSHPublicKeys (paginated) each, up to KeyLookupLimit at once
// under the same adaptive limiter as the key lookups, and counts the calls
// in snap.SSHKeyCalls. A user deleted since the snapshot is skipped (its
// SSHKeysRead stays false).
func (c *Collector) readSSHKeys(ctx context.Context, log *slog.Logger, snap *inventory.Snapshot) error {
	if c.SSHKeyUsers == nil {
		return nil
	}
	var calls atomic.Int64
	var jobs []userJob
	for i := range snap.Users {
		if !c.SSHKeyUsers(&snap.Users[i]) {
			continue
		}
		jobs = append(jobs, userJob{snap.Users[i].Name, func(ctx context.Context, u *inventory.User, opt func(*iam.Options)) error {
			keys, err := c.listSSHKeys(ctx, u.Name, &calls, opt)
			if err != nil {
				return lookupError(log, err, "list SSH public keys", u.Name, snap.AccountID)
			}
			u.SSHKeys, u.SSHKeysRead = keys, true
			return nil
		}})
	}
	err := c.eachUser(ctx, log, snap, jobs)
	snap.SSHKeyCalls = int(calls.Load())
	return err
}

// listSSHKeys lists user's SSH public keys, oldest first (then by ID),
// adding each call to calls.
func (c *Collector) listSSHKeys(ctx context.Context, user string, calls *atomic.Int64, optFns ...func(*iam.Options)) ([]inventory.SSHKey, error) {
	var keys []inventory.SSHKey
	p := iam.NewListSSHPublicKeysPaginator(c.IAM, &iam.ListSSHPublicKeysInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		calls.Add(1)
		out, err := p.NextPage(ctx, optFns...)
		if err != nil {
			return nil, err
		}
		for _, k := range out.SSHPublicKeys {
			keys = append(keys, inventory.SSHKey{
				ID:         aws.ToString(k.SSHPublicKeyId),
				Active:     k.Status == types.StatusTypeActive,
				UploadedAt: aws.ToTime(k.UploadDate).UTC(),
			})
		}
	}
	slices.SortFunc(keys, func(a, b inventory.SSHKey) int {
		return cmp.Or(a.UploadedAt.Compare(b.UploadedAt), cmp.Compare(a.ID, b.ID))
	})
	return keys, nil
}

// utcOrZero is *t in UTC, or the zero time when t is nil.
func utcOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
