package remediate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/policy"
)

// current is a key-like credential as a re-check reads it.
type current struct {
	// Status is Active, Inactive, or (a service-specific credential past
	// its expiration) Expired.
	Status  types.StatusType
	Created time.Time
	// LastUsed is an access key's last use (zero: never, or another kind).
	LastUsed time.Time
}

// active reports whether the credential is Active. Not active is not
// "disabled": only Inactive is; Expired is IAM's (expiredMeanwhile).
func (c *current) active() bool { return c.Status == types.StatusTypeActive }

// credKind is how the executor reads and changes one kind of key-like
// credential: access keys, signing certificates, service-specific
// credentials. Each is disabled (Inactive), deleted after the grace
// period, and re-enabled by undo, the same way.
type credKind struct {
	// noun names the kind ("access key"), short in a sentence about one
	// ("the key").
	noun, short string
	// gone is why a credential that no longer exists may have gone.
	gone string
	// created says "created" or "uploaded", source where the plan's
	// creation time came from, and replaced what another time means.
	created, source, replaced string
	read                      func(ctx context.Context, r Reader, user, id string) (*current, error)
	setStatus                 func(ctx context.Context, w Writer, user, id string, st types.StatusType) error
	remove                    func(ctx context.Context, w Writer, user, id string) error
	// recreate is what the owner does instead of an undo of a delete.
	recreate string
}

// kindOf is the kind of a key-like credential, nil for any other.
func kindOf(credential string) *credKind {
	switch credential {
	case policy.CredentialAccessKey:
		return &accessKeys
	case policy.CredentialSigningCert:
		return &signingCerts
	case policy.CredentialServiceCredential:
		return &serviceCreds
	}
	return nil
}

var accessKeys = credKind{noun: "access key", short: "key", gone: "rotated or deleted since the credential report",
	created: "created", source: "the credential report", replaced: "rotated",
	read: func(ctx context.Context, r Reader, user, id string) (*current, error) {
		key, used, err := recheckKey(ctx, r, user, id)
		if err != nil || key == nil {
			return nil, err
		}
		return &current{Status: key.Status, Created: aws.ToTime(key.CreateDate), LastUsed: used}, nil
	},
	setStatus: func(ctx context.Context, w Writer, user, id string, st types.StatusType) error {
		_, err := w.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id), Status: st})
		return err
	},
	remove: func(ctx context.Context, w Writer, user, id string) error {
		_, err := w.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id)})
		return err
	},
	recreate: "a deleted key cannot be restored; the owner creates a new key (aws iam create-access-key --user-name %s)",
}

var signingCerts = credKind{noun: "signing certificate", short: "certificate", gone: "replaced or deleted since the credential report",
	created: "uploaded", source: "the credential report", replaced: "replaced",
	read: func(ctx context.Context, r Reader, user, id string) (*current, error) {
		p := iam.NewListSigningCertificatesPaginator(r, &iam.ListSigningCertificatesInput{UserName: aws.String(user)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			var noSuch *types.NoSuchEntityException
			if errors.As(err, &noSuch) {
				return nil, nil
			}
			if err != nil {
				return nil, fmt.Errorf("re-check the signing certificates of %s: %w", user, err)
			}
			for _, c := range out.Certificates {
				if aws.ToString(c.CertificateId) == id {
					return &current{Status: c.Status, Created: aws.ToTime(c.UploadDate)}, nil
				}
			}
		}
		return nil, nil
	},
	setStatus: func(ctx context.Context, w Writer, user, id string, st types.StatusType) error {
		_, err := w.UpdateSigningCertificate(ctx, &iam.UpdateSigningCertificateInput{UserName: aws.String(user), CertificateId: aws.String(id), Status: st})
		return err
	},
	remove: func(ctx context.Context, w Writer, user, id string) error {
		_, err := w.DeleteSigningCertificate(ctx, &iam.DeleteSigningCertificateInput{UserName: aws.String(user), CertificateId: aws.String(id)})
		return err
	},
	recreate: "a deleted certificate cannot be restored; the owner uploads a new one (aws iam upload-signing-certificate --user-name %s --certificate-body file://certificate.pem)",
}

var serviceCreds = credKind{noun: "service-specific credential", short: "credential", gone: "deleted since the scan",
	created: "created", source: "the scan", replaced: "replaced",
	read: func(ctx context.Context, r Reader, user, id string) (*current, error) {
		var cur *current
		err := awsapi.ServiceCredentialPages(ctx, r, "re-check the service-specific credentials of "+user,
			iam.ListServiceSpecificCredentialsInput{UserName: aws.String(user)}, func(out *iam.ListServiceSpecificCredentialsOutput) bool {
				for _, c := range out.ServiceSpecificCredentials {
					if aws.ToString(c.ServiceSpecificCredentialId) == id {
						cur = &current{Status: c.Status, Created: aws.ToTime(c.CreateDate)}
						return false
					}
				}
				return true
			})
		var noSuch *types.NoSuchEntityException
		if errors.As(err, &noSuch) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return cur, nil
	},
	setStatus: func(ctx context.Context, w Writer, user, id string, st types.StatusType) error {
		_, err := w.UpdateServiceSpecificCredential(ctx, &iam.UpdateServiceSpecificCredentialInput{UserName: aws.String(user),
			ServiceSpecificCredentialId: aws.String(id), Status: st})
		return err
	},
	remove: func(ctx context.Context, w Writer, user, id string) error {
		_, err := w.DeleteServiceSpecificCredential(ctx, &iam.DeleteServiceSpecificCredentialInput{UserName: aws.String(user),
			ServiceSpecificCredentialId: aws.String(id)})
		return err
	},
	recreate: "a deleted credential cannot be restored; the owner creates a new one (aws iam create-service-specific-credential --user-name %s --service-name SERVICE)",
}
